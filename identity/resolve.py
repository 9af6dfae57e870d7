"""DID resolution: did:key, did:pkh, did:ethr and did:jwk offline (didkit), did:web over HTTPS (httpx).

did:ethr is synthesised from the address by didkit; it does not read an ERC-1056 registry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import httpx

from identity import didkit_bridge
from identity.dids import parse_did
from identity.errors import DidResolutionError, MalformedDid, UnsupportedDidMethod

OFFLINE_METHODS = ("key", "pkh", "ethr", "jwk")
SUPPORTED_METHODS = (*OFFLINE_METHODS, "web")
DEFAULT_TIMEOUT = 5.0
_MAX_DOCUMENT = 256 * 1024


async def resolve_did(
    did: str, *, http_timeout: float = DEFAULT_TIMEOUT, http_client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """The DID document of `did`.

    MalformedDid for something that is not a DID (or a bad method-specific id), UnsupportedDidMethod for
    other methods, DidResolutionError when a did:web host cannot be reached or serves no valid document.
    `http_client` (did:web only) brings the caller's TLS settings; `http_timeout` bounds the request.
    """
    method, _ = parse_did(did)
    if method not in SUPPORTED_METHODS:
        raise UnsupportedDidMethod(
            f"unsupported DID method {method!r}: Sova resolves did:key, did:pkh, did:ethr, did:jwk and"
            " did:web",
            method=method,
        )
    if method == "web":
        return await _resolve_web(did, http_timeout, http_client)
    try:
        document: dict[str, Any] = json.loads(await didkit_bridge.resolve(did))
    except didkit_bridge.DidkitError as exc:
        raise MalformedDid(
            f"malformed did:{method} {did[:80]!r}: didkit cannot resolve it ({exc}); check the DID for a typo"
        ) from None
    return document


def did_web_url(did: str) -> str:
    """The HTTPS URL of a did:web document (`/.well-known/did.json` when the DID has no path)."""
    method, msid = parse_did(did)
    if method != "web":
        raise MalformedDid(f"{did[:80]!r} is not a did:web")
    host, *path = msid.split(":")
    host = unquote(host)
    name, _, port = host.partition(":")
    if not name or any(c in name for c in "/@?#% ") or (port and not port.isdigit()):
        raise MalformedDid(f"malformed did:web {did[:80]!r}: the first part must be a host (port as %3A)")
    if any(not p or "/" in unquote(p) for p in path):
        raise MalformedDid(f"malformed did:web {did[:80]!r}: empty or invalid path segment")
    suffix = "/".join(unquote(p) for p in path) + "/did.json" if path else ".well-known/did.json"
    return f"https://{host}/{suffix}"


async def _resolve_web(did: str, seconds: float, client: httpx.AsyncClient | None) -> dict[str, Any]:
    url = did_web_url(did)
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as own:
                response = await own.get(url, timeout=seconds)
        else:
            response = await client.get(url, timeout=seconds)
    except httpx.HTTPError as exc:
        raise DidResolutionError(
            f"cannot resolve {did}: {url} is unreachable ({_describe(exc)}); check that the host serves its"
            " DID document over HTTPS"
        ) from None
    if response.status_code != 200:
        raise DidResolutionError(
            f"cannot resolve {did}: {url} answered HTTP {response.status_code}; it must serve the document"
        )
    if len(response.content) > _MAX_DOCUMENT:
        raise DidResolutionError(f"cannot resolve {did}: {url} serves more than 256 KiB")
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise DidResolutionError(f"cannot resolve {did}: {url} does not serve a JSON DID document")
    if document.get("id") != did:
        raise DidResolutionError(
            f"cannot resolve {did}: the document at {url} is for {str(document.get('id'))[:80]!r}, not it"
        )
    return document


def _describe(exc: Exception) -> str:
    text = str(exc)[:80]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
