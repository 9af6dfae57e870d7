"""The agent's A2A 1.0 server: a2a-sdk's JSON-RPC and agent-card routes on Starlette, served by uvicorn.

    GET  /.well-known/agent-card.json   the signed card (runtime/a2a/card.py)
    GET  /.well-known/agent-registration.json   the signed ERC-8004 registration file (registration.py)
    POST <rpc_path>                     JSON-RPC 2.0: A2A 1.0 methods (`SendMessage`, `GetTask`, …; header
                                        `A2A-Version: 1.0`) and the v0.3 ones (`message/send`, …)

A negotiation message is a `SendMessage` whose message holds one data part `{"sova_envelope": JWS}` (and
lists the negotiation extension in `extensions`); the answer is a message whose parts are
`{"sova_status": "accepted"}` and one `{"sova_envelope": JWS}` per reply — as the status message of the
deal's Task when the thread holds a purchase (runtime/a2a/rpc.py has the methods, runtime/a2a/tasks.py
the Task rules). A message with data parts but no valid envelope is refused with a JSON-RPC error
(-32602, `sova_reason` in the error's ErrorInfo metadata) and a `rejected` ledger entry. A message with
text only, from a client that does not speak Sova, gets a polite text answer naming the extension.

The card is served as A2A 1.0 JSON only (no v0.3 `url` / `preferredTransport` beside it: every field a
client routes by is inside the signed content), integers as integers, with `Cache-Control` and an ETag.

Every request goes through `BodyGuard` (runtime/a2a/guard.py) before anything parses its body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import uvicorn
from a2a.server.routes import create_jsonrpc_routes
from a2a.types import a2a_pb2 as a2a
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped, unused-ignore]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from identity.keys import IdentityKey
from runtime.a2a.admission import Admission
from runtime.a2a.card import AgentProfile, signed_card
from runtime.a2a.guard import MAX_BODY, BodyGuard
from runtime.a2a.protocol import Negotiator
from runtime.a2a.registration import registration_routes, signed_registration
from runtime.a2a.rpc import SovaRequestHandler

__all__ = ["AgentServer", "SovaRequestHandler", "card_json", "create_app", "listen", "serve_started"]

CARD_CACHE = "public, max-age=60"
"""How long a client may keep the card: a minute (the card changes only when the agent restarts)."""


def create_app(
    negotiator: Negotiator,
    card: a2a.AgentCard,
    *,
    rpc_path: str = "/",
    max_body: int = MAX_BODY,
    registration: Mapping[str, Any] | None = None,
    admission: Admission | None = None,
    routes: Sequence[Route] = (),
) -> ASGIApp:
    """The ASGI app of one agent: the signed card, the ERC-8004 registration file (when given) and the
    JSON-RPC endpoint behind BodyGuard (`admission`: runtime/a2a/admission.py, checked before the
    negotiator takes a message); `routes`: more GET routes (runtime/a2a/work_documents.py)."""
    handler = SovaRequestHandler(negotiator, admission)
    served = [
        card_route(card),
        *registration_routes(registration),
        *routes,
        *create_jsonrpc_routes(handler, rpc_url=rpc_path, enable_v0_3_compat=True),
    ]
    return BodyGuard(Starlette(routes=served), max_body=max_body)


def card_json(card: a2a.AgentCard) -> dict[str, Any]:
    """The card as served: its A2A 1.0 JSON, whole numbers as integers (protobuf's Struct holds every
    number as a double; JCS writes 31337.0 as 31337, so the signature covers the same bytes)."""
    return _whole(MessageToDict(card))  # type: ignore[no-any-return]


def card_route(card: a2a.AgentCard) -> Route:
    """GET /.well-known/agent-card.json: the card, `Cache-Control`, a strong ETag, 304 on a match."""
    body = json.dumps(card_json(card), separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"Cache-Control": CARD_CACHE, "ETag": etag}

    async def serve(request: Request) -> Response:
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return Route(AGENT_CARD_WELL_KNOWN_PATH, serve, methods=["GET"])


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


class AgentServer:
    """One agent's A2A server on uvicorn, in this event loop, on a socket from `listen` (so the card can
    name the port before serving). `await start()` returns once it listens; `await stop()` ends it.

    While it serves in the main thread, uvicorn takes SIGINT/SIGTERM: the first stops the server
    gracefully, then uvicorn restores the previous handlers and raises the signal again."""

    def __init__(
        self,
        negotiator: Negotiator,
        key: IdentityKey,
        profile: AgentProfile,
        *,
        sock: socket.socket,
        max_body: int = MAX_BODY,
        admission: Admission | None = None,
        routes: Sequence[Route] = (),
    ) -> None:
        self.negotiator = negotiator
        self.profile = profile
        self.card = signed_card(profile, key)
        self.registration = signed_registration(profile, key)
        self.app = create_app(
            negotiator,
            self.card,
            rpc_path=profile.rpc_path,
            max_body=max_body,
            registration=self.registration,
            admission=admission,
            routes=routes,
        )
        self._sock = sock
        # ws="none": A2A is plain HTTP, and not loading the websockets library saves ~0.1 s of start.
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL (the card is at url + /.well-known/agent-card.json)."""
        return self.profile.url

    async def start(self) -> AgentServer:
        """Serve; returns once the socket accepts connections. Raises RuntimeError if uvicorn fails."""
        self._task = await serve_started(self._server, self._sock, "the A2A server")
        return self

    async def stop(self) -> None:
        """Stop serving (open requests finish first)."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None


async def serve_started(server: uvicorn.Server, sock: socket.socket, what: str) -> asyncio.Task[None]:
    """Serve `server` on `sock` in a task, returned once the socket accepts connections; RuntimeError
    (naming `what`) when uvicorn stops while starting."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"{what} stopped while starting")
        await asyncio.sleep(0.005)
    return task


def listen(host: str = "127.0.0.1", port: int = 0) -> tuple[socket.socket, str]:
    """A listening TCP socket on host:port (0: any free port), and its base URL http://host:port."""
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it Nagle + delayed ACKs add ~40 ms to every answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock, f"http://{host}:{sock.getsockname()[1]}"
