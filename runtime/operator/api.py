"""The operator API of one agent process: a Starlette app on 127.0.0.1, behind the fleet's bearer token.

    GET  /v1/status  /v1/ledger  /v1/ledger/verify  /v1/budgets  /v1/negotiations  /v1/deals
    GET  /v1/approvals       POST /v1/approvals/{id or number}/approve|reject   (operator-signed)
    POST /v1/pause  /v1/resume  /v1/chat  /v1/buy          GET /v1/events (SSE)   GET /openapi.json  /docs

`TokenGuard` wraps the whole app, so every request, to any path (unknown ones too), needs
`Authorization: Bearer <token>` before a route runs; without it the answer is 401 with
`WWW-Authenticate: Bearer`. The token is read from that header only: no cookie, no query parameter.
The server never binds anything but loopback (`OperatorServer` takes a socket from `listen`), is
separate from the A2A server (peers must not reach it), and leaves signal handling to the agent
process (unlike the A2A server's uvicorn, it does not capture SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import html
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.operator.events import events
from runtime.operator.facts import OperatorBackend
from runtime.operator.routes import answers, error, routes
from runtime.operator.token import token_matches

API_VERSION = "1"
SHUTDOWN_GRACE = 2.0


class TokenGuard:
    """ASGI middleware: HTTP requests without `Authorization: Bearer <token>` get 401, whatever the path."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if len(token) < 32:
            raise ValueError("the operator token is too short")
        self.app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if not token_matches(self._token, header):
            why = "missing" if header is None else "wrong"
            message = (
                f"{why} operator token: send `Authorization: Bearer <token>` "
                "(the token is in <sova home>/operator.token)"
            )
            body = json.dumps({"error": message}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="sova-operator"'),
                (b"cache-control", b"no-store"),
            ]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def schema_generator() -> SchemaGenerator:
    return SchemaGenerator(
        {
            "openapi": "3.0.3",
            "info": {"title": "Sova agent operator API", "version": API_VERSION},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        }
    )


@answers
async def openapi(request: Request) -> Response:
    """
    summary: "This API's OpenAPI 3 description (JSON)."
    responses:
      200: {description: the OpenAPI document}
    """
    return JSONResponse(schema_generator().get_schema(routes=request.app.routes))


@answers
async def docs(request: Request) -> Response:
    """
    summary: "This API as a plain HTML page (no scripts)."
    responses:
      200: {description: text/html}
    """
    schema = schema_generator().get_schema(routes=request.app.routes)
    rows = []
    for path, methods in sorted(schema["paths"].items()):
        for method, spec in methods.items():
            summary = html.escape(str(spec.get("summary", "")))
            cells = (method.upper(), f"<code>{html.escape(path)}</code>", summary)
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    page = (
        "<!doctype html><meta charset=utf-8><title>Sova operator API</title>"
        "<h1>Sova agent operator API</h1><p>Every route needs "
        "<code>Authorization: Bearer &lt;token&gt;</code> (<code>.sova/operator.token</code>). "
        "Machine-readable: <code>/openapi.json</code>.</p>"
        "<table border=1 cellpadding=4><tr><th>method</th><th>path</th><th>what</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'"})


def all_routes() -> list[BaseRoute]:
    """Every route of the operator API (the JSON ones, events, openapi, docs)."""
    return [
        *routes(),
        Route("/v1/events", events, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(404, f"no route {request.url.path[:100]}: see /openapi.json")
    if exc.status_code == 405:
        return error(405, f"{request.method} is not allowed on {request.url.path[:100]}: see /openapi.json")
    return error(exc.status_code, str(exc.detail))


def create_app(backend: OperatorBackend, token: str, chat: Any = None, purchaser: Any = None) -> ASGIApp:
    """The operator app of one agent behind TokenGuard. `chat` answers `/v1/chat` (default: an
    OperatorChat over `backend`); `purchaser` (runtime/operator/purchase.py) answers `/v1/buy`."""
    if chat is None:
        from runtime.operator.chat import OperatorChat

        chat = OperatorChat(backend)
    app = Starlette(routes=all_routes(), exception_handlers={HTTPException: _http_error})
    app.state.backend = backend
    app.state.chat = chat
    app.state.purchaser = purchaser
    app.state.closing = asyncio.Event()
    return TokenGuard(app, token)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the agent process owns SIGINT/SIGTERM."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class OperatorServer:
    """Serves an operator app on a socket from `runtime.a2a.server.listen("127.0.0.1", port)`."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        host = sock.getsockname()[0]
        if host != "127.0.0.1":
            raise ValueError(f"the operator API serves on 127.0.0.1 only, not {host}")
        self.app = app
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._sock = sock
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", ws="none",  # plain HTTP only
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
        )  # fmt: skip
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> OperatorServer:
        """Serve; returns once the socket accepts connections."""
        from runtime.a2a.server import serve_started

        self._task = await serve_started(self._server, self._sock, "the operator API")
        return self

    async def stop(self) -> None:
        """End open event streams, stop serving, close the socket."""
        if self._task is None:
            self._sock.close()
            return
        inner = getattr(self.app, "app", None)
        closing = getattr(getattr(inner, "state", None), "closing", None)
        if isinstance(closing, asyncio.Event):
            closing.set()
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._task = None
            self._sock.close()
