"""ERC-8004 validation skills: `request_validation` (an agent asks a validator to check its work) and
`answer_validation` (a validator scores it, 0-100), both calls on ValidationRegistry. Neither moves
value, so neither takes budget; the registry itself checks that the asker owns the agent and that only
the named validator answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from skills.base import Address, Bytes32, Planned, Skill, SkillArgs
from skills.effects import TxEffect
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner

__all__ = ["AnswerArgs", "AnswerValidation", "RequestArgs", "RequestValidation"]

ZERO32 = "0x" + "00" * 32


class RequestArgs(SkillArgs):
    """Who validates which work of which agent."""

    validator: Address
    agent_id: int = Field(ge=1, lt=2**256, description="this agent's id in AgentRegistry")
    request_uri: str = Field(min_length=1, max_length=512, description="where the inputs and outputs are")
    request_hash: Bytes32 = Field(description="keccak256 of the request data; names the request")


class RequestValidation(Skill[RequestArgs]):
    """Ask `validator` to validate this agent's work described at `request_uri` (ERC-8004
    `validationRequest`)."""

    name = "request_validation"
    args_model = RequestArgs

    def plan(self, ctx: SkillContext, args: RequestArgs) -> Planned[RequestArgs]:
        registry = ctx.contract("ValidationRegistry")
        request_hash = bytes.fromhex(args.request_hash[2:])
        effect, selector = call_effect(
            ctx, registry, "validationRequest", args.validator, args.agent_id, args.request_uri, request_hash
        )
        intent = ctx.intent(
            self.name, counterparty=ctx.counterparty(args.validator), contract=registry.name,
            method="validationRequest", selector=selector,
        )  # fmt: skip
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[RequestArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await send_effect(ctx, signer, planned.effect(TxEffect))


class AnswerArgs(SkillArgs):
    """A validator's score of one request."""

    request_hash: Bytes32
    response: int = Field(ge=0, le=100, description="0 failed ... 100 passed")
    response_uri: str = Field("", max_length=512, description="evidence (optional)")
    response_hash: Bytes32 = Field(ZERO32, description="keccak256 of the evidence (optional)")
    tag: str = Field("", max_length=64, description="e.g. soft or hard finality")


class AnswerValidation(Skill[AnswerArgs]):
    """Score a validation request addressed to this agent (ERC-8004 `validationResponse`)."""

    name = "answer_validation"
    args_model = AnswerArgs

    def plan(self, ctx: SkillContext, args: AnswerArgs) -> Planned[AnswerArgs]:
        registry = ctx.contract("ValidationRegistry")
        effect, selector = call_effect(
            ctx, registry, "validationResponse", bytes.fromhex(args.request_hash[2:]), args.response,
            args.response_uri, bytes.fromhex(args.response_hash[2:]), args.tag,
        )  # fmt: skip
        intent = ctx.intent(self.name, contract=registry.name, method="validationResponse", selector=selector)
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[AnswerArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await send_effect(ctx, signer, planned.effect(TxEffect))
