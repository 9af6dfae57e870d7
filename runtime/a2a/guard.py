"""The A2A endpoint's guard: bad HTTP input gets a JSON-RPC error before anything parses the body.

`BodyGuard` answers a JSON-RPC error (HTTP 200, as a2a-sdk's own errors go out), never a 500, to: a body
over `max_body` (checked from Content-Length, and while reading a chunked one), a Content-Type other
than JSON (HTTP 415 and -32005 ContentTypeNotSupported), a body that is not UTF-8, JSON nested deeper
than MAX_DEPTH levels, a string holding a lone surrogate escape (`"\\ud800"`), a request a2a-sdk would
get wrong (runtime/a2a/precheck.py: -32602), and any exception that escapes the app. (a2a-sdk alone
answers "internal error" to the non-UTF-8 and deep-nesting cases, and HTTP 500 to a lone surrogate in
the request `id`, which Starlette cannot encode when it echoes the id back.)
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from identity.untrusted_json import lone_surrogate, too_deep
from runtime.a2a.precheck import request_problem

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_DEPTH = 64
_JSON_TYPES = ("application/json", "application/a2a+json")


class BodyGuard:
    """ASGI middleware: JSON-RPC errors for oversized, non-JSON, too deeply nested bodies and for crashes."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if ctype not in _JSON_TYPES:
            why = f"Content type not supported: send application/json, not {ctype[:60] or 'none'}"
            await _error(send, -32005, why, status=415)
            return
        declared = headers.get(b"content-length", b"0").decode("latin-1")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _error(send, -32600, f"Payload too large: the limit is {self.max_body} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                return
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _error(send, -32600, f"Payload too large: the limit is {self.max_body} bytes")
                return
            chunks.append(chunk)
            if not event.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await _error(send, -32700, "Parse error: the body is not UTF-8 JSON")
            return
        if _too_deep(body):
            await _error(send, -32600, f"Invalid Request: JSON nested deeper than {MAX_DEPTH} levels")
            return
        if lone_surrogate(body):
            await _error(
                send,
                -32600,
                "Invalid Request: a string holds a lone surrogate (\\ud800-\\udfff): not Unicode text",
            )
            return
        problem = request_problem(body)
        if problem is not None:
            await _error(send, -32602, problem[1], rid=problem[0])
            return
        await self._forward(scope, body, receive, send)

    async def _forward(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        started = False
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay, watch)
        except Exception:
            log.exception("the A2A endpoint failed")
            if not started:
                await _error(send, -32603, "Internal error: the agent could not process the request")


def _too_deep(body: bytes) -> bool:
    return too_deep(body, MAX_DEPTH)


async def _error(send: Send, code: int, message: str, *, status: int = 200, rid: object = None) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
