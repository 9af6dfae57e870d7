"""`give_feedback`: the buyer of a released deal rates the seller in ReputationRegistry (ERC-8004).

The registry takes feedback only from a client with a released DealEscrow deal with the agent, once per
deal: the skill's two transactions are `recordSettledDeal(agentId, deal)` (skipped when the deal is on
record already) and ERC-8004's `giveFeedback(agentId, value, 0, tag1, tag2, endpoint, "", 0x0)`. The
Intent is the `giveFeedback` call on ReputationRegistry, with the seller as counterparty; no value leaves
the wallet, so it takes no budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from skills.base import Planned, Skill, SkillArgs
from skills.effects import TxEffect
from skills.errors import PlanError
from skills.escrow import DealTerms, build_deal
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner

__all__ = ["FeedbackArgs", "GiveFeedback"]


class FeedbackArgs(SkillArgs):
    """A released deal, the seller's agent id in AgentRegistry, and the rating."""

    deal: DealTerms
    agent_id: int = Field(ge=1, lt=2**256, description="the seller's agent id in AgentRegistry")
    value: int = Field(ge=0, le=100, description="the rating, 0-100 (ERC-8004 tag 'starred')")
    tag1: str = Field("starred", max_length=64, description="what the value measures")
    tag2: str = Field("", max_length=64, description="a second tag, e.g. the service")
    endpoint: str = Field("", max_length=512, description="the endpoint the rating is about")


class GiveFeedback(Skill[FeedbackArgs]):
    """Rate the seller of a released deal in ReputationRegistry (once per deal; the registry checks
    the escrow)."""

    name = "give_feedback"
    args_model = FeedbackArgs

    def plan(self, ctx: SkillContext, args: FeedbackArgs) -> Planned[FeedbackArgs]:
        if args.deal.buyer.lower() != ctx.agent_address.lower():
            raise PlanError("only the deal's buyer rates its seller: this agent did not pay for the deal")
        reputation = ctx.contract("ReputationRegistry")
        deal = build_deal(ctx, args.deal)
        record, _ = call_effect(ctx, reputation, "recordSettledDeal", args.agent_id, deal.as_tuple())
        rate, selector = call_effect(
            ctx, reputation, "giveFeedback", args.agent_id, args.value, 0, args.tag1, args.tag2,
            args.endpoint, "", b"\0" * 32,
        )  # fmt: skip
        intent = ctx.intent(
            self.name,
            counterparty=ctx.counterparty(args.deal.seller),
            contract=reputation.name,
            method="giveFeedback",
            selector=selector,
        )
        return Planned(intent, args, (record, rate))

    async def run(
        self, ctx: SkillContext, planned: Planned[FeedbackArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        from wallet.typed_data import deal_digest

        deal = build_deal(ctx, planned.args.deal)
        deal_id = deal_digest(deal, ctx.chain_id, ctx.contract("DealEscrow").address)
        reputation = ctx.contract("ReputationRegistry")
        recorded: dict[str, Any] = {}
        if not await reputation.call("isDealRecorded", deal_id):
            recorded = await send_effect(ctx, signer, planned.effect(TxEffect, 0))
        rated = await send_effect(ctx, signer, planned.effect(TxEffect, 1))
        return {
            **rated,
            "record_tx": recorded.get("tx_hash", ""),
            "deal_id": "0x" + deal_id.hex(),
            "agent_id": planned.args.agent_id,
            "value": planned.args.value,
        }
