"""Is a claimed settlement on the chain? The receipt of the transaction a `PAYMENT-RESPONSE` (or a
facilitator's `/settle`) names must show a Transfer of exactly the offer's amount, in the offer's
token, from the payer to the payee. Both sides ask: the buyer (a merchant that lies) and the seller
(a facilitator that lies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.payments.wire import Requirements
    from wallet.chain import ChainClient

__all__ = ["transfer_on_chain"]


async def transfer_on_chain(chain: ChainClient, offer: Requirements, payer: str, tx: str) -> str | None:
    """None when the receipt of `tx` shows the Transfer `offer` asks for from `payer`; else what is
    missing, in one line."""
    from wallet.contracts import bind
    from wallet.errors import WalletError

    try:
        receipt = await chain.receipt(bytes.fromhex(tx.removeprefix("0x")))
    except (ValueError, WalletError) as exc:
        return f"the settlement transaction {tx[:80]} cannot be looked up ({exc})"
    if receipt is None or not receipt.succeeded:
        return f"the chain shows no successful transaction {tx[:80]}"
    token = bind(chain, "TestUSD", offer.asset)  # any ERC-20 ABI reads the Transfer event
    for event in token.events(receipt, "Transfer"):
        if (
            event["from"].lower() == payer.lower()
            and event["to"].lower() == offer.pay_to.lower()
            and int(event["value"]) == int(offer.amount)
        ):
            return None
    return f"transaction {tx[:80]} moved no {offer.amount} base units from {payer} to {offer.pay_to}"
