"""Deal skills: `sign_deal` (the EIP-712 Deal signature), `open_escrow`, `release_escrow`, `refund_escrow`.

The Deal is what DealEscrow checks: {buyer, seller, token, amount, termsHash, deadline, nonce}. Who the
agent is in a deal (buyer, seller, or neither) decides the Intent: only the buyer's signature and the
buyer's `open` take value out of the agent's wallet, so only they carry token and amount. It also
decides `refund_escrow`'s method: the seller's is `cancel` (at once), anyone else's `refund` (after
the deadline).

Budget: a buyer's signature is a spend the moment it exists — anyone holding it and the seller's can
open the deal — so it *holds* the amount under the deal's id until the deal's deadline (plus
HOLD_SLACK, as the chain's clock may lag this one), and the buyer's `open` consumes that hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from policies import Counterparty
from skills.base import Address, BudgetUse, Bytes32, Planned, Skill, SkillArgs, TokenAmount
from skills.context import base_units
from skills.effects import TxEffect, TypedDataEffect
from skills.errors import PlanError
from skills.tx import call_effect, send_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner
    from wallet.typed_data import Deal

HOLD_SLACK = 600
"""Seconds a deal's hold outlives its deadline: the deadline is the chain's clock, the hold's this one."""

Signature = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="a 65-byte EIP-712 signature, 0x hex")


class DealTerms(SkillArgs):
    """A deal as both parties sign it."""

    buyer: Address
    seller: Address
    token: str = Field(min_length=1, max_length=64, description="token symbol (e.g. TUSD) or 0x address")
    amount: TokenAmount
    terms_hash: Bytes32 = Field(description="keccak256 of the agreed terms (binds the delivery)")
    deadline: int = Field(ge=1, lt=2**64, description="unix seconds after which the buyer may be refunded")
    nonce: int = Field(ge=0, lt=2**256, description="makes otherwise equal deals distinct")


def _deal(ctx: SkillContext, terms: DealTerms) -> Deal:
    from wallet.typed_data import Deal

    token = ctx.token(terms.token)
    return Deal(
        buyer=terms.buyer,
        seller=terms.seller,
        token=token.address,
        amount=base_units(terms.amount, token),
        terms_hash=bytes.fromhex(terms.terms_hash[2:]),
        deadline=terms.deadline,
        nonce=terms.nonce,
    )


build_deal = _deal
"""The Deal both parties sign for `terms`; public so that the runtime checks a peer's signature over the
very Deal this skill signs (runtime/negotiation/settlement.py)."""


def _role(ctx: SkillContext, terms: DealTerms) -> str:
    me = ctx.agent_address.lower()
    if terms.buyer.lower() == me:
        return "buyer"
    if terms.seller.lower() == me:
        return "seller"
    return "none"


def _other(ctx: SkillContext, terms: DealTerms, role: str) -> Counterparty:
    return ctx.counterparty(terms.buyer if role == "seller" else terms.seller)


def _token_fields(ctx: SkillContext, terms: DealTerms, role: str) -> dict[str, Any]:
    if role != "buyer":
        return {}
    return {"token": ctx.token(terms.token).address, "amount": terms.amount}


def hold_key(deal_id: bytes) -> str:
    """The budget hold of the deal whose EIP-712 digest (DealEscrow's deal id) is `deal_id`."""
    return "deal:0x" + deal_id.hex()


class SignDeal(Skill[DealTerms]):
    """Sign a Deal (EIP-712) as its buyer or seller, for the DealEscrow contract. The buyer's signature
    commits `amount` of `token`; the seller's commits nothing from its wallet."""

    name = "sign_deal"
    args_model = DealTerms

    def plan(self, ctx: SkillContext, args: DealTerms) -> Planned[DealTerms]:
        from wallet.typed_data import deal_typed_data, typed_data_digest

        role = _role(ctx, args)
        if role == "none":
            raise PlanError(
                f"this agent ({ctx.agent_address}) is neither the buyer nor the seller of the deal"
            )
        deal = _deal(ctx, args)
        if deal.amount == 0:
            raise PlanError("a deal of 0 cannot be opened: give a positive amount")
        message = deal_typed_data(deal, ctx.chain_id, ctx.contract("DealEscrow").address)
        effect = TypedDataEffect(typed_data_digest(message), "Deal", message)
        intent = ctx.intent(
            self.name,
            counterparty=_other(ctx, args, role),
            typed_data_primary_type="Deal",
            **_token_fields(ctx, args, role),
        )
        budget = None
        if role == "buyer":
            budget = BudgetUse("hold", hold_key(effect.digest), until=args.deadline + HOLD_SLACK)
        return Planned(intent, args, (effect,), budget=budget)

    async def run(
        self, ctx: SkillContext, planned: Planned[DealTerms], signer: NarrowSigner
    ) -> dict[str, Any]:
        effect = planned.effect(TypedDataEffect)
        signature = signer.sign_typed_data(dict(effect.full_message))
        return {
            "deal_id": "0x" + effect.digest.hex(),
            "signature": "0x" + signature.hex(),
            "role": _role(ctx, planned.args),
        }


class OpenArgs(SkillArgs):
    deal: DealTerms
    buyer_signature: str = Signature
    seller_signature: str = Signature


class OpenEscrow(Skill[OpenArgs]):
    """Open a signed Deal in DealEscrow: it pulls `amount` of `token` from the buyer (who must have
    approved the escrow). Spends the buyer's budget when this agent is the buyer."""

    name = "open_escrow"
    args_model = OpenArgs

    def plan(self, ctx: SkillContext, args: OpenArgs) -> Planned[OpenArgs]:
        from wallet.typed_data import deal_digest

        role = _role(ctx, args.deal)
        deal = _deal(ctx, args.deal)
        escrow = ctx.contract("DealEscrow")
        sigs = bytes.fromhex(args.buyer_signature[2:]), bytes.fromhex(args.seller_signature[2:])
        effect, selector = call_effect(ctx, escrow, "open", deal.as_tuple(), *sigs)
        intent = ctx.intent(
            self.name,
            counterparty=_other(ctx, args.deal, role),
            contract=escrow.name,
            method="open",
            selector=selector,
            **_token_fields(ctx, args.deal, role),
        )
        budget = None
        if role == "buyer":
            budget = BudgetUse("consume", hold_key(deal_digest(deal, ctx.chain_id, escrow.address)))
        return Planned(intent, args, (effect,), budget=budget)

    async def run(
        self, ctx: SkillContext, planned: Planned[OpenArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await _send_with_id(ctx, planned.args.deal, signer, planned.effect(TxEffect))


class DealArgs(SkillArgs):
    deal: DealTerms


class ReleaseEscrow(Skill[DealArgs]):
    """Release an open Deal's escrowed tokens to the seller (the buyer's call). Nothing leaves the
    agent's wallet: the tokens left it when the escrow opened."""

    name = "release_escrow"
    args_model = DealArgs

    def method(self, role: str) -> str:
        """The DealEscrow method this agent calls in `role` (or a PlanError why it may not)."""
        if role != "buyer":
            raise PlanError("only the deal's buyer releases it (or the arbiter, who is not an agent)")
        return "release"

    def plan(self, ctx: SkillContext, args: DealArgs) -> Planned[DealArgs]:
        role = _role(ctx, args.deal)
        method = self.method(role)
        escrow = ctx.contract("DealEscrow")
        effect, selector = call_effect(ctx, escrow, method, _deal(ctx, args.deal).as_tuple())
        intent = ctx.intent(
            self.name,
            counterparty=_other(ctx, args.deal, role),
            contract=escrow.name,
            method=method,
            selector=selector,
        )
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[DealArgs], signer: NarrowSigner
    ) -> dict[str, Any]:
        return await _send_with_id(ctx, planned.args.deal, signer, planned.effect(TxEffect))


class RefundEscrow(ReleaseEscrow):
    """Refund an open Deal's escrowed tokens to its buyer. As the deal's seller: at once, whatever the
    deadline (DealEscrow `cancel`: the seller gives the deal up, e.g. its work failed). As the buyer or
    anyone else: once the deadline has passed (DealEscrow `refund`). Nothing leaves the agent's wallet."""

    name = "refund_escrow"

    def method(self, role: str) -> str:
        return "cancel" if role == "seller" else "refund"


async def _send_with_id(
    ctx: SkillContext, terms: DealTerms, signer: NarrowSigner, effect: TxEffect
) -> dict[str, Any]:
    from wallet.typed_data import deal_digest

    result = await send_effect(ctx, signer, effect)
    digest = deal_digest(_deal(ctx, terms), ctx.chain_id, ctx.contract("DealEscrow").address)
    return {**result, "deal_id": "0x" + digest.hex()}
