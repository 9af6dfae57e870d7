"""The agent's ERC-8004 registration file: built from its profile, signed by its DID key, served at its
agent URI (`/.well-known/agent-registration.json`), and checked by a reader against the registry.

The file has ERC-8004's `registration-v1` shape (type, name, description, services[], x402Support,
active, registrations[], supportedTrust). `services` lists only names other ERC-8004 readers know
(`A2A` with the card URL and the Sova services as `a2aSkills`, `DID`, `wallet`), so that a reader that
refuses unknown names (agent0-sdk does) still loads it.

Signed, so a reader can tell it is the agent's own: `signatures` holds one JWS with a detached payload,
protected header `{"alg": "EdDSA", "kid": <DID URL>, "typ": "JOSE"}`, over the RFC 8785 (JCS) bytes of
the file without `signatures` — the scheme of the agent card. `verify_registration` accepts a file only
when it is signed by the DID the registry holds for the agent (metadata `did`) and its registrations
name that very registry and agent id: a file served by someone else, copied from another agent, or
edited, is refused in one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx
from cryptography.exceptions import InvalidSignature
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from identity.dids import public_key_from_did_key, split_did_url
from identity.errors import DidError
from identity.jcs import canonicalize
from identity.keys import IdentityKey, b64url, b64url_decode
from identity.untrusted_json import loads_untrusted
from runtime.a2a.card import AgentProfile
from runtime.errors import SovaError

__all__ = [
    "REGISTRATION_PATH",
    "REGISTRATION_TYPE",
    "InvalidRegistration",
    "fetch_registration",
    "registration_file",
    "registration_routes",
    "sign_registration",
    "signed_registration",
    "verify_registration",
]

REGISTRATION_TYPE: Final = "https://eips.ethereum.org/EIPS/eip-8004#registration-v1"
REGISTRATION_PATH: Final = "/.well-known/agent-registration.json"
"""Where the file is served; also the agent URI the agent registers (wallet.contracts.registration_uri)."""
A2A_CARD_PATH: Final = "/.well-known/agent-card.json"
MAX_REGISTRATION_BYTES: Final = 256 * 1024


class InvalidRegistration(SovaError):
    """A registration file that cannot be fetched, or is not the one the registry points at. `reason`:
    unreachable, malformed, unsigned, bad_signature, not_registered."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def registration_file(
    profile: AgentProfile, *, x402_support: bool = False, trust: Sequence[str] = ("reputation",)
) -> dict[str, Any]:
    """The unsigned ERC-8004 registration file of `profile` (registrations[] only once it has an id)."""
    base = profile.url.rstrip("/")
    skills = [spec.name for spec in profile.services] or list(profile.service_tags)
    services: list[dict[str, Any]] = [
        {"name": "A2A", "endpoint": base + A2A_CARD_PATH, "version": "1.0", "a2aSkills": skills},
        {"name": "DID", "endpoint": profile.did, "version": "v1"},
    ]
    if profile.wallet:
        services.append({"name": "wallet", "endpoint": f"eip155:{profile.chain_id}:{profile.wallet}"})
    registrations = []
    if profile.agent_id and profile.registry:
        registrations.append(
            {
                "agentId": int(profile.agent_id),
                "agentRegistry": f"eip155:{profile.chain_id}:{profile.registry}",
            }
        )
    return {
        "type": REGISTRATION_TYPE,
        "name": profile.name,
        "description": profile.description,
        "services": services,
        "x402Support": x402_support,
        "active": True,
        "registrations": registrations,
        "supportedTrust": list(trust),
    }


def _payload(document: Mapping[str, Any]) -> bytes:
    return canonicalize({k: v for k, v in document.items() if k != "signatures"})


def sign_registration(document: Mapping[str, Any], key: IdentityKey) -> dict[str, Any]:
    """`document` with its `signatures` set to one JWS by `key` (detached payload, see the module doc)."""
    header = b64url(canonicalize({"alg": "EdDSA", "kid": key.verification_method, "typ": "JOSE"}))
    signing_input = f"{header}.{b64url(_payload(document))}".encode("ascii")
    return {**document, "signatures": [{"protected": header, "signature": b64url(key.sign(signing_input))}]}


def signed_registration(profile: AgentProfile, key: IdentityKey, **options: Any) -> dict[str, Any]:
    """The registration file of `profile`, signed by `key`. ValueError when `key` is not its DID."""
    if key.did != profile.did:
        raise ValueError(f"the registration names {profile.did}, but the key is {key.did}")
    return sign_registration(registration_file(profile, **options), key)


def verify_registration(
    document: Any, *, did: str, chain_id: int, registry: str, agent_id: int
) -> dict[str, Any]:
    """Check that `document` is the registration file of agent `agent_id` in `registry` on `chain_id`,
    signed by `did` (the DID the registry holds for it). Returns it; raises InvalidRegistration."""
    if not isinstance(document, dict) or document.get("type") != REGISTRATION_TYPE:
        raise InvalidRegistration(
            f"not an ERC-8004 registration file (its type must be {REGISTRATION_TYPE})", reason="malformed"
        )
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise InvalidRegistration(
            f"the registration file of agent {agent_id} is not signed", reason="unsigned"
        )
    try:
        payload = b64url(_payload(document))
    except (ValueError, TypeError) as exc:
        raise InvalidRegistration(
            f"the registration file cannot be canonicalized: {exc}", reason="malformed"
        ) from None
    if not any(_signature_ok(sig, did, payload) for sig in signatures):
        raise InvalidRegistration(
            f"no signature on the registration file of agent {agent_id} is by {did[:60]} (the DID the "
            "registry holds): forged, altered or another agent's",
            reason="bad_signature",
        )
    wanted = f"eip155:{chain_id}:{registry}".lower()
    entries = document.get("registrations")
    listed = isinstance(entries, list) and any(
        isinstance(e, dict)
        and str(e.get("agentRegistry", "")).lower() == wanted
        and e.get("agentId") == agent_id
        for e in entries
    )
    if not listed:
        raise InvalidRegistration(
            f"the registration file does not list agent {agent_id} of {wanted} in its registrations: it is "
            "not the file this registry entry points at",
            reason="not_registered",
        )
    return document


def _signature_ok(sig: Any, did: str, payload: str) -> bool:
    if not isinstance(sig, dict):
        return False
    protected, signature = sig.get("protected"), sig.get("signature")
    if not isinstance(protected, str) or not isinstance(signature, str):
        return False
    try:
        header = loads_untrusted(b64url_decode(protected))
        if not isinstance(header, dict) or header.get("alg") != "EdDSA" or "crit" in header:
            return False
        kid_did, fragment = split_did_url(str(header.get("kid", "")))
        if kid_did != did or fragment != did.removeprefix("did:key:"):
            return False
        public_key_from_did_key(did).verify(
            b64url_decode(signature), f"{protected}.{payload}".encode("ascii")
        )
    except (ValueError, DidError, InvalidSignature, UnicodeError):
        return False
    return True


async def fetch_registration(
    agent_uri: str,
    *,
    http: httpx.AsyncClient | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed on to httpx
) -> Any:
    """GET the JSON at `agent_uri` (http or https), at most 256 KiB, parsed as untrusted JSON."""
    if not agent_uri.startswith(("http://", "https://")):
        raise InvalidRegistration(
            f"agent URI {agent_uri[:80]!r} is not http(s): Sova reads registration files over HTTP",
            reason="unreachable",
        )
    client = http or httpx.AsyncClient(timeout=timeout)
    body = bytearray()
    try:
        async with client.stream("GET", agent_uri, timeout=timeout) as response:
            if response.status_code != 200:
                raise InvalidRegistration(
                    f"{agent_uri} answered HTTP {response.status_code}", reason="unreachable"
                )
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_REGISTRATION_BYTES:
                    raise InvalidRegistration(
                        f"{agent_uri} is over {MAX_REGISTRATION_BYTES} bytes", reason="malformed"
                    )
    except httpx.HTTPError as exc:
        raise InvalidRegistration(
            f"cannot fetch {agent_uri}: {type(exc).__name__} {exc}", reason="unreachable"
        ) from None
    finally:
        if http is None:
            await client.aclose()
    try:
        return loads_untrusted(body)
    except (ValueError, RecursionError):
        raise InvalidRegistration(f"{agent_uri} is not JSON", reason="malformed") from None


def registration_routes(document: Mapping[str, Any] | None) -> list[Route]:
    """The route serving `document` at REGISTRATION_PATH (none when there is no document)."""
    if document is None:
        return []
    frozen = dict(document)

    async def registration(request: Request) -> JSONResponse:
        return JSONResponse(frozen)

    return [Route(REGISTRATION_PATH, registration, methods=["GET"])]
