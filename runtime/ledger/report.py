"""What `verify_ledger` found: the report, the problems it names, and the anchors it checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Problem = Literal[
    "edited",
    "deleted",
    "reordered",
    "bad_signature",
    "wrong_signer",
    "anchor_mismatch",
    "truncated",
    "anchor_missing",
]
SignatureMode = Literal["all", "checkpoints"]


@dataclass(frozen=True)
class OnchainAnchor:
    """One `Anchored` event of the agent's wallet, as the chain reports it."""

    root: bytes
    from_seq: int
    to_seq: int
    tx_hash: bytes
    block: int
    log_index: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "root": "0x" + self.root.hex(),
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "tx": "0x" + self.tx_hash.hex(),
            "block": self.block,
        }


@dataclass
class VerifyReport:
    """The outcome of `verify_ledger`. `anchors_checked` is None when the chain was not consulted
    (`anchors_note` says why)."""

    path: Path
    ok: bool = True
    entries: int = 0
    last_seq: int = 0
    did: str | None = None
    wallet: str | None = None
    first_bad: int | None = None
    problem: Problem | None = None
    detail: str = ""
    signatures: SignatureMode = "all"
    signatures_checked: int = 0
    anchors_checked: int | None = None
    anchored_to: int = 0
    anchors_note: str = ""
    seconds: float = 0.0
    anchors: list[OnchainAnchor] = field(default_factory=list)
    peer_witnesses: int | None = None  # heads other agents were sent, checked (None: not looked for)
    peer_witnesses_ignored: int = 0  # of those, not signed by the ledger's key

    def fail(self, seq: int, problem: Problem, detail: str) -> None:
        if self.first_bad is None or seq < self.first_bad:
            self.ok, self.first_bad, self.problem, self.detail = False, seq, problem, detail

    def covering_anchor(self, seq: int) -> OnchainAnchor | None:
        return next((a for a in self.anchors if a.from_seq <= seq <= a.to_seq), None)

    def message(self) -> str:
        """One line for a person: what is wrong, where, and how to fix it (or what was checked)."""
        where = f"ledger {self.path}"
        if not self.ok:
            return f"{where}: {self.detail}: {self._fix()}"
        sigs = "every signature" if self.signatures == "all" else "checkpoint signatures"
        text = f"{where}: {self.entries} entries valid (hash chain and {sigs} by {self.did})"
        text += self._peer_note()
        if self.anchors_checked is None:
            return f"{text}; anchors not checked: {self.anchors_note}"
        if not self.anchors_checked:
            return f"{text}; no on-chain anchors yet for wallet {self.wallet}"
        newer = self.last_seq - self.anchored_to
        return (
            f"{text}; {self.anchors_checked} on-chain anchors of wallet {self.wallet} match entries 1.."
            f"{self.anchored_to}" + (f" ({newer} newer entries not anchored yet)" if newer else "")
        )

    def _peer_note(self) -> str:
        """How many heads other agents were sent (runtime/ledger/peer_heads.py) were checked."""
        if self.peer_witnesses is None:
            return ""
        n, ignored = self.peer_witnesses, self.peer_witnesses_ignored
        return f"; {n} peer witness{'' if n == 1 else 'es'} of its head checked" + (
            f" ({ignored} not signed by its key, ignored)" if ignored else ""
        )

    def _fix(self) -> str:
        if self.problem == "anchor_missing":
            return (
                "the chain went back (a rollback or a reset): a running agent re-sends the anchor from "
                "its outbox within seconds (`sova status` shows the chain's health); if the chain was "
                "reset, these entries can no longer be proved on it"
            )
        if self.problem in ("wrong_signer", "anchor_mismatch"):
            return "the file is not the log the agent wrote and anchored: restore it from a backup"
        fix = "restore the file from a backup"
        anchor = self.covering_anchor(self.first_bad or 0)
        if anchor is not None:
            fix += f"; the on-chain anchor of {anchor.from_seq}..{anchor.to_seq} proves the original"
        return fix

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "entries": self.entries,
            "last_seq": self.last_seq,
            "did": self.did,
            "wallet": self.wallet,
            "first_bad": self.first_bad,
            "problem": self.problem,
            "detail": self.detail,
            "signatures": self.signatures,
            "signatures_checked": self.signatures_checked,
            "anchors_checked": self.anchors_checked,
            "anchored_to": self.anchored_to,
            "anchors_note": self.anchors_note,
            "anchors": [a.to_json() for a in self.anchors],
            "peer_witnesses": self.peer_witnesses,
            "peer_witnesses_ignored": self.peer_witnesses_ignored,
            "seconds": round(self.seconds, 4),
            "message": self.message(),
        }


def anchor_range(a: OnchainAnchor) -> str:
    return f"{a.from_seq}..{a.to_seq}{anchor_tx(a)}"


def anchor_tx(a: OnchainAnchor) -> str:
    return f" in tx 0x{a.tx_hash.hex()}" if a.tx_hash else ""
