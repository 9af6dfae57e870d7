"""Token skills: `transfer_token` (pays a counterparty) and `approve_token` (lets a spender pull)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from skills.base import Address, BudgetUse, PartyRef, Planned, Skill, SkillArgs, TokenAmount
from skills.context import base_units
from skills.effects import TxEffect
from skills.errors import PlanError
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner


class TransferArgs(SkillArgs):
    to: PartyRef
    token: str = Field(min_length=1, max_length=64, description="token symbol (e.g. TUSD) or 0x address")
    amount: TokenAmount


class TransferToken(Skill[TransferArgs]):
    """Send `amount` of an ERC-20 `token` from this agent's wallet to `to` (a DID, 0x address or agent
    name). Spends budget."""

    name = "transfer_token"
    args_model = TransferArgs

    def plan(self, ctx: SkillContext, args: TransferArgs) -> Planned[TransferArgs]:
        token = ctx.token(args.token)
        amount = base_units(args.amount, token)
        if amount == 0:
            raise PlanError("a transfer of 0 moves nothing: give a positive amount")
        party = ctx.counterparty(args.to)
        wallet = ctx.wallet_of(party, args.to)
        contract, binding = ctx.token_binding(token)
        effect, selector = call_effect(ctx, binding, "transfer", wallet, amount)
        intent = ctx.intent(
            self.name,
            counterparty=party,
            token=token.address,  # the address: the policy judges the very token the effect moves
            amount=args.amount,
            contract=contract,
            method="transfer",
            selector=selector,
        )
        return Planned(intent, args, (effect,), budget=BudgetUse())

    async def run(
        self, ctx: SkillContext, planned: Planned[TransferArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        result = await send_effect(ctx, signer, planned.effect(TxEffect))
        party = planned.intent.counterparty
        return {**result, "to": party.address if party is not None else None}


class ApproveArgs(SkillArgs):
    spender: Address | None = Field(
        None, description="who may pull the tokens; default: the DealEscrow contract"
    )
    token: str = Field(min_length=1, max_length=64, description="token symbol (e.g. TUSD) or 0x address")
    amount: TokenAmount


class ApproveToken(Skill[ApproveArgs]):
    """Allow `spender` (default: the DealEscrow contract) to pull up to `amount` of `token` from this
    agent's wallet (0 revokes an approval). Any spender but the agent's own DealEscrow can pull at will,
    so approving one spends the whole amount from the budget, and policies allow only the escrow unless
    a `spenders` rule lists more. The escrow pulls only for deals this agent signed, each of which
    holds its amount (sign_deal), so an escrow approval is judged per action and holds nothing."""

    name = "approve_token"
    args_model = ApproveArgs

    def plan(self, ctx: SkillContext, args: ApproveArgs) -> Planned[ApproveArgs]:
        token = ctx.token(args.token)
        amount = base_units(args.amount, token)
        spender = args.spender or ctx.contract("DealEscrow").address
        own = _own_contract(ctx, spender)
        contract, binding = ctx.token_binding(token)
        effect, selector = call_effect(ctx, binding, "approve", spender, amount)
        escrow = own == ESCROW
        intent = ctx.intent(
            self.name,
            counterparty=None if own is not None else ctx.counterparty(spender),
            token=token.address,  # the address: the policy judges the very token the effect moves
            amount=args.amount if amount else None,
            contract=contract,
            method="approve",
            selector=selector,
            spender=(own or spender) if amount else None,  # revoking (0) lets nobody pull anything
            spend=not escrow,
        )
        budget = None if escrow or not amount else BudgetUse()
        return Planned(intent, args, (effect,), budget=budget)

    async def run(
        self, ctx: SkillContext, planned: Planned[ApproveArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await send_effect(ctx, signer, planned.effect(TxEffect))


ESCROW = "DealEscrow"


def _own_contract(ctx: SkillContext, spender: str) -> str | None:
    """The name of the agent's own contract at `spender`, or None for anyone else."""
    return next(
        (name for name, binding in ctx.contracts.items() if binding.address.lower() == spender.lower()),
        None,
    )
