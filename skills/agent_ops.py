"""The agent's own on-chain housekeeping: `anchor_log` (a ledger Merkle root), `register_agent` and
`revoke_credential` (a credential it issued)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from skills.base import Planned, Skill, SkillArgs
from skills.effects import TxEffect
from skills.errors import PlanError
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner


class AnchorArgs(SkillArgs):
    """No arguments: a caller may ask for an anchor, never supply its root or range."""


class AnchorLog(Skill[AnchorArgs]):
    """Anchor this agent's ledger in ActionLogAnchor: the Merkle root of the entries not anchored yet,
    its root and range computed from the ledger itself (a pending anchoring round's, if one is)."""

    name = "anchor_log"
    args_model = AnchorArgs

    def plan(self, ctx: SkillContext, args: AnchorArgs) -> Planned[AnchorArgs]:
        anchor = ctx.contract("ActionLogAnchor")
        if ctx.anchor_range is None:
            raise PlanError("this agent has no ledger to anchor")
        found = ctx.anchor_range()
        if found is None:
            raise PlanError("nothing to anchor: every ledger entry is anchored already")
        root, from_seq, to_seq = found
        effect, selector = call_effect(ctx, anchor, "anchor", root, from_seq, to_seq)
        intent = ctx.intent(self.name, contract=anchor.name, method="anchor", selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[AnchorArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await send_effect(ctx, signer, planned.effect(TxEffect))


class RegisterArgs(SkillArgs):
    endpoint: str = Field("", max_length=512, description="the agent's A2A endpoint URL")
    tags: list[str] = Field(default_factory=list, max_length=16, description="service tags, e.g. [compute]")
    update: bool = Field(
        False, description="replace the endpoint and tags of its existing record (AgentRegistry.update)"
    )


class RegisterAgent(Skill[RegisterArgs]):
    """Register this agent in AgentRegistry, ERC-8004's way (`register(agentURI, metadata)`): its wallet
    mints the agent token, the agent URI is its registration file under `endpoint`, and the metadata
    holds its DID, endpoint, tags and the DID-key proof binding DID and wallet. With `update`, replace
    the endpoint and tags of its existing record (a seller that sells other services than when it
    registered)."""

    name = "register_agent"
    args_model = RegisterArgs

    def plan(self, ctx: SkillContext, args: RegisterArgs) -> Planned[RegisterArgs]:
        registry = ctx.contract("AgentRegistry")
        if ctx.binding_proof is None:
            raise PlanError("this agent cannot prove its DID binding (no binding_proof in its context)")
        if any(not tag or len(tag.encode()) > 64 or "," in tag for tag in args.tags):
            raise PlanError("tags are 1-64 bytes each, without commas")
        from wallet.metadata import registration_uri, sova_metadata

        proof = ctx.binding_proof(registry.address)
        if args.update:
            effect, selector = call_effect(ctx, registry, "update", args.endpoint, args.tags, proof)
        else:
            metadata = sova_metadata(ctx.agent_did, args.endpoint, args.tags, proof)
            uri = registration_uri(args.endpoint)
            effect, selector = call_effect(ctx, registry, "register", uri, metadata)
        method = "update" if args.update else "register"
        intent = ctx.intent(self.name, contract=registry.name, method=method, selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[RegisterArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        result = await send_effect(ctx, signer, planned.effect(TxEffect))
        agent_id = await ctx.contract("AgentRegistry").call("agentIdOf", ctx.agent_address)
        return {**result, "agent_id": int(agent_id), "did": ctx.agent_did}


class RevokeArgs(SkillArgs):
    credential_id: str = Field(
        min_length=1, max_length=512, description="the id of a credential this agent issued (`sova vc list`)"
    )


class RevokeCredential(Skill[RevokeArgs]):
    """Revoke a credential this agent issued: `AgentRegistry.revokeCredential(keccak(id))` under its own
    wallet (the issuer's namespace), so verifiers reading the registry refuse it from then on."""

    name = "revoke_credential"
    args_model = RevokeArgs

    def plan(self, ctx: SkillContext, args: RevokeArgs) -> Planned[RevokeArgs]:
        from identity.credential import credential_id_hash

        registry = ctx.contract("AgentRegistry")
        effect, selector = call_effect(
            ctx, registry, "revokeCredential", credential_id_hash(args.credential_id)
        )
        intent = ctx.intent(self.name, contract=registry.name, method="revokeCredential", selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[RevokeArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return {
            **await send_effect(ctx, signer, planned.effect(TxEffect)),
            "revoked": planned.args.credential_id,
        }
