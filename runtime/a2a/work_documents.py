"""The documents an agent asks a validator to check (ERC-8004 `validationRequest`'s `requestURI`),
served by its A2A server and fetched by the validator.

    GET /validations/{request_hash}     the JSON document whose keccak256 over its canonical JSON is
                                        request_hash (written by the asking agent); 404 otherwise

The hash binds the document: a validator checks it before it scores anything
(runtime/services/validator.py), so the server is not trusted for its content. Anyone who knows the
hash — it is on-chain — may read the document: only ask for validation of work whose input and output
may be public.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity.untrusted_json import loads_untrusted
from runtime.secrets import write_private

__all__ = ["DOCUMENTS_PATH", "MAX_DOCUMENT_BYTES", "DocumentError", "document_routes", "fetch_document",
           "keep_document"]  # fmt: skip

DOCUMENTS_PATH = "/validations/{request_hash}"
MAX_DOCUMENT_BYTES = 1024 * 1024
_HASH = re.compile(r"^0x[0-9a-f]{64}$")


class DocumentError(Exception):
    """A validation document that cannot be fetched or read (one line)."""


def keep_document(folder: Path, request_hash: str, document: Any) -> Path:
    """Write `document` (0600) where `document_routes(folder)` serves it; its path."""
    if not _HASH.match(request_hash):
        raise ValueError(f"{request_hash[:80]!r} is not a request hash (0x + 64 lowercase hex)")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{request_hash}.json"
    write_private(path, json.dumps(document, separators=(",", ":"), ensure_ascii=False))
    return path


def document_routes(folder: Path | None) -> list[Route]:
    """The route serving the documents kept in `folder` (none without a folder)."""
    if folder is None:
        return []

    async def serve(request: Request) -> Response:
        request_hash = str(request.path_params.get("request_hash", "")).lower()
        path = folder / f"{request_hash}.json"
        if not _HASH.match(request_hash) or not path.is_file():
            return JSONResponse(
                {"error": f"no validation document {request_hash[:80]} here"}, status_code=404
            )
        return Response(path.read_bytes(), media_type="application/json")

    return [Route(DOCUMENTS_PATH, serve, methods=["GET"])]


async def fetch_document(uri: str, *, timeout: float = 10.0) -> Any:  # noqa: ASYNC109 - passed on to httpx
    """GET the JSON at `uri` (http or https), at most MAX_DOCUMENT_BYTES, parsed as untrusted JSON."""
    if not uri.startswith(("http://", "https://")):
        raise DocumentError(
            f"request URI {uri[:80]!r} is not http(s): Sova fetches validation documents over HTTP"
        )
    body = bytearray()
    try:
        async with httpx.AsyncClient(timeout=timeout) as client, client.stream("GET", uri) as response:
            if response.status_code != 200:
                raise DocumentError(f"{uri[:120]} answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise DocumentError(f"{uri[:120]} is over {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise DocumentError(f"cannot fetch {uri[:120]}: {type(exc).__name__} {exc}") from None
    try:
        return loads_untrusted(bytes(body))
    except (ValueError, RecursionError):
        raise DocumentError(f"{uri[:120]} is not JSON") from None
