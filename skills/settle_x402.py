"""`settle_x402`: a facilitator submits a payer's EIP-3009 authorization to the token
(`transferWithAuthorization`), paying only the gas. The facilitator's key signs that one transaction;
the Intent names the contract, the method and the payer (as the counterparty), and no amount, since
nothing leaves the facilitator's wallet but gas. `run` checks the receipt's Transfer event: the token
moved exactly `value` from the payer to the payee, or the settlement is reported as failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from skills.base import Address, Bytes32, Planned, Skill, SkillArgs
from skills.effects import TxEffect
from skills.errors import SkillRunError
from skills.tx import call_effect

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner

__all__ = ["SettleX402", "SettleX402Args"]

_Uint = Field(pattern=r"^[0-9]{1,78}$", description="a uint256 as a decimal string")


class SettleX402Args(SkillArgs):
    """An EIP-3009 authorization and its signature, for the token at `asset`."""

    asset: Address
    payer: Address
    payee: Address
    value: str = _Uint
    valid_after: str = _Uint
    valid_before: str = _Uint
    nonce: Bytes32
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte signature, 0x hex")


def _authorization_args(args: SettleX402Args) -> tuple[Any, ...]:
    from wallet.eip3009 import TransferAuthorization, split_signature

    auth = TransferAuthorization(
        args.payer, args.payee, int(args.value), int(args.valid_after), int(args.valid_before),
        bytes.fromhex(args.nonce[2:]),
    )  # fmt: skip
    return (*auth.args(), *split_signature(bytes.fromhex(args.signature[2:])))


class SettleX402(Skill[SettleX402Args]):
    """Settle an x402 `exact` payment: submit the payer's EIP-3009 authorization to the token (this
    agent pays the gas, nothing else)."""

    name = "settle_x402"
    args_model = SettleX402Args

    def plan(self, ctx: SkillContext, args: SettleX402Args) -> Planned[SettleX402Args]:
        token = ctx.token(args.asset)
        contract, binding = ctx.token_binding(token)
        effect, selector = call_effect(ctx, binding, "transferWithAuthorization", *_authorization_args(args))
        intent = ctx.intent(
            self.name,
            counterparty=ctx.counterparty(args.payer),
            contract=contract,
            method="transferWithAuthorization",
            selector=selector,
        )
        return Planned(intent, args, (effect,))

    async def run(
        self, ctx: SkillContext, planned: Planned[SettleX402Args], signer: NarrowSigner
    ) -> dict[str, Any]:
        from wallet.errors import TransactionReverted

        effect = planned.effect(TxEffect)
        chain = ctx.require_chain()
        _, binding = ctx.token_binding(ctx.token(planned.args.asset))
        try:
            receipt = await chain.transact(signer, effect.tx(), purpose=effect.label, timeout=ctx.tx_timeout)
        except TransactionReverted as exc:
            raise SkillRunError(f"{effect.label} reverted: {exc.error or exc}") from None
        args = planned.args
        moved = any(
            e["from"].lower() == args.payer.lower() and e["to"].lower() == args.payee.lower()
            and int(e["value"]) == int(args.value)
            for e in binding.events(receipt, "Transfer")
        )  # fmt: skip
        if not moved:
            raise SkillRunError(
                f"transaction {receipt.tx_hash_hex} shows no Transfer of the authorized amount"
            )
        return {
            "tx_hash": receipt.tx_hash_hex,
            "block_number": receipt.block_number,
            "gas_used": receipt.gas_used,
        }
