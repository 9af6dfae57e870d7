"""Sova's credential types and the JSON-LD vocabulary check.

Each type defines its claims inline in the credential's `@context` (term → `urn:sova:<term>`), so no
undefined term ever reaches didkit or another verifier, and no context has to be fetched. The contexts
a Sova credential uses are exactly:

    "https://www.w3.org/2018/credentials/v1"
    "https://w3id.org/security/suites/ed25519-2020/v1"
    {<the type and its claims>}

`check_vocabulary` is the check Sova runs on every credential before its proof, in both formats: every
property of the credential and of its subject, and every type, must be defined by those contexts.
(didkit checks this for LD proofs only, and accepts undefined types; JWT VCs it does not check at all.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from identity.errors import InvalidCredential

VOCAB = "urn:sova:"
CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
ED25519_2020_V1 = "https://w3id.org/security/suites/ed25519-2020/v1"
BASE_CONTEXTS: tuple[str, ...] = (CREDENTIALS_V1, ED25519_2020_V1)

# Terms the credentials v1 context defines for a VerifiableCredential (its type-scoped context).
VC_TERMS = frozenset(
    {
        "@context", "id", "type", "credentialSchema", "credentialStatus", "credentialSubject", "evidence",
        "expirationDate", "holder", "issued", "issuer", "issuanceDate", "proof", "refreshService",
        "termsOfUse", "validFrom", "validUntil",
    }
)  # fmt: skip
ClaimKind = Literal["string", "did", "integer", "boolean"]
_TERM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Claim:
    """One claim of a credential type: its JSON kind and whether an issuer must give it."""

    kind: ClaimKind = "string"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class CredentialType:
    """A credential type: its name (a JSON-LD term) and its claims."""

    name: str
    claims: Mapping[str, Claim] = field(default_factory=dict)
    description: str = ""

    def context(self) -> dict[str, Any]:
        """The inline `@context` object defining the type and its claims."""
        ctx: dict[str, Any] = {self.name: VOCAB + self.name}
        for term, claim in self.claims.items():
            ctx[term] = {"@id": VOCAB + term, "@type": "@id"} if claim.kind == "did" else VOCAB + term
        return ctx

    def contexts(self) -> list[Any]:
        """The full `@context` list of a credential of this type (the inline object is shared: read-only)."""
        cached: list[Any] | None = self.__dict__.get("_contexts")
        if cached is None:
            cached = [*BASE_CONTEXTS, self.context()]
            object.__setattr__(self, "_contexts", cached)
        return list(cached)


VERIFIED_SUPPLIER = CredentialType(
    "VerifiedSupplier",
    {
        "service": Claim("string", required=True, description="the service the subject is verified to sell"),
        "name": Claim("string", description="the supplier's display name"),
    },
    description="the subject is a supplier the issuer vouches for",
)
OPERATOR = CredentialType(
    "Operator",
    {
        "agent": Claim("did", required=True, description="the DID of the agent the subject operates"),
        "role": Claim("string", description="e.g. owner, approver"),
    },
    description="the subject operates (may pause, approve for) an agent",
)
CREDENTIAL_TYPES: dict[str, CredentialType] = {t.name: t for t in (VERIFIED_SUPPLIER, OPERATOR)}


def credential_type(name: str | CredentialType) -> CredentialType:
    """The registered type `name` (or the given CredentialType); InvalidCredential(unknown_type) otherwise."""
    if isinstance(name, CredentialType):
        if _TERM_RE.fullmatch(name.name) is None or any(_TERM_RE.fullmatch(t) is None for t in name.claims):
            raise InvalidCredential(
                f"credential type {name.name!r} has a name or claim that is not a plain JSON-LD term",
                reason="unknown_type",
            )
        return name
    found = CREDENTIAL_TYPES.get(name)
    if found is None:
        known = ", ".join(sorted(CREDENTIAL_TYPES))
        raise InvalidCredential(f"unknown credential type {name!r}: use {known}", reason="unknown_type")
    return found


def check_vocabulary(vc: Mapping[str, Any], credential_id: str | None) -> None:
    """Raise InvalidCredential(undefined_term | unsupported_context) unless every term of `vc` is defined."""
    where = f"credential {credential_id}" if credential_id else "credential"
    contexts = vc.get("@context")
    if isinstance(contexts, str):
        contexts = [contexts]
    if not isinstance(contexts, list) or not contexts or contexts[0] != CREDENTIALS_V1:
        raise InvalidCredential(
            f"{where}: @context must start with {CREDENTIALS_V1} (VC Data Model 1.1)",
            reason="unsupported_context",
            credential_id=credential_id,
        )
    inline: set[str] = set()
    for ctx in contexts[1:]:
        if isinstance(ctx, dict):
            inline.update(k for k in ctx if not k.startswith("@"))
        elif ctx != ED25519_2020_V1:
            raise InvalidCredential(
                f"{where}: @context {str(ctx)[:80]!r} is not one Sova serves offline: define custom terms"
                f" inline in @context after {ED25519_2020_V1}",
                reason="unsupported_context",
                credential_id=credential_id,
            )
    _check_keys(vc, VC_TERMS | inline, where, "", credential_id)
    _check_types(vc.get("type"), {"VerifiableCredential"} | inline, where, "type", credential_id)
    subjects = vc.get("credentialSubject")
    for i, subject in enumerate(subjects if isinstance(subjects, list) else [subjects]):
        path = "credentialSubject" + (f"[{i}]" if isinstance(subjects, list) else "")
        if isinstance(subject, dict):
            _check_node(subject, inline, where, path, credential_id)


def _check_node(node: Mapping[str, Any], inline: set[str], where: str, path: str, cid: str | None) -> None:
    _check_keys(node, {"id", "type"} | inline, where, path + ".", cid)
    _check_types(node.get("type"), inline, where, path + ".type", cid)
    for key, value in node.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and key not in ("id", "type"):
                _check_node(item, inline, where, f"{path}.{key}", cid)


def _check_keys(
    node: Mapping[str, Any], defined: set[str] | frozenset[str], where: str, path: str, cid: str | None
) -> None:
    for key in node:
        if key not in defined:
            raise InvalidCredential(
                f"{where}: term {key!r} ({path}{key}) is not defined in its @context: define it inline in"
                " @context (Sova credential types do) or remove it",
                reason="undefined_term",
                credential_id=cid,
            )


def _check_types(types: Any, defined: set[str], where: str, path: str, cid: str | None) -> None:
    for t in types if isinstance(types, list) else [] if types is None else [types]:
        if t not in defined:
            raise InvalidCredential(
                f"{where}: type {str(t)[:64]!r} ({path}) is not defined in its @context: define it inline",
                reason="undefined_term",
                credential_id=cid,
            )
