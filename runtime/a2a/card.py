"""The agent card: an A2A 1.0 `AgentCard`, signed by the identity key, and its client-side check.

The card carries two Sova extensions in `capabilities.extensions`:

    https://sova.dev/ext/identity/v1      {did, wallet, chainId, registry, agentId}
    https://sova.dev/ext/negotiation/v1   {envelope, dataKey, messageTypes, tokens, serviceTags, services,
                                           tasks (how a caller shows its DID: runtime/a2a/caller.py)}

and one signature in `signatures` (A2A 1.0 §8.4): a JWS with a detached payload, protected header
`{"alg": "EdDSA", "typ": "JOSE", "kid": "did:key:z…#z…"}`, over the RFC 8785 (JCS) canonical JSON of the
card without `signatures` and with empty values removed — the very bytes a2a-sdk's
`a2a.utils.signing.create_signature_verifier` checks, so any A2A verifier that resolves did:key accepts it.

`verify_card` accepts a card only when a signature verifies against the key of the DID the card names.
Whether that DID, the wallet and the endpoint belong together is the registry's word (chain/registry.py):
this module only exposes the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from a2a.client.card_resolver import parse_agent_card
from a2a.types import a2a_pb2 as a2a
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from cryptography.exceptions import InvalidSignature
from google.protobuf.json_format import (  # type: ignore[import-untyped, unused-ignore]
    MessageToDict,
    ParseError,
)

from identity.dids import public_key_from_did_key, split_did_url
from identity.errors import DidError
from identity.jcs import canonicalize
from identity.keys import IdentityKey, b64url, b64url_decode
from identity.untrusted_json import loads_untrusted
from runtime.a2a.card_services import ServiceSpec, read_services, service_skills, services_param
from runtime.a2a.threads import MESSAGE_TYPES
from runtime.errors import SovaError

IDENTITY_EXTENSION: Final = "https://sova.dev/ext/identity/v1"
NEGOTIATION_EXTENSION: Final = "https://sova.dev/ext/negotiation/v1"
ENVELOPE_KEY: Final = "sova_envelope"
"""The key of the data part that holds a signed envelope: `{"sova_envelope": "<compact JWS>"}`."""
MAX_CARD_BYTES: Final = 256 * 1024


class InvalidCard(SovaError):
    """A card that cannot be fetched, parsed or verified. `reason`: unreachable, malformed, unsigned,
    bad_signature."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AgentProfile:
    """What an agent's card says about it. `url` is the base URL the A2A server listens on."""

    name: str
    url: str
    did: str
    wallet: str
    chain_id: int = 31337
    registry: str = ""
    agent_id: str = ""
    description: str = "A Sova agent: negotiates and settles deals with signed A2A messages."
    tokens: tuple[str, ...] = ()
    service_tags: tuple[str, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    version: str = "0.1.0"
    rpc_path: str = "/"


@dataclass(frozen=True)
class VerifiedCard:
    """A card whose signature verified against the key of its own `did`."""

    name: str
    did: str
    wallet: str
    chain_id: int
    registry: str
    agent_id: str
    endpoint: str
    """The JSON-RPC (A2A 1.0) URL to send messages to."""
    message_types: tuple[str, ...]
    tokens: tuple[str, ...]
    service_tags: tuple[str, ...]
    card: a2a.AgentCard
    services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    """The services the card lists, by name (runtime/a2a/card_services.py)."""


def build_card(profile: AgentProfile) -> a2a.AgentCard:
    """The unsigned card of `profile`."""
    endpoint = profile.url.rstrip("/") + profile.rpc_path
    identity = {
        "did": profile.did, "wallet": profile.wallet, "chainId": profile.chain_id,
        "registry": profile.registry, "agentId": profile.agent_id,
    }  # fmt: skip
    negotiation = {
        "envelope": "compact JWS (EdDSA) over JCS {type, thid, from, to, iat, exp, nonce, body}",
        "dataKey": ENVELOPE_KEY,
        "messageTypes": list(MESSAGE_TYPES),
        "tokens": list(profile.tokens),
        "serviceTags": list(profile.service_tags),
        "services": services_param(profile.services),
        "tasks": "a purchase is a Task; GetTask, ListTasks, CancelTask show the caller's own, with "
        "`Authorization: Bearer <envelope of type a2a_caller to this DID>`, one per request",
    }
    return a2a.AgentCard(
        name=profile.name,
        description=profile.description,
        version=profile.version,
        supported_interfaces=[  # one endpoint, A2A 1.0 first; v0.3 (`message/send`) answered too
            a2a.AgentInterface(url=endpoint, protocol_binding="JSONRPC", protocol_version="1.0"),
            a2a.AgentInterface(url=endpoint, protocol_binding="JSONRPC", protocol_version="0.3"),
        ],
        capabilities=a2a.AgentCapabilities(
            streaming=False,
            push_notifications=False,
            extensions=[
                a2a.AgentExtension(uri=IDENTITY_EXTENSION, description="DID and wallet", params=identity),
                a2a.AgentExtension(
                    uri=NEGOTIATION_EXTENSION,
                    description="Sova negotiation: signed envelopes in data parts",
                    params=negotiation,
                ),
            ],
        ),
        default_input_modes=["application/json", "text/plain"],
        default_output_modes=["application/json", "text/plain"],
        skills=[
            a2a.AgentSkill(
                id="sova-negotiation",
                name="Negotiate and settle deals",
                description="Alternating offers over signed envelopes, settled in an on-chain escrow.",
                tags=["sova", "negotiation", *profile.service_tags],
                input_modes=["application/json"],
                output_modes=["application/json"],
            ),
            *service_skills(profile.services),
        ],
    )


def card_signing_payload(card: a2a.AgentCard) -> bytes:
    """The bytes a card signature covers: JCS of the card without `signatures`, empty values removed."""
    data = MessageToDict(card)
    data.pop("signatures", None)
    return canonicalize(_clean_empty(data) or {})


def sign_card(card: a2a.AgentCard, key: IdentityKey) -> a2a.AgentCard:
    """A copy of `card` with one more signature, by `key` (its DID must be the card's)."""
    header = b64url(canonicalize({"alg": "EdDSA", "kid": key.verification_method, "typ": "JOSE"}))
    signing_input = f"{header}.{b64url(card_signing_payload(card))}".encode("ascii")
    signed = a2a.AgentCard()
    signed.CopyFrom(card)
    signed.signatures.append(
        a2a.AgentCardSignature(protected=header, signature=b64url(key.sign(signing_input)))
    )
    return signed


def signed_card(profile: AgentProfile, key: IdentityKey) -> a2a.AgentCard:
    """The card of `profile`, signed by `key`. ValueError when `key` is not the profile's DID."""
    if key.did != profile.did:
        raise ValueError(f"the card names {profile.did}, but the key is {key.did}")
    return sign_card(build_card(profile), key)


def verify_card(data: dict[str, Any] | a2a.AgentCard) -> VerifiedCard:
    """Check a card (its JSON, or the parsed proto) and return its Sova fields. Raises InvalidCard."""
    if isinstance(data, a2a.AgentCard):
        card = data
    else:
        try:
            card = parse_agent_card(json.loads(json.dumps(data)))  # a deep copy: the parser edits it
        except (ParseError, ValueError, TypeError, RecursionError) as exc:
            raise InvalidCard(f"not an A2A agent card: {str(exc)[:200]}", reason="malformed") from None
    identity = _params(card, IDENTITY_EXTENSION)
    negotiation = _params(card, NEGOTIATION_EXTENSION)
    did = identity.get("did")
    if not isinstance(did, str) or not did.startswith("did:key:"):
        raise InvalidCard(
            f"the card has no did:key in its {IDENTITY_EXTENSION} extension", reason="malformed"
        )
    if not card.signatures:
        raise InvalidCard(f"the card of {did[:60]} is not signed", reason="unsigned")
    try:
        payload = b64url(card_signing_payload(card))
    except ValueError as exc:
        raise InvalidCard(f"the card cannot be canonicalized: {exc}", reason="malformed") from None
    if not any(_signature_ok(sig, did, payload) for sig in card.signatures):
        raise InvalidCard(
            f"no signature on the card is by {did[:60]}: forged or altered", reason="bad_signature"
        )
    endpoint = next(
        (i.url for i in card.supported_interfaces
         if i.protocol_binding == "JSONRPC" and i.protocol_version.startswith("1.") and i.url),
        "",
    )  # fmt: skip
    if not endpoint:
        raise InvalidCard(f"the card of {did[:60]} has no A2A 1.x JSONRPC interface", reason="malformed")
    try:
        chain_id = int(identity.get("chainId", 0))
    except (TypeError, ValueError):
        raise InvalidCard("the card's chainId is not a number", reason="malformed") from None
    return VerifiedCard(
        name=card.name, did=did, wallet=str(identity.get("wallet", "")), chain_id=chain_id,
        registry=str(identity.get("registry", "")), agent_id=str(identity.get("agentId", "")),
        endpoint=endpoint, message_types=_strings(negotiation.get("messageTypes")),
        tokens=_strings(negotiation.get("tokens")), service_tags=_strings(negotiation.get("serviceTags")),
        card=card, services=read_services(negotiation.get("services")),
    )  # fmt: skip


async def fetch_card(
    url: str,
    *,
    http: httpx.AsyncClient | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed on to httpx
) -> VerifiedCard:
    """GET the agent card at `url` (a base URL, or the card's own URL) and verify it. Raises InvalidCard."""
    card_url = url if url.endswith(".json") else url.rstrip("/") + AGENT_CARD_WELL_KNOWN_PATH
    client = http or httpx.AsyncClient(timeout=timeout)
    body = bytearray()
    try:
        async with client.stream("GET", card_url, timeout=timeout) as response:
            if response.status_code != 200:
                raise InvalidCard(f"{card_url} answered HTTP {response.status_code}", reason="unreachable")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_CARD_BYTES:
                    raise InvalidCard(
                        f"the card at {card_url} is over {MAX_CARD_BYTES} bytes", reason="malformed"
                    )
    except httpx.HTTPError as exc:
        raise InvalidCard(
            f"cannot fetch {card_url}: {type(exc).__name__} {exc}", reason="unreachable"
        ) from None
    finally:
        if http is None:
            await client.aclose()
    try:
        data = loads_untrusted(body)
    except (ValueError, RecursionError):
        raise InvalidCard(f"the card at {card_url} is not JSON", reason="malformed") from None
    if not isinstance(data, dict):
        raise InvalidCard(f"the card at {card_url} is not a JSON object", reason="malformed")
    return verify_card(data)


def _signature_ok(sig: a2a.AgentCardSignature, did: str, payload: str) -> bool:
    try:
        header = loads_untrusted(b64url_decode(sig.protected))
        if not isinstance(header, dict) or header.get("alg") != "EdDSA" or "crit" in header:
            return False
        kid_did, fragment = split_did_url(str(header.get("kid", "")))
        if kid_did != did or fragment != did.removeprefix("did:key:"):
            return False
        public_key = public_key_from_did_key(did)
        public_key.verify(b64url_decode(sig.signature), f"{sig.protected}.{payload}".encode("ascii"))
    except (ValueError, DidError, InvalidSignature, UnicodeError):
        return False
    return True


def _params(card: a2a.AgentCard, uri: str) -> dict[str, Any]:
    for ext in card.capabilities.extensions:
        if ext.uri == uri:
            params: dict[str, Any] = MessageToDict(ext.params)
            return params
    raise InvalidCard(f"the card of {card.name[:60]!r} lacks the {uri} extension", reason="malformed")


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _clean_empty(value: Any, depth: int = 1) -> Any:
    """Drop empty strings, lists and objects, recursively (as a2a-sdk does before canonicalizing)."""
    if depth > 64:
        raise ValueError("the card nests deeper than 64 levels")
    if isinstance(value, dict):
        cleaned = {k: c for k, v in value.items() if (c := _clean_empty(v, depth + 1)) is not None}
        return cleaned or None
    if isinstance(value, list):
        items = [c for v in value if (c := _clean_empty(v, depth + 1)) is not None]
        return items or None
    if isinstance(value, str) and not value:
        return None
    return value
