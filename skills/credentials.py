"""Credential skills: `present_credential` (a DID-auth presentation) and `issue_credential`.

Both are identity-key operations: `run` asks the narrow signer to perform exactly the approved one
(by the hash of its parameters); the key itself never reaches the skill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from policies.units import parse_duration
from skills.base import PartyRef, Planned, Skill, SkillArgs
from skills.effects import IdentityEffect
from skills.errors import PlanError

if TYPE_CHECKING:
    from identity.credential import Credential
    from skills.context import CredentialSource, SkillContext
    from skills.signing import NarrowSigner


class PresentArgs(SkillArgs):
    challenge: str = Field(min_length=1, max_length=512, description="the verifier's fresh challenge")
    domain: str = Field(
        min_length=1, max_length=256, description="the verifier's DID (the presentation's domain)"
    )
    credential_ids: list[str] = Field(
        default_factory=list, max_length=10, description="ids of held credentials"
    )
    types: list[str] = Field(
        default_factory=list, max_length=10, description="present the newest held credential of each type"
    )

    @model_validator(mode="after")
    def _something(self) -> PresentArgs:
        if not self.credential_ids and not self.types:
            raise ValueError("name the credentials to present: give credential_ids or types")
        return self


def _store(ctx: SkillContext) -> CredentialSource:
    if ctx.credentials is None:
        raise PlanError("this agent has no credential store")
    return ctx.credentials


def _held(ctx: SkillContext, args: PresentArgs) -> list[Credential]:
    store, me = _store(ctx), ctx.agent_did
    found: list[Credential] = []
    for cid in args.credential_ids:
        credential = store.get(cid)
        if credential is None or credential.subject != me:
            raise PlanError(f"no credential {cid} about this agent ({me}) in its store")
        found.append(credential)
    for kind in args.types:
        matches = store.find(type=kind, subject=me)
        if not matches:
            raise PlanError(f"this agent holds no {kind} credential")
        found.append(matches[-1])
    return found


class PresentCredential(Skill[PresentArgs]):
    """Present held credentials to a verifier (a verifiable presentation bound to its challenge and
    its DID as domain), signed with the agent's identity key."""

    name = "present_credential"
    args_model = PresentArgs

    def plan(self, ctx: SkillContext, args: PresentArgs) -> Planned[PresentArgs]:
        params = {
            "credentials": [c.text for c in _held(ctx, args)],
            "challenge": args.challenge,
            "domain": args.domain,
        }
        intent = ctx.intent(self.name, counterparty=ctx.counterparty(args.domain))
        return Planned(intent, args, (IdentityEffect.of("present", params),))

    async def run(
        self, ctx: SkillContext, planned: Planned[PresentArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        effect = planned.effect(IdentityEffect)
        presentation = await signer.identity("present", effect.params)
        return {"presentation": presentation}


Claims = dict[str, str | int | bool]


class IssueArgs(SkillArgs):
    subject: PartyRef
    type: str = Field(min_length=1, max_length=64, description="credential type, e.g. VerifiedSupplier")
    claims: Claims = Field(
        default_factory=dict, description='the type\'s claims, e.g. {"service": "compute"}'
    )
    valid_for: str | None = Field(
        None, description='how long it is valid, like "30d" or "12h"; none: no expiry'
    )
    format: Literal["ldp", "jwt"] = "ldp"


class IssueCredential(Skill[IssueArgs]):
    """Issue a credential of a Sova type about another agent, signed with this agent's identity key."""

    name = "issue_credential"
    args_model = IssueArgs

    def plan(self, ctx: SkillContext, args: IssueArgs) -> Planned[IssueArgs]:
        from identity.errors import IdentityError
        from identity.issuance import check_claims
        from identity.vocab import credential_type

        party = ctx.counterparty(args.subject)
        if party.did is None:
            raise PlanError(f"no DID is known for {args.subject}: a credential's subject is a DID")
        try:
            check_claims(credential_type(args.type), args.claims)
        except IdentityError as exc:
            raise PlanError(str(exc)) from None
        expires = None
        if args.valid_for is not None:
            try:
                span = parse_duration(args.valid_for)
            except ValueError as exc:
                raise PlanError(f"valid_for: {exc}") from None
            expires = (datetime.now(UTC) + span).replace(microsecond=0).isoformat()
        params = {
            "subject": party.did,
            "type": args.type,
            "claims": dict(args.claims),
            "expires": expires,
            "format": args.format,
        }
        intent = ctx.intent(self.name, counterparty=party)
        return Planned(intent, args, (IdentityEffect.of("issue_credential", params),))

    async def run(
        self, ctx: SkillContext, planned: Planned[IssueArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        effect = planned.effect(IdentityEffect)
        credential: Credential = await signer.identity("issue_credential", effect.params)
        return {"id": credential.id, "credential": credential.document, "summary": credential.summary()}
