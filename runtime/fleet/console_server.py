"""The operator console: one web page and a JSON API over the fleet, served by `sova up`.

`GET /` and `/static/...` are the page (no data in it, no token needed). Everything under `/api/`
needs `Authorization: Bearer <fleet token>` and answers 401 otherwise; no cookie is ever set, so a
foreign page the operator visits cannot act for them (it has no token and cannot read ours). The
page reads the token from the URL fragment `#token=…` (which browsers never send to a server) into
sessionStorage. Every response carries a strict Content-Security-Policy (scripts from this origin
only) as a second wall behind the page's rule of showing peer strings with textContent only.

API (see OPERATOR_CONTRACT): `GET /api/agents`; `POST /api/agents/{name}/pause|resume|chat`;
`POST /api/agents/{name}/approvals/{id}/approve|reject` (signed here with the operator key);
`GET /api/agents/{name}/events` (the agent's SSE stream, passed through); any other
`/api/agents/{name}/{rest}` is proxied to the agent's `/v1/{rest}` with the token.

`ConsoleThread` runs the app with uvicorn on its own thread and event loop inside the supervisor.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from identity.untrusted_json import loads_untrusted
from runtime.errors import SovaError
from runtime.fleet.console_fleet import ConsoleError, ConsoleFleet
from runtime.fleet.console_thread import (
    ConsoleThread,
    bind_socket,
    console_url,
    is_loopback,
    loopback_warning,
)
from runtime.operator.client import OperatorApiError
from runtime.operator.token import token_matches

STATIC = Path(__file__).with_name("console")
MAX_BODY = 64 * 1024
SAFE_REST = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConsoleGuard:
    """ASGI middleware: the token check on `/api/`, and the security headers on every answer."""

    def __init__(self, app: App, token: str) -> None:
        self.app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        path = str(scope.get("path", ""))
        if path == "/api" or path.startswith("/api/"):
            header = next(
                (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"), None
            )
            if not token_matches(self._token, header):
                reply = JSONResponse(
                    {
                        "error": "missing or wrong operator token: send 'Authorization: Bearer <token>' "
                        "with the token from .sova/operator.token (or the link `sova up` printed)"
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await reply(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _failure(exc: Exception) -> JSONResponse:
    if isinstance(exc, ConsoleError | OperatorApiError):
        return _error(str(exc), exc.status)
    return _error(str(exc), 400)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ConsoleError(f"request body over {MAX_BODY // 1024} KiB", 413)
    if not raw.strip():
        return {}
    try:
        body = loads_untrusted(raw)  # nesting bounded, lone surrogates refused: see identity.untrusted_json
    except ValueError:
        raise ConsoleError("the request body is not JSON: send a JSON object", 400) from None
    if not isinstance(body, dict):
        raise ConsoleError("the request body must be a JSON object", 400)
    return body


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ConsoleError(f"{key!r} must be a string", 400)
    return value[:2000]


async def _events(fleet: ConsoleFleet, request: Request) -> Response:
    """An agent's live ledger stream, relayed (HEAD: the headers only)."""
    try:
        client = fleet.client(request.path_params["name"])
        if request.method == "HEAD":  # headers only: a relayed stream would never end
            return Response(media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
        upstream = await client.open_stream("/v1/events", dict(request.query_params))
    except (SovaError, OperatorApiError) as exc:
        return _failure(exc)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except Exception:  # the agent went away: end the stream, the page reconnects
            return
        finally:
            await upstream.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


async def _proxy(fleet: ConsoleFleet, request: Request) -> Response:
    """Any other operator API read or action of one agent, passed on as it is."""
    name, rest = request.path_params["name"], request.path_params["rest"]
    if not SAFE_REST.match(rest) or ".." in rest:
        return _error(f"not an operator API path: {rest!r}", 404)
    # HEAD is asked upstream as GET: the agent's HEAD answer has no JSON body to pass on (that
    # was a 502), and the server sends the headers of this JSON answer without its body.
    method = "GET" if request.method == "HEAD" else request.method
    try:
        body = await _json_body(request) if method == "POST" else None
        status, answer = await fleet.client(name).request(
            method, f"/v1/{rest}", json_body=body, params=dict(request.query_params)
        )
    except (SovaError, OperatorApiError) as exc:
        return _failure(exc)
    return JSONResponse(answer, status_code=status)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


def build_app(fleet: ConsoleFleet, token: str) -> App:
    """The console's ASGI app over `fleet`, guarded by `token`."""

    async def agents(request: Request) -> Response:
        return JSONResponse({"agents": await fleet.agents()})

    async def pause(request: Request) -> Response:
        try:
            body = await _json_body(request)
            reason = _text(body, "reason").strip() or "paused by the operator"
            return JSONResponse(await fleet.pause(request.path_params["name"], reason))
        except (SovaError, OperatorApiError) as exc:
            return _failure(exc)

    async def resume(request: Request) -> Response:
        try:
            return JSONResponse(await fleet.resume(request.path_params["name"]))
        except (SovaError, OperatorApiError) as exc:
            return _failure(exc)

    async def decide(request: Request) -> Response:
        p = request.path_params
        try:
            body = await _json_body(request)
            status, answer = await fleet.decide(p["name"], p["ref"], p["decision"], _text(body, "reason"))
        except (SovaError, OperatorApiError) as exc:
            return _failure(exc)
        return JSONResponse(answer, status_code=status)

    async def chat(request: Request) -> Response:
        try:
            body = await _json_body(request)
            text = _text(body, "text").strip()
            if not text:
                raise ConsoleError("nothing to say: send {'text': 'help'}", 400)
            return JSONResponse({"reply": await fleet.chat(request.path_params["name"], text)})
        except (SovaError, OperatorApiError) as exc:
            return _failure(exc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await fleet.close()

    routes = [
        Route("/", _index),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/api/agents", agents),
        Route("/api/agents/{name}/pause", pause, methods=["POST"]),
        Route("/api/agents/{name}/resume", resume, methods=["POST"]),
        Route("/api/agents/{name}/chat", chat, methods=["POST"]),
        Route("/api/agents/{name}/events", partial(_events, fleet)),
        Route("/api/agents/{name}/approvals/{ref}/{decision}", decide, methods=["POST"]),
        Route("/api/agents/{name}/{rest:path}", partial(_proxy, fleet), methods=["GET", "POST"]),
    ]
    return ConsoleGuard(Starlette(routes=routes, lifespan=lifespan), token)


__all__ = ["ConsoleThread", "bind_socket", "build_app", "console_url", "is_loopback", "loopback_warning"]
