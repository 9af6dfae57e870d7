"""Receipts, and reading the node's answers: broadcast outcomes, revert data, missing funds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from wallet.abi import ErrorDecoder, checksum
from wallet.errors import ChainError, InsufficientFunds, RpcError, TransactionReverted, TransactionTimeout
from wallet.rpc import Rpc

if TYPE_CHECKING:
    from wallet.chain import ChainClient

Outcome = Literal["accepted", "known", "nonce_low", "underpriced", "funds", "other"]

# Node messages differ (geth, anvil, erigon, …): match the stable fragments.
_OUTCOMES: tuple[tuple[Outcome, tuple[str, ...]], ...] = (
    ("known", ("already known", "already imported", "known transaction", "alreadyknown")),
    ("nonce_low", ("nonce too low", "nonce is too low", "oldnonce", "invalid nonce")),
    ("underpriced", ("underpriced", "replacement transaction")),
    ("funds", ("insufficient funds", "insufficient balance")),
)


@dataclass(frozen=True)
class Receipt:
    """A mined transaction's receipt. `logs` are raw JSON-RPC logs (see `ContractBinding.events`)."""

    tx_hash: bytes
    status: int
    block_number: int
    gas_used: int
    effective_gas_price: int
    sender: str
    to: str | None
    contract_address: str | None
    logs: list[dict[str, Any]]

    @property
    def succeeded(self) -> bool:
        return self.status == 1

    @property
    def tx_hash_hex(self) -> str:
        return "0x" + self.tx_hash.hex()


def parse_receipt(raw: dict[str, Any]) -> Receipt:
    return Receipt(
        tx_hash=bytes.fromhex(str(raw["transactionHash"])[2:]),
        status=int(raw.get("status", "0x1"), 16),
        block_number=int(raw["blockNumber"], 16),
        gas_used=int(raw["gasUsed"], 16),
        effective_gas_price=int(raw.get("effectiveGasPrice") or "0x0", 16),
        sender=checksum(raw["from"]),
        to=checksum(raw["to"]) if raw.get("to") else None,
        contract_address=checksum(raw["contractAddress"]) if raw.get("contractAddress") else None,
        logs=list(raw.get("logs") or []),
    )


def broadcast_outcome(exc: RpcError) -> Outcome:
    message = str(exc).lower()
    for outcome, fragments in _OUTCOMES:
        if any(f in message for f in fragments):
            return outcome
    return "other"


def revert_data(exc: RpcError) -> bytes:
    data = exc.data or ""
    try:
        return bytes.fromhex(data[2:]) if data.startswith("0x") else b""
    except ValueError:
        return b""


def eth(wei: int) -> str:
    """Wei as an ETH amount without float rounding, e.g. "0.000042 ETH"."""
    text = format(Decimal(wei) / Decimal(10**18), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} ETH"


async def funds_error(client: ChainClient, sender: str, tx: dict[str, Any]) -> InsufficientFunds:
    """The InsufficientFunds for `tx` from `sender`, with what it needs and what it has."""
    price = int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0)
    gas = int(tx.get("gas") or 21000)
    value = int(tx.get("value") or 0)
    needed = value + gas * price
    try:
        have = await client.balance(sender)
        has = eth(have)
    except RpcError:
        has = "an unknown amount"
    return InsufficientFunds(
        f"insufficient funds on {sender} (chain {client.chain_id}): the transaction needs {eth(needed)} "
        f"(value {eth(value)} + gas {gas} x {price} wei) but it has {has}: fund it with `sova chain fund` "
        "(anvil_setBalance on the local chain) or send it native currency"
    )


def rpc_tx(tx: dict[str, Any]) -> dict[str, Any]:
    """A transaction dict in JSON-RPC form (hex quantities), for eth_call and eth_estimateGas."""
    out: dict[str, Any] = {}
    for key in ("from", "to", "data", "value", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
        value = tx.get(key)
        if value is None:
            continue
        if isinstance(value, bytes | bytearray):
            out[key] = "0x" + bytes(value).hex()
        elif isinstance(value, int):
            out[key] = hex(value)
        else:
            out[key] = value
    return out


async def tx_from_node(rpc: Rpc, tx_hash: bytes, chain_id: int) -> dict[str, Any]:
    """The unsigned fields of a transaction the node knows, as a dict `Signer.sign_transaction` takes."""
    raw = await rpc.request("eth_getTransactionByHash", ["0x" + tx_hash.hex()])
    if not raw:
        raise ChainError(f"transaction 0x{tx_hash.hex()} is unknown to the node at {rpc.url}")
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": int(raw["nonce"], 16),
        "gas": int(raw["gas"], 16),
        "value": int(raw["value"], 16),
        "data": raw.get("input", "0x"),
    }
    if raw.get("to"):
        tx["to"] = raw["to"]
    if raw.get("maxFeePerGas"):
        tx["maxFeePerGas"] = int(raw["maxFeePerGas"], 16)
        tx["maxPriorityFeePerGas"] = int(raw["maxPriorityFeePerGas"], 16)
    else:
        tx["gasPrice"] = int(raw["gasPrice"], 16)
    return tx


def call_revert(
    errors: ErrorDecoder, exc: RpcError, tx: dict[str, Any], chain_id: int, what: str
) -> ChainError:
    """TransactionReverted for a call or estimation the node refused with a revert, else `exc` itself."""
    if exc.code != 3 and "revert" not in str(exc).lower():
        return exc
    data = revert_data(exc)
    return TransactionReverted(
        f"{what} of a transaction to {tx.get('to') or 'a new contract'} reverted on chain "
        f"{chain_id}: {errors.describe(data)}; nothing was sent",
        error=errors.decode(data),
        data=data,
    )


async def mined_revert(
    rpc: Rpc, errors: ErrorDecoder, receipt: Receipt, chain_id: int
) -> TransactionReverted:
    """TransactionReverted for a mined status-0 transaction. Receipts carry no revert data, so the
    transaction is replayed as a call on the state of the block before."""
    data = b""
    try:
        tx = await tx_from_node(rpc, receipt.tx_hash, chain_id)
        await rpc.request("eth_call", [rpc_tx({**tx, "from": receipt.sender}), hex(receipt.block_number - 1)])
    except RpcError as exc:
        data = revert_data(exc)
    except ChainError:
        pass
    return TransactionReverted(
        f"transaction 0x{receipt.tx_hash.hex()} from {receipt.sender} to "
        f"{receipt.to or 'a new contract'} reverted in block {receipt.block_number} on chain "
        f"{chain_id}: {errors.describe(data)}",
        error=errors.decode(data),
        data=data,
        tx_hash=receipt.tx_hash,
    )


def timeout_error(tx_hash: bytes, who: str, timeout: float, chain_id: int, url: str) -> TransactionTimeout:
    return TransactionTimeout(
        f"no receipt for transaction 0x{tx_hash.hex()}{who} after {timeout:g} s on chain {chain_id} "
        f"at {url}: it stays in the outbox and is re-sent on restart; wait longer, or pass a signer "
        "and stuck_after to replace it with higher fees"
    )
