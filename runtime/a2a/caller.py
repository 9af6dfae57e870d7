"""Who calls: the DID behind an A2A request that carries no negotiation envelope (GetTask, ListTasks,
CancelTask, a SendMessage naming a task).

A caller proves its DID the way a negotiation message does: with a signed envelope, here sent in the
HTTP header `Authorization: Bearer <compact JWS>` (type `a2a_caller`, `to` this agent's DID, a fresh
nonce, a lifetime of at most 5 minutes). Each token is taken once (the agent's replay store), so a
plain A2A client signs one per request. A request without the header is anonymous: it sees no task.
A request whose token does not verify is refused with one line saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from a2a.utils.errors import InvalidRequestError

from identity.envelopes import sign_envelope, verify_envelope
from identity.errors import InvalidEnvelope
from identity.keys import IdentityKey
from identity.replay import ReplayStore

__all__ = ["CALLER_TYPE", "caller_did", "caller_header"]

CALLER_TYPE: Final = "a2a_caller"
CALLER_TTL: Final = 60
_MAX_TOKEN: Final = 4096


def caller_header(key: IdentityKey, agent_did: str, *, ttl: int = CALLER_TTL) -> dict[str, str]:
    """The `Authorization` header that shows `key`'s DID to the agent `agent_did` (good for one request)."""
    token = sign_envelope(key, type=CALLER_TYPE, thid=CALLER_TYPE, to=agent_did, body={}, ttl=ttl)
    return {"Authorization": f"Bearer {token}"}


def caller_did(headers: Mapping[str, Any], *, agent_did: str, replay: ReplayStore) -> str | None:
    """The DID the request's bearer token proves, None without one; InvalidRequestError (one line)
    when the token is not a fresh `a2a_caller` envelope to this agent."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = str(value).partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
        raise InvalidRequestError(
            "Authorization must be `Bearer <JWS>`: an a2a_caller envelope signed by the caller's did:key"
        )
    try:
        envelope = verify_envelope(token, recipient=agent_did, replay=replay, max_lifetime=300)
    except InvalidEnvelope as exc:
        raise InvalidRequestError(f"the caller token is refused ({exc.reason}): {exc}"[:300]) from None
    if envelope.type != CALLER_TYPE:
        raise InvalidRequestError(f"the caller token must have type {CALLER_TYPE}, not {envelope.type[:40]}")
    return envelope.sender
