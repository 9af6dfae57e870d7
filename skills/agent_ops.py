"""The agent's own on-chain housekeeping: `anchor_log` (a ledger Merkle root) and `register_agent`."""

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
    """Register this agent's wallet in AgentRegistry with its DID, endpoint, tags and the DID-key proof
    binding the two; with `update`, replace the endpoint and tags of its existing record (a seller
    that sells other services than when it registered)."""

    name = "register_agent"
    args_model = RegisterArgs

    def plan(self, ctx: SkillContext, args: RegisterArgs) -> Planned[RegisterArgs]:
        registry = ctx.contract("AgentRegistry")
        if ctx.binding_proof is None:
            raise PlanError("this agent cannot prove its DID binding (no binding_proof in its context)")
        if any(not tag or len(tag) > 64 for tag in args.tags):
            raise PlanError("tags are 1-64 characters each")
        proof = ctx.binding_proof(registry.address)
        if args.update:
            effect, selector = call_effect(ctx, registry, "update", args.endpoint, args.tags, proof)
        else:
            effect, selector = call_effect(
                ctx, registry, "register", ctx.agent_did, args.endpoint, args.tags, proof
            )
        method = "update" if args.update else "register"
        intent = ctx.intent(self.name, contract=registry.name, method=method, selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[RegisterArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        result = await send_effect(ctx, signer, planned.effect(TxEffect))
        agent_id = await ctx.contract("AgentRegistry").call("agentIdOf", ctx.agent_address)
        return {**result, "agent_id": int(agent_id), "did": ctx.agent_did}
