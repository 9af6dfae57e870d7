"""`GET /v1/events`: new ledger entries as Server-Sent Events.

One `event: ledger` per entry (`id:` its seq, `data:` {seq, ts, kind, data, hash}), in seq order,
from `?after=SEQ` (or a `Last-Event-ID` header, so a reconnecting EventSource resumes where it left
off; default: the current head, i.e. only new entries), and a `: keep-alive` comment every
KEEPALIVE seconds so proxies and the client notice a dead connection.

Decision: the stream polls the ledger's head (`Ledger.last()`, a lock-free attribute read) every
POLL seconds rather than hooking the ledger's writer: the ledger stays unaware of its readers, a
slow client cannot hold up an append, and 0.2 s is well below what a person watching notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runtime.operator.facts import OperatorBackend, OperatorRefusal, entry_json
from runtime.operator.routes import answers, error

POLL = 0.2
KEEPALIVE = 10.0
BATCH = 200


@answers
async def events(request: Request) -> Response:
    """
    summary: "New ledger entries as Server-Sent Events (`event: ledger`), with keep-alive comments."
    parameters:
      - {name: after, in: query, schema: {type: integer, minimum: 0}, description: replay entries after this seq}
    responses:
      200: {description: "text/event-stream"}
      400: {description: bad after}
    """  # noqa: E501
    backend: OperatorBackend = request.app.state.backend
    raw = request.query_params.get("after") or request.headers.get("last-event-id")
    if raw is None:
        after = backend.ledger.last().seq
    else:
        try:
            after = int(raw)
        except ValueError:
            return error(400, f"`after` must be an integer seq, not {raw[:40]!r}")
    if after < 0:
        raise OperatorRefusal(400, "`after` must be ≥ 0")
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":
        # Headers only: a stream answering HEAD would never end, its body dropped, holding the
        # connection (and a polling task) until the agent stops.
        return Response(media_type="text/event-stream", headers=headers)
    closing: asyncio.Event = request.app.state.closing
    return StreamingResponse(
        _stream(backend, after, closing), media_type="text/event-stream", headers=headers
    )


async def _stream(backend: OperatorBackend, after: int, closing: asyncio.Event) -> AsyncIterator[str]:
    ledger = backend.ledger
    yield ": sova ledger events\n\n"
    quiet_since = time.monotonic()
    while not closing.is_set():
        head = ledger.last().seq
        if head > after:
            entries = await asyncio.to_thread(ledger.entries, after + 1, min(head, after + BATCH))
            if not entries:  # nothing readable there (cannot happen in an append-only file): skip on
                after = head
            for entry in entries:
                data = json.dumps(entry_json(entry), separators=(",", ":"))
                yield f"id: {entry.seq}\nevent: ledger\ndata: {data}\n\n"
                after = entry.seq
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= KEEPALIVE:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        # wake at once when the server shuts down, else poll again
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), POLL)
