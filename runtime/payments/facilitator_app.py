"""The facilitator's HTTP face (Starlette): `GET /supported`, `POST /verify`, `POST /settle`.

Bodies are read up to `MAX_BODY` and parsed as untrusted JSON; a request that is not an x402 v2
facilitator request gets `400 {"error": one line}`, never a 500. A payment that fails the checks is a
`200` with `isValid: false` / `success: false` and the reason, as the protocol has it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity.untrusted_json import loads_untrusted
from runtime.payments.errors import BadPaymentHeader
from runtime.payments.wire import FacilitatorRequest, parse_object

if TYPE_CHECKING:
    from runtime.payments.facilitator import Facilitator

__all__ = ["MAX_BODY", "facilitator_app", "read_body"]

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class TooLarge(Exception):
    """The body passed the limit."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused past `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _request(request: Request) -> FacilitatorRequest | JSONResponse:
    try:
        raw = await read_body(request)
    except TooLarge:
        return _error(413, f"the body is over {MAX_BODY} bytes")
    try:
        data = loads_untrusted(raw)
    except ValueError as exc:
        return _error(400, f"the body is not JSON ({exc}): send the x402 facilitator request object")
    try:
        return parse_object("the request", data, FacilitatorRequest)
    except BadPaymentHeader as exc:
        return _error(400, str(exc))


def facilitator_app(facilitator: Facilitator) -> Starlette:
    """The Starlette app serving `facilitator`."""

    async def supported(request: Request) -> Response:
        return JSONResponse(facilitator.supported())

    async def verify(request: Request) -> Response:
        req = await _request(request)
        if isinstance(req, JSONResponse):
            return req
        try:
            answer = await facilitator.verify(req)
        except Exception as exc:  # the chain is down, say: an answer, never a 500
            log.exception("verify failed")
            return _error(503, f"the facilitator cannot verify now ({type(exc).__name__}): try again later")
        return JSONResponse(answer.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def settle(request: Request) -> Response:
        req = await _request(request)
        if isinstance(req, JSONResponse):
            return req
        try:
            answer = await facilitator.settle(req)
        except Exception as exc:
            log.exception("settle failed")
            return _error(503, f"the facilitator cannot settle now ({type(exc).__name__}): try again later")
        return JSONResponse(answer.model_dump(mode="json", by_alias=True, exclude_none=True))

    return Starlette(
        routes=[
            Route("/supported", supported, methods=["GET"]),
            Route("/verify", verify, methods=["POST"]),
            Route("/settle", settle, methods=["POST"]),
        ]
    )
