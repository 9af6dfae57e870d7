"""Verifying credentials: didkit's proof check plus everything didkit leaves out.

In order: readable (malformed), every term defined (undefined_term, unsupported_context), the proof
(bad_proof), issuance date / nbf not in the future and expiration date / exp not past, both with a clock
skew (not_yet_valid, expired), the issuer in the caller's trusted set (untrusted_issuer), and the
caller's revocation check (revoked; revocation_unavailable when the check itself fails: fail closed).

didkit enforces nbf/exp of JWT VCs itself, with no skew; a JWT VC inside the skew window is reported as
not_yet_valid / expired with that explanation rather than as a bad proof.

didkit's proof check (~2 ms for an LD proof: JSON-LD canonicalization) is remembered for credentials
from did:key issuers (`ProofCache`): a did:key is its public key, resolved offline, so the same bytes
verify the same way forever. A hit skips only didkit; every other check runs on every call.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from identity import didkit_bridge
from identity.credential import Credential, VerifiedCredential, iso, parse_credential
from identity.errors import InvalidCredential
from identity.vocab import check_vocabulary

DEFAULT_CLOCK_SKEW = timedelta(seconds=60)
_LDP_OPTIONS = json.dumps({"proofPurpose": "assertionMethod"})
_JWT_OPTIONS = json.dumps({"proofPurpose": "assertionMethod", "proofFormat": "jwt"})


class RevocationChecker(Protocol):
    """Whether `issuer_did` revoked its credential `credential_id`; may be sync or async.

    Sova's checker reads AgentRegistry.isRevoked(issuer's wallet, credential_id_hash(credential_id)).
    An exception means "cannot tell": the credential is then refused (revocation_unavailable).
    """

    def __call__(self, issuer_did: str, credential_id: str, /) -> bool | Awaitable[bool]: ...


async def verify_credential(
    credential: str | Mapping[str, Any] | Credential,
    *,
    trusted_issuers: Collection[str] | None,
    revocation: RevocationChecker | None,
    now: datetime | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedCredential:
    """Verify a credential (LD-proof JSON, JWT, dict or Credential) and return it as VerifiedCredential.

    `trusted_issuers` is the set of issuer DIDs to accept; `revocation` the revocation check. Both are
    required keywords: pass None explicitly to skip one (e.g. `sova vc verify` of a file without a fleet).
    Raises InvalidCredential with a `reason` code and a one-line message.
    """
    text = _text(credential)
    vc = _checked_jwt(text) if text.startswith("ey") else _checked(parse_credential(text))
    cid = vc.id
    moment = now or datetime.now(UTC)
    errors = await _proof_errors(vc, text, moment)
    if errors and vc.format == "jwt":
        # didkit refuses a JWT VC outside [nbf, exp) with no skew and a vague message: say why.
        check_dates(vc, moment, timedelta(0))
    if errors:
        said = " ".join("; ".join(errors).split())[:200]  # didkit's words, on one line
        raise InvalidCredential(
            f"credential {cid} does not verify: {said} (proof, issuer {vc.issuer}): it was"
            " altered or not signed by its issuer; get the original from the issuer",
            reason="bad_proof",
            credential_id=cid,
        )
    check_dates(vc, moment, max_clock_skew)
    if trusted_issuers is not None and vc.issuer not in trusted_issuers:
        raise InvalidCredential(
            f"credential {cid} is from untrusted issuer {vc.issuer}: add the issuer to the trusted issuers"
            " (policy `issuers`) if you trust it",
            reason="untrusted_issuer",
            credential_id=cid,
        )
    if revocation is not None:
        await _check_revocation(vc, revocation)
    return VerifiedCredential._of(vc)


async def _proof_errors(vc: Credential, text: str, now: datetime) -> list[str]:
    """didkit's proof errors for `text`; [] without asking didkit when this exact did:key credential
    verified before (then a JWT VC's nbf/exp are checked as didkit checks them: with no skew)."""
    options = _JWT_OPTIONS if vc.format == "jwt" else _LDP_OPTIONS
    key = PROOF_CACHE.key(vc, text, options)
    if key is not None and PROOF_CACHE.holds(key):
        if vc.format == "jwt":
            check_dates(vc, now, timedelta(0))
        return []
    errors = await didkit_bridge.proof_errors(text, options)
    if key is not None and not errors:
        PROOF_CACHE.add(key)
    return errors


class ProofCache:
    """A bounded LRU set of credentials whose proof didkit accepted: sha256 of (options, exact text).

    Only credentials of did:key issuers go in (self-certifying and resolved offline: nothing outside the
    bytes can change the answer), and not an LD proof with its own `expires` (a time-dependent proof).
    Failures are never kept. didkit's one time-dependent check on such credentials, a JWT VC's nbf/exp,
    is redone on each hit by the caller.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()  # verification may run on several event loops (threads)

    @staticmethod
    def key(vc: Credential, text: str, options: str) -> bytes | None:
        """The cache key of credential `vc`, whose exact text didkit checks with `options`; None when its
        result must not be cached."""
        if not vc.issuer.startswith("did:key:"):
            return None
        if isinstance(vc.document, dict):
            proof = vc.document.get("proof")
            if not isinstance(proof, dict) or "expires" in proof:
                return None
        return hashlib.sha256(f"{options}\0{text}".encode("utf-8", "surrogatepass")).digest()

    def holds(self, key: bytes) -> bool:
        """Whether `key`'s proof verified before (and mark it recently used)."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key: bytes) -> None:
        """Remember a proof that verified, dropping the least recently used past the bound."""
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)


PROOF_CACHE = ProofCache()
"""The process's proof cache (identity.verification.verify_credential uses it)."""


def _checked(vc: Credential) -> Credential:
    check_vocabulary(vc.body, vc.id)
    return vc


@lru_cache(maxsize=512)
def _checked_jwt(token: str) -> Credential:
    """A JWT VC parsed and its vocabulary checked, cached by its exact text: the same credential is
    verified again and again (every DID-auth handshake), and this is a pure function of the text.
    The proof, dates, trust and revocation are checked on every verification."""
    return _checked(parse_credential(token))


def _text(credential: str | Mapping[str, Any] | Credential) -> str:
    if isinstance(credential, str):
        return credential.strip()
    if isinstance(credential, Credential):
        return credential.text
    if not isinstance(credential, Mapping):
        raise InvalidCredential("credential is malformed: not a JSON object or JWT", reason="malformed")
    return json.dumps(credential)


def check_dates(vc: Credential, now: datetime, skew: timedelta) -> None:
    """InvalidCredential(not_yet_valid | expired) unless issuance ≤ now + skew and now - skew < expiry."""
    if vc.issued_at > now + skew:
        field = "nbf" if vc.format == "jwt" else "issuanceDate"
        raise InvalidCredential(
            f"credential {vc.id} is not valid yet: {field} {iso(vc.issued_at)} is in the future (now"
            f" {iso(now)}, skew {skew.total_seconds():.0f}s): check the clocks or wait",
            reason="not_yet_valid",
            credential_id=vc.id,
        )
    if vc.expires_at is not None and vc.expires_at <= now - skew:
        field = "exp" if vc.format == "jwt" else "expirationDate"
        raise InvalidCredential(
            f"credential {vc.id} expired at {iso(vc.expires_at)} ({field}): ask the issuer {vc.issuer} for a"
            " new one",
            reason="expired",
            credential_id=vc.id,
        )


async def _check_revocation(vc: Credential, revocation: RevocationChecker) -> None:
    try:
        answer = revocation(vc.issuer, vc.id)
        revoked = await answer if inspect.isawaitable(answer) else answer
    except Exception as exc:
        raise InvalidCredential(
            f"credential {vc.id}: its revocation status cannot be read ({type(exc).__name__}:"
            f" {str(exc)[:100]}): check the chain connection and retry",
            reason="revocation_unavailable",
            credential_id=vc.id,
        ) from exc
    if revoked:
        raise InvalidCredential(
            f"credential {vc.id} was revoked by its issuer {vc.issuer}: ask the issuer for a new one",
            reason="revoked",
            credential_id=vc.id,
        )
