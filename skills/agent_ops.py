"""The agent's own on-chain housekeeping: `anchor_log` (a ledger Merkle root) and `register_agent`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from skills.base import Bytes32, Planned, Skill, SkillArgs
from skills.effects import TxEffect
from skills.errors import PlanError
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner


class AnchorArgs(SkillArgs):
    root: Bytes32 = Field(description="Merkle root of the ledger entries from_seq..to_seq")
    from_seq: int = Field(ge=1, lt=2**64)
    to_seq: int = Field(ge=1, lt=2**64)

    @model_validator(mode="after")
    def _ordered(self) -> AnchorArgs:
        if self.to_seq < self.from_seq:
            raise ValueError(f"to_seq {self.to_seq} is before from_seq {self.from_seq}")
        return self


class AnchorLog(Skill[AnchorArgs]):
    """Anchor the Merkle root of a range of this agent's ledger entries in ActionLogAnchor."""

    name = "anchor_log"
    args_model = AnchorArgs

    def plan(self, ctx: SkillContext, args: AnchorArgs) -> Planned[AnchorArgs]:
        anchor = ctx.contract("ActionLogAnchor")
        root = bytes.fromhex(args.root[2:])
        effect, selector = call_effect(ctx, anchor, "anchor", root, args.from_seq, args.to_seq)
        intent = ctx.intent(self.name, contract=anchor.name, method="anchor", selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[AnchorArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await send_effect(ctx, signer, planned.effect(TxEffect))


class RegisterArgs(SkillArgs):
    endpoint: str = Field("", max_length=512, description="the agent's A2A endpoint URL")
    tags: list[str] = Field(default_factory=list, max_length=16, description="service tags, e.g. [compute]")


class RegisterAgent(Skill[RegisterArgs]):
    """Register this agent's wallet in AgentRegistry with its DID, endpoint, tags and the DID-key proof
    binding the two."""

    name = "register_agent"
    args_model = RegisterArgs

    def plan(self, ctx: SkillContext, args: RegisterArgs) -> Planned[RegisterArgs]:
        registry = ctx.contract("AgentRegistry")
        if ctx.binding_proof is None:
            raise PlanError("this agent cannot prove its DID binding (no binding_proof in its context)")
        if any(not tag or len(tag) > 64 for tag in args.tags):
            raise PlanError("tags are 1-64 characters each")
        proof = ctx.binding_proof(registry.address)
        effect, selector = call_effect(
            ctx, registry, "register", ctx.agent_did, args.endpoint, args.tags, proof
        )
        intent = ctx.intent(self.name, contract=registry.name, method="register", selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[RegisterArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        result = await send_effect(ctx, signer, planned.effect(TxEffect))
        agent_id = await ctx.contract("AgentRegistry").call("agentIdOf", ctx.agent_address)
        return {**result, "agent_id": int(agent_id), "did": ctx.agent_did}
