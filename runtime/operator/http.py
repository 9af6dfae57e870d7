"""What every operator API route shares: one-line JSON refusals, the `answers` wrapper that keeps
tracebacks out of answers, and bounded JSON and query parsing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from identity.untrusted_json import loads_untrusted
from runtime.operator.facts import OperatorBackend, OperatorRefusal

__all__ = ["MAX_BODY", "Handler", "answers", "backend_of", "error", "int_param", "read_json"]

log = logging.getLogger("runtime.operator.routes")

MAX_BODY = 64 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, message: str) -> JSONResponse:
    """A refusal: `{"error": message}` with `status`."""
    return JSONResponse({"error": message}, status_code=status)


def backend_of(request: Request) -> OperatorBackend:
    backend: OperatorBackend = request.app.state.backend
    return backend


def answers(handler: Handler) -> Handler:
    """Turn OperatorRefusal into its status and anything unexpected into a 500, each as one JSON line."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OperatorRefusal as exc:
            return error(exc.status, str(exc))
        except Exception as exc:
            log.exception("operator API %s %s failed", request.method, request.url.path)
            return error(500, f"the agent could not answer ({type(exc).__name__}: {exc})")

    wrapped.__doc__ = handler.__doc__
    wrapped.__name__ = handler.__name__
    return wrapped


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); OperatorRefusal 400/413 when it is not one."""
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise OperatorRefusal(413, f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = loads_untrusted(raw)  # nesting bounded, lone surrogates refused: see identity.untrusted_json
    except ValueError as exc:
        raise OperatorRefusal(400, f"the body is not JSON ({exc}): send a JSON object") from None
    if not isinstance(body, dict):
        raise OperatorRefusal(400, "the body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int) -> int:
    """An integer query parameter; OperatorRefusal 400 when it is not one."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise OperatorRefusal(
            400, f"query parameter `{name}` must be an integer, not {value[:40]!r}"
        ) from None
