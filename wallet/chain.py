"""The chain client: fills, signs, stores, broadcasts and waits for transactions, crash-safely.

`send` fills chainId, nonce, gas and EIP-1559 fees, signs, **commits the signed bytes to the outbox,
then broadcasts**. If the process dies anywhere in between, the next `ChainClient.connect` over the
same outbox re-sends those exact bytes (`recover`): the chain sees the signed transaction once, with
the same hash, and never a second, freshly signed one. Nonces come from a per-address NonceManager
that starts at the node's pending nonce or past the outbox's pending entries.

Nonce gaps after a restart (decision): when the outbox holds nonce N+2 but N+1 was never stored
(a crash between two concurrent signings, or a rejected transaction), N+1 cannot be re-sent: there
are no bytes for it. Recovery reports the gap (`RecoveryReport.gaps`) and hands N+1 to the next
transaction from that address, which fills it; no filler transaction is invented. A gap wider than
`wallet.recovery.MAX_GAP` means the outbox does not belong to this chain's history (a reset chain):
NonceError, whose message says to move the outbox away.

Stuck transactions: `wait(..., signer=s, stuck_after=t)` re-signs the same nonce with both fees
raised ≥ 12.5 % (+1 wei) every `t` seconds without a receipt; each version is stored first, and the
mined one is marked `mined`, the others `replaced`.

Transport faults are retried with bounded backoff (`wallet.rpc`); reverts never are. Broadcasts go
out per sender in nonce order, batched (`wallet.broadcast`); receipts are collected per new block
by one poller (`wallet.poller`). Outbox writes are single short SQLite statements on the event loop
(~0.1 ms each, three per transaction; measured in bench/wallet.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wallet.abi import ErrorDecoder
from wallet.broadcast import Broadcaster
from wallet.errors import NonceError, RpcError, RpcUnavailable, TransactionTimeout
from wallet.fees import FeeOracle, bumped_fees, fill_transaction
from wallet.nonces import NonceManager, NonceStart
from wallet.outbox import Outbox, OutboxEntry
from wallet.poller import ReceiptPoller
from wallet.receipts import (
    Receipt,
    broadcast_outcome,
    call_revert,
    funds_error,
    mined_revert,
    parse_receipt,
    rpc_tx,
    timeout_error,
    tx_from_node,
)
from wallet.recovery import RecoveryReport, nonce_start, recover_pending
from wallet.rpc import Rpc
from wallet.signer import SignedTransaction, SignerLike

log = logging.getLogger(__name__)

_FEE_KEYS = ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas")
Hook = Callable[[SignedTransaction], None]


class ChainClient:
    """Async client of one EVM node. Build it with `await ChainClient.connect(url, outbox=...)`.

    `stuck_after` (s): how long `transact` waits for a receipt before replacing the transaction with
    higher fees (None: never). `fee_ttl` (s): how long fetched fees are reused. `poll_interval`,
    `max_poll_interval`: receipt polling pace while something is pending."""

    def __init__(
        self,
        rpc: Rpc,
        chain_id: int,
        outbox: Outbox | None = None,
        *,
        fee_ttl: float = 2.0,
        stuck_after: float | None = 30.0,
        poll_interval: float = 0.01,
        max_poll_interval: float = 1.0,
        on_recorded: Hook | None = None,
        on_broadcast: Hook | None = None,
    ) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.outbox = outbox
        self.stuck_after = stuck_after
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        # Test and tracing hooks: called right after the outbox commit / right after the node took it.
        self.on_recorded = on_recorded
        self.on_broadcast = on_broadcast
        self.errors = ErrorDecoder()
        self.fees = FeeOracle(rpc, ttl=fee_ttl)
        self.nonces = NonceManager(self._start_sender)
        self.poller = ReceiptPoller(rpc, poll_interval, max_poll_interval)
        self.broadcaster = Broadcaster(rpc)
        self.last_recovery: RecoveryReport | None = None  # what `connect` recovered
        self._recovered: set[str] = set()
        self._unsure: set[str] = set()  # senders with a stored transaction the node may not have

    @classmethod
    async def connect(
        cls,
        rpc_url: str,
        *,
        outbox: Outbox | None = None,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        request_timeout: float = 10.0,
        recover: bool = True,
        **options: Any,
    ) -> ChainClient:
        """Connect (RpcUnavailable after `retries` bounded tries) and, with an outbox, re-send what a
        previous run stored but may not have broadcast (see `recover`)."""
        rpc = Rpc(rpc_url, retries=retries, backoff=backoff, max_backoff=max_backoff, timeout=request_timeout)
        try:
            chain_id = int(await rpc.request("eth_chainId", []), 16)
            client = cls(rpc, chain_id, outbox, **options)
            if outbox is not None and recover:
                client.last_recovery = await client.recover()
        except BaseException:
            await rpc.close()
            raise
        return client

    @property
    def url(self) -> str:
        return self.rpc.url

    def __repr__(self) -> str:
        return f"ChainClient({self.url!r}, chain_id={self.chain_id})"

    async def close(self) -> None:
        await self.broadcaster.close()
        await self.poller.close()
        await self.rpc.close()

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def register_abi(self, abi: Sequence[Mapping[str, Any]]) -> None:
        """Let reverts from contracts with this ABI be reported by their custom error names."""
        self.errors.add_abi(abi)

    # ----------------------------------------------------------------- reads

    async def block_number(self) -> int:
        return int(await self.rpc.request("eth_blockNumber", []), 16)

    async def balance(self, address: str, block: str = "latest") -> int:
        """Native balance in wei."""
        return int(await self.rpc.request("eth_getBalance", [address, block]), 16)

    async def nonce(self, address: str, block: str = "pending") -> int:
        """The node's transaction count of `address` (with `pending`: including its mempool)."""
        return int(await self.rpc.request("eth_getTransactionCount", [address, block]), 16)

    async def code(self, address: str) -> bytes:
        return bytes.fromhex(str(await self.rpc.request("eth_getCode", [address, "latest"]))[2:])

    async def call(self, tx: dict[str, Any], block: str | int = "latest") -> bytes:
        """eth_call; a revert raises TransactionReverted with the decoded error."""
        tag = hex(block) if isinstance(block, int) else block
        try:
            result = await self.rpc.request("eth_call", [rpc_tx(tx), tag])
        except RpcError as exc:
            raise call_revert(self.errors, exc, tx, self.chain_id, "call") from None
        return bytes.fromhex(str(result)[2:])

    async def estimate_gas(self, tx: dict[str, Any]) -> int:
        """eth_estimateGas; a revert raises TransactionReverted with the decoded error."""
        try:
            return int(await self.rpc.request("eth_estimateGas", [rpc_tx(tx)]), 16)
        except RpcError as exc:
            if broadcast_outcome(exc) == "funds":
                raise await funds_error(self, str(tx.get("from")), tx) from None
            raise call_revert(self.errors, exc, tx, self.chain_id, "gas estimation") from None

    async def receipt(self, tx_hash: bytes) -> Receipt | None:
        raw = await self.rpc.request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
        return parse_receipt(raw) if raw else None

    # ----------------------------------------------------------------- sending

    async def send(self, signer: SignerLike, tx: dict[str, Any], *, purpose: str = "") -> bytes:
        """Fill, sign, store, broadcast; the transaction hash. Does not wait for the receipt."""
        sender = signer.address
        if sender in self._unsure:
            # A broadcast failed on transport: re-send what is stored before adding a later nonce.
            await self.recover(sender)
        body = await self._prepare(sender, tx)
        for attempt in (1, 2):
            nonce = await self.nonces.allocate(sender)
            # No await from allocate to record: every allocated nonce is in the outbox at any
            # point where another coroutine (or a crash) could look.
            full = {**body, "nonce": nonce}
            try:
                signed = signer.sign_transaction(full)
            except BaseException:
                # Not signed (a paused agent, a refused transaction): nothing holds this nonce, and a
                # gap would keep every later transaction of the sender out of blocks.
                self.nonces.release(sender, nonce)
                raise
            self._record(sender, full, signed, purpose)
            outcome, err = await self._broadcast(sender, signed)
            if outcome in ("accepted", "known"):
                return signed.hash
            if outcome == "nonce_low" and await self.receipt(signed.hash) is not None:
                return signed.hash  # an earlier try of this very request got through
            if outcome in ("nonce_low", "underpriced"):
                # Another transaction holds this nonce (the key is used elsewhere): re-read the
                # node's nonce and sign once more; the stored version is marked failed.
                self._mark(signed.hash, "failed", f"nonce {nonce} taken by a transaction not in the outbox")
                self.nonces.forget(sender)
                if attempt == 1:
                    continue
                raise NonceError(
                    f"nonce {nonce} of {sender} on chain {self.chain_id} is taken by a transaction this "
                    "client did not send, twice: is the key used by another process? Stop it and retry"
                )
            self._mark(signed.hash, "failed", str(err))
            self.nonces.release(sender, nonce)
            if outcome == "funds":
                raise await funds_error(self, sender, full)
            assert err is not None
            raise RpcError(f"{err}: the transaction was not sent", code=err.code, data=err.data)
        raise AssertionError("unreachable")

    async def wait(
        self,
        tx_hash: bytes,
        timeout: float = 120.0,  # noqa: ASYNC109 - a polling deadline that also paces fee bumps
        *,
        signer: SignerLike | None = None,
        stuck_after: float | None = None,
    ) -> Receipt:
        """The receipt of `tx_hash` (or of a fee-bumped version of it). With a signer, a transaction
        without a receipt after `stuck_after` s (default: the client's) is replaced with higher fees.
        Status 0 raises TransactionReverted with the decoded error."""
        stuck = stuck_after if stuck_after is not None else self.stuck_after
        deadline = time.monotonic() + timeout
        if not self.poller.busy:
            # Alone: one direct request (on an automining node the receipt is already there).
            receipt = await self.receipt(tx_hash)
            if receipt is not None:
                return await self._settle(receipt)
        hashes = [tx_hash]
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise self._timeout(tx_hash, timeout)
            can_bump = signer is not None and stuck is not None
            step = min(deadline - now, stuck) if can_bump and stuck is not None else deadline - now
            fut = self.poller.watch(hashes)
            try:
                raw = await asyncio.wait_for(asyncio.shield(fut), step)
            except TimeoutError:
                self.poller.unwatch(fut)
                if can_bump and signer is not None and time.monotonic() < deadline:
                    # The poller may be between rounds: look once more before paying for a bump.
                    for h in reversed(hashes):
                        if (receipt := await self.receipt(h)) is not None:
                            return await self._settle(receipt)
                    new = await self.replace(signer, hashes[-1])
                    if new not in hashes:
                        hashes.append(new)
                continue
            return await self._settle(parse_receipt(raw))

    async def transact(
        self,
        signer: SignerLike,
        tx: dict[str, Any],
        *,
        purpose: str = "",
        timeout: float = 120.0,  # noqa: ASYNC109 - passed on to wait
        stuck_after: float | None = None,
    ) -> Receipt:
        """`send`, then `wait` (replacing the transaction if it gets stuck)."""
        tx_hash = await self.send(signer, tx, purpose=purpose)
        return await self.wait(tx_hash, timeout, signer=signer, stuck_after=stuck_after)

    async def replace(self, signer: SignerLike, tx_hash: bytes) -> bytes:
        """Re-sign the transaction `tx_hash` with the same nonce and fees raised ≥ 12.5 %, store it as a
        new version, broadcast it; the hash of whichever version is now in play."""
        entry = self.outbox.get(tx_hash) if self.outbox else None
        tx = dict(entry.tx) if entry else await tx_from_node(self.rpc, tx_hash, self.chain_id)
        if entry is not None and entry.status == "mined":
            return tx_hash
        self.fees.invalidate()
        new = {k: v for k, v in tx.items() if k not in _FEE_KEYS}
        new.update(bumped_fees(tx, await self.fees.current()))
        signed = signer.sign_transaction(new)
        self._record(signer.address, new, signed, entry.purpose if entry else "fee bump", replaces=entry)
        outcome, err = await self._broadcast(signer.address, signed)
        if outcome in ("accepted", "known"):
            log.info(
                "replaced stuck tx 0x%s by 0x%s (nonce %d)", tx_hash.hex(), signed.hash.hex(), signed.nonce
            )
            if entry is not None:
                self._mark(tx_hash, "replaced")
            return signed.hash
        # Most likely the old version was mined meanwhile ("nonce too low"): keep waiting for it.
        self._mark(signed.hash, "failed", str(err))
        return tx_hash

    async def recover(self, sender: str | None = None) -> RecoveryReport:
        """Re-broadcast the stored bytes of every pending outbox entry of this chain (of `sender`, or
        of all senders) — never a new transaction — and mark what is mined; see the module docstring
        for gaps. Call it before sending (connect does); the first send from an address also does."""
        report = await recover_pending(self, sender)
        if sender is None:
            self._unsure.clear()
        else:
            self._unsure.discard(sender)
        for address in report.senders:
            if not self.nonces.is_started(address):
                self.nonces.set_start(address, await nonce_start(self, address, report))
            self._recovered.add(address)
        return report

    # ----------------------------------------------------------------- internals

    async def _start_sender(self, address: str) -> NonceStart:
        if self.outbox is not None and address not in self._recovered:
            report = await recover_pending(self, address)
            self._recovered.add(address)
            return await nonce_start(self, address, report)
        return await nonce_start(self, address, None)

    async def _prepare(self, sender: str, tx: dict[str, Any]) -> dict[str, Any]:
        return await fill_transaction(tx, sender, self.chain_id, self.fees, self.estimate_gas)

    def _record(
        self,
        sender: str,
        tx: dict[str, Any],
        signed: SignedTransaction,
        purpose: str,
        replaces: OutboxEntry | None = None,
    ) -> None:
        if self.outbox is not None:
            self.outbox.record(
                chain_id=self.chain_id,
                sender=sender,
                nonce=signed.nonce,
                raw=signed.raw,
                tx_hash=signed.hash,
                tx=tx,
                purpose=purpose,
                replaces=replaces,
            )
        if self.on_recorded is not None:
            self.on_recorded(signed)

    def _mark(self, tx_hash: bytes, status: Any, error: str | None = None) -> None:
        if self.outbox is not None:
            self.outbox.mark(tx_hash, status, error=error)

    async def _broadcast(self, sender: str, signed: SignedTransaction) -> tuple[str, RpcError | None]:
        """Send the raw bytes (in nonce order per sender, see wallet.broadcast); the outcome is
        "accepted" | "known" | "nonce_low" | "underpriced" | "funds" | "other", with the node's error.
        RpcUnavailable propagates: the entry stays `signed` and is re-sent by the next recovery."""
        try:
            answer = await self.broadcaster.send(sender, signed.raw)
        except RpcUnavailable:
            self._unsure.add(sender)
            raise
        if isinstance(answer, RpcError):
            outcome = broadcast_outcome(answer)
            if outcome == "known":
                self._sent(signed)
            return outcome, answer
        self._sent(signed)
        return "accepted", None

    def _sent(self, signed: SignedTransaction) -> None:
        self._mark(signed.hash, "sent")
        if self.on_broadcast is not None:
            self.on_broadcast(signed)

    async def _settle(self, receipt: Receipt, *, raise_on_revert: bool = True) -> Receipt:
        if self.outbox is not None:
            self.outbox.mark_mined(
                receipt.tx_hash, block_number=receipt.block_number, receipt_status=receipt.status
            )
        if receipt.status == 0 and raise_on_revert:
            raise await mined_revert(self.rpc, self.errors, receipt, self.chain_id)
        return receipt

    def _timeout(self, tx_hash: bytes, timeout: float) -> TransactionTimeout:
        entry = self.outbox.get(tx_hash) if self.outbox else None
        who = f" (nonce {entry.nonce} from {entry.sender})" if entry else ""
        return timeout_error(tx_hash, who, timeout, self.chain_id, self.url)
