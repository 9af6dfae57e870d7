"""Contract calls as effects: encode one in `plan`, send it in `run` with the narrow signer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skills.effects import TxEffect
from skills.errors import PlanError, SkillRunError

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner
    from wallet.contracts import ContractBinding


def call_effect(ctx: SkillContext, binding: ContractBinding, fn: str, *args: Any) -> tuple[TxEffect, str]:
    """The TxEffect calling `binding.fn(*args)` and the call's 4-byte selector (0x hex)."""
    from wallet.errors import ChainError

    try:
        data = binding.encode(fn, *args)
    except ChainError as exc:
        raise PlanError(str(exc)) from None
    effect = TxEffect(
        to=binding.address, data=data, value=0, chain_id=ctx.chain_id, label=f"{binding.name}.{fn}"
    )
    return effect, "0x" + data[:4].hex()


async def send_effect(ctx: SkillContext, signer: NarrowSigner, effect: TxEffect) -> dict[str, Any]:
    """Send the approved transaction, wait for its receipt; a JSON-ready summary. A revert raises
    SkillRunError with the decoded contract error; transport problems propagate as WalletError."""
    from wallet.errors import TransactionReverted

    chain = ctx.require_chain()
    try:
        receipt = await chain.transact(signer, effect.tx(), purpose=effect.label, timeout=ctx.tx_timeout)
    except TransactionReverted as exc:
        raise SkillRunError(f"{effect.label} reverted: {exc}") from None
    return {
        "tx_hash": receipt.tx_hash_hex,
        "block_number": receipt.block_number,
        "gas_used": receipt.gas_used,
        "status": receipt.status,
    }
