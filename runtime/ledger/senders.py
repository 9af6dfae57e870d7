"""Who signs an anchor transaction: `ExecutorAnchorSender` (agents: through the executor's `anchor_log`
skill, so policy, the pause switch and the ledger apply like to every signature, DESIGN §3) or
`SignerAnchorSender` (tools and tests holding the wallet signer). runtime/ledger/anchor.py runs the
anchoring round that calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from runtime.ledger.ledger import LedgerError

if TYPE_CHECKING:
    from wallet.contracts import ActionLogAnchor
    from wallet.signer import Signer


class AnchorSender(Protocol):
    """Sends `anchor(root, from, to)` from the agent's wallet and returns the transaction hash.

    Agents use `ExecutorAnchorSender`, so the anchoring goes through policy, the pause switch and
    the ledger like every other signature (DESIGN §3); tests and benches may pass a bare Signer,
    which `as_sender` wraps in `SignerAnchorSender`."""

    @property
    def address(self) -> str: ...

    async def __call__(self, anchor: ActionLogAnchor, root: bytes, from_seq: int, to_seq: int) -> bytes: ...


class SignerAnchorSender:
    """Signs the anchor transaction directly: for tools and tests that hold the wallet signer."""

    def __init__(self, signer: Signer, timeout: float = 120.0) -> None:
        self.signer = signer
        self.timeout = timeout

    @property
    def address(self) -> str:
        return self.signer.address

    async def __call__(self, anchor: ActionLogAnchor, root: bytes, from_seq: int, to_seq: int) -> bytes:
        tx = anchor.anchor_tx(root, from_seq, to_seq)
        purpose = f"ledger anchor {from_seq}..{to_seq}"
        receipt = await anchor.client.transact(self.signer, tx, purpose=purpose, timeout=self.timeout)
        return receipt.tx_hash


class _Outcome(Protocol):
    """The part of the executor's Outcome that anchoring reads."""

    @property
    def ok(self) -> bool: ...

    @property
    def result(self) -> dict[str, Any] | None: ...

    def message(self) -> str: ...


class Executes(Protocol):
    """What `ExecutorAnchorSender` needs of the executor's Executor: the ledger layer sits below it."""

    async def execute(self, skill_name: str, args: Any, origin: str) -> _Outcome: ...


class ExecutorAnchorSender:
    """Anchors through the executor's `anchor_log` skill: policy, pause and ledger included."""

    def __init__(self, executor: Executes, address: str, origin: str = "scheduler") -> None:
        self.executor = executor
        self._address = address
        self.origin = origin

    @property
    def address(self) -> str:
        return self._address

    async def __call__(self, anchor: ActionLogAnchor, root: bytes, from_seq: int, to_seq: int) -> bytes:
        # The skill reads the same pending round from the ledger; `_send` checks the mined root.
        outcome = await self.executor.execute("anchor_log", {}, origin=self.origin)
        if not outcome.ok:
            raise LedgerError(f"anchoring {from_seq}..{to_seq} was not done: {outcome.message()}")
        tx_hash = (outcome.result or {}).get("tx_hash")
        if not isinstance(tx_hash, str):
            raise LedgerError(f"anchoring {from_seq}..{to_seq}: the anchor_log skill reported no transaction")
        return bytes.fromhex(tx_hash.removeprefix("0x"))


def as_sender(signer: Signer | AnchorSender) -> AnchorSender:
    """A Signer becomes a SignerAnchorSender; an AnchorSender is used as it is."""
    from wallet.signer import Signer

    return SignerAnchorSender(signer) if isinstance(signer, Signer) else signer
