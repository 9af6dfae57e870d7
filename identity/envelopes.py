"""Signed envelopes for agent-to-agent messages: compact JWS (EdDSA / Ed25519) over JCS JSON.

    header  {"alg": "EdDSA", "kid": "did:key:z…#z…", "typ": "sova-envelope"}
    payload JCS({"type", "thid", "from", "to", "iat", "exp", "nonce", "body"})   iat/exp: unix seconds

`verify_envelope` checks, in order: the form (malformed), the signature by the key of `kid`'s DID
(bad_signature), `kid`'s DID equals `from` (wrong_sender), `to` is the verifier (wrong_recipient), `iat`
not in the future beyond the skew (not_yet_valid), `exp` not past (expired), `exp - iat` at most
`max_lifetime` (too_long_lived), and the nonce not seen before (replayed; kept until `exp` + skew).

Keys come from the did:key itself (decoded here, cached), not from didkit: this path does thousands of
messages per second, and the SQLite work per message is one small INSERT, fine to run in asyncio code.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from identity.dids import public_key_from_did_key, split_did_url
from identity.errors import DidError, InvalidEnvelope
from identity.jcs import canonical_text, canonicalize, json_string
from identity.keys import IdentityKey, b64url, b64url_decode
from identity.replay import ReplayStore
from identity.untrusted_json import NotUnicode, loads_untrusted

TYP = "sova-envelope"
DEFAULT_TTL = 120
DEFAULT_SKEW = 60.0
DEFAULT_MAX_LIFETIME = 3600.0
MAX_SIZE = 1024 * 1024
_FIELDS = ("type", "thid", "from", "to", "iat", "exp", "nonce", "body")
_FIELD_SET = frozenset(_FIELDS)


@dataclass(frozen=True, eq=False)
class Envelope:
    """A verified envelope. `sender` is the payload's `from`, `recipient` its `to`."""

    type: str
    thid: str
    sender: str
    recipient: str
    iat: int
    exp: int
    nonce: str
    body: Any
    jws: str


@lru_cache(maxsize=256)
def _encoded_header(kid: str) -> str:
    return b64url(canonicalize({"alg": "EdDSA", "kid": kid, "typ": TYP}))


def sign_envelope(
    key: IdentityKey,
    *,
    type: str,
    thid: str,
    to: str,
    body: Any,
    ttl: int = DEFAULT_TTL,
    now: float | None = None,
    nonce: str | None = None,
) -> str:
    """A compact JWS envelope from `key`'s DID to DID `to`, valid for `ttl` seconds from now.

    `body` must be JSON (integers within ±2**53; send token amounts as strings).
    """
    iat = int(time.time() if now is None else now)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    # JCS of the payload, written out: its member names are fixed, already in sorted order.
    text = (
        f'{{"body":{canonical_text(body)},"exp":{iat + ttl},"from":{json_string(key.did)},"iat":{iat},'
        f'"nonce":{json_string(nonce or secrets.token_urlsafe(16))},"thid":{json_string(thid)},'
        f'"to":{json_string(to)},"type":{json_string(type)}}}'
    )
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("envelope: a string holds a lone surrogate, which is not valid Unicode") from None
    signing_input = (_encoded_header(key.verification_method) + "." + b64url(payload)).encode("ascii")
    return (signing_input + b"." + b64url(key.sign(signing_input)).encode("ascii")).decode("ascii")


@lru_cache(maxsize=1024)
def _header_key(encoded: str) -> tuple[str, Ed25519PublicKey]:
    """(sender DID, public key) of an encoded header; raises InvalidEnvelope(malformed)."""
    try:
        header = loads_untrusted(b64url_decode(encoded))
    except ValueError:
        raise _bad("malformed", "the JWS header is not base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or header.get("typ") != TYP:
        raise _bad("malformed", f'the JWS header must have alg "EdDSA" and typ "{TYP}"')
    if "crit" in header or not isinstance(header.get("kid"), str):
        raise _bad("malformed", "the JWS header needs a `kid` (the sender's did:key URL) and no `crit`")
    try:
        did, fragment = split_did_url(header["kid"])
        public_key = public_key_from_did_key(did)
    except DidError as exc:
        raise _bad("malformed", f"header kid: {exc}") from None
    if fragment != did.removeprefix("did:key:"):
        raise _bad("malformed", "header kid must be the did:key's own key, did:key:z…#z…")
    return did, public_key


def verify_envelope(
    jws: str,
    *,
    recipient: str,
    replay: ReplayStore,
    now: float | None = None,
    max_clock_skew: float = DEFAULT_SKEW,
    max_lifetime: float = DEFAULT_MAX_LIFETIME,
) -> Envelope:
    """Verify an envelope addressed to `recipient` (the verifier's DID) and record its nonce in `replay`.

    Raises InvalidEnvelope with a `reason` code (see the module docstring) and a one-line message.
    """
    did, env = _signed(jws)
    if env.sender != did:
        raise _bad("wrong_sender", f"`from` {env.sender[:60]} is not the signer {did[:60]} (header kid)")
    if env.recipient != recipient:
        raise _bad("wrong_recipient", f"`to` is {env.recipient[:60]}, not this agent ({recipient[:60]})")
    moment = time.time() if now is None else now
    if env.iat > moment + max_clock_skew:
        ahead = env.iat - moment
        raise _bad("not_yet_valid", f"`iat` {env.iat} is {ahead:.0f}s in the future: check the clocks")
    if env.exp <= moment - max_clock_skew:
        raise _bad("expired", f"`exp` {env.exp} passed {moment - env.exp:.0f}s ago: send a fresh message")
    if env.exp - env.iat > max_lifetime:
        raise _bad("too_long_lived", f"`exp` - `iat` is {env.exp - env.iat}s, over {max_lifetime:.0f}s")
    if not replay.add(did, env.nonce, env.exp + int(max_clock_skew) + 1, now=moment):
        raise _bad("replayed", f"nonce {env.nonce[:40]} from {did[:60]} was seen before: drop the replay")
    return env


def signed_claims(jws: Any) -> tuple[str, str, str] | None:
    """(sender DID, type, thid) of an envelope whose signature is its sender's, or None when it is not
    (unreadable, forged, or `from` not the signer). Nothing else is checked and no nonce is spent: for
    admission control before `verify_envelope`."""
    try:
        did, env = _signed(jws)
    except InvalidEnvelope:
        return None
    return (did, env.type, env.thid) if env.sender == did else None


def _signed(jws: Any) -> tuple[str, Envelope]:
    """(the signer's DID, the envelope) once the form and the signature are checked."""
    if not isinstance(jws, str) or len(jws) > MAX_SIZE:
        raise _bad("malformed", f"an envelope is a compact JWS string of at most {MAX_SIZE} bytes")
    parts = jws.split(".")
    if len(parts) != 3:
        raise _bad("malformed", "a compact JWS has three dot-separated parts")
    did, public_key = _header_key(parts[0])
    try:
        signature = b64url_decode(parts[2])
        public_key.verify(signature, jws[: len(parts[0]) + len(parts[1]) + 1].encode("ascii"))
    except (ValueError, InvalidSignature):
        what = f"the signature is not {did[:60]}'s: the message was altered or forged"
        raise _bad("bad_signature", what) from None
    try:
        payload = loads_untrusted(b64url_decode(parts[1]))
    except NotUnicode:
        raise _bad("malformed", "a string in the payload holds a lone surrogate: not Unicode text") from None
    except ValueError:
        raise _bad("malformed", "the payload is not base64url JSON") from None
    return did, _envelope(payload, jws)


def _envelope(payload: Any, jws: str) -> Envelope:
    if not isinstance(payload, dict) or payload.keys() != _FIELD_SET:
        raise _bad("malformed", f"the payload must have exactly the fields {', '.join(_FIELDS)}")
    for name in ("type", "thid", "from", "to", "nonce"):
        if not isinstance(payload[name], str) or not payload[name]:
            raise _bad("malformed", f"`{name}` must be a non-empty string")
    for name in ("iat", "exp"):
        if isinstance(payload[name], bool) or not isinstance(payload[name], int):
            raise _bad("malformed", f"`{name}` must be an integer (unix seconds)")
    if payload["exp"] <= payload["iat"]:
        raise _bad("malformed", "`exp` must be after `iat`")
    if len(payload["nonce"]) > 128:
        raise _bad("malformed", "`nonce` is longer than 128 characters")
    return Envelope(
        payload["type"], payload["thid"], payload["from"], payload["to"], payload["iat"], payload["exp"],
        payload["nonce"], payload["body"], jws,
    )  # fmt: skip


def _bad(reason: str, what: str) -> InvalidEnvelope:
    return InvalidEnvelope(f"envelope rejected ({reason}): {what}", reason=reason)
