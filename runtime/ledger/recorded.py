"""The anchors a ledger says were mined, checked against the chain: a rollback shows up here.

Every mined anchoring round is logged as an `anchor` entry (root, range, tx, block, contract). The
chain's `Anchored` events are what verification trusts (runtime/ledger/verify.py), but when the chain
went back (a node restarted from an older state, a reorg) an anchor the ledger logged can be gone
from it: then those entries are only as safe as the file, and the verdict must say so instead of
counting them as "not anchored yet". Read the recorded anchors *before* asking the chain for its
anchors: an anchor logged in between would otherwise look missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.ledger.format import ANCHOR
from runtime.ledger.report import OnchainAnchor, VerifyReport
from runtime.ledger.store import connect_reader, read_entry


@dataclass(frozen=True)
class RecordedAnchor:
    """One `anchor` entry: the round the agent saw mined."""

    seq: int
    root: bytes
    from_seq: int
    to_seq: int
    tx: str
    block: int


def recorded_anchors(path: Path, contract: str | None = None) -> list[RecordedAnchor]:
    """The `anchor` entries of the ledger at `path` (of one ActionLogAnchor `contract` when given:
    rounds anchored at a contract since replaced are not this chain's to answer for), by seq."""
    conn = connect_reader(path)
    try:
        rows = conn.execute("SELECT seq FROM entries WHERE kind = ? ORDER BY seq", (ANCHOR,)).fetchall()
        found = []
        for (seq,) in rows:
            entry = read_entry(conn, int(seq))
            data = entry.data if entry is not None else {}
            if contract is not None and str(data.get("contract", "")).lower() != contract.lower():
                continue
            try:
                found.append(_parse(int(seq), data))
            except (KeyError, TypeError, ValueError):
                continue  # a malformed entry is the hash chain's business, not this check's
        return found
    finally:
        conn.close()


def _parse(seq: int, data: dict[str, object]) -> RecordedAnchor:
    return RecordedAnchor(
        seq=seq,
        root=bytes.fromhex(str(data["root"]).removeprefix("0x")),
        from_seq=int(str(data["from_seq"])),
        to_seq=int(str(data["to_seq"])),
        tx=str(data.get("tx", "")),
        block=int(str(data.get("block", 0))),
    )


def check_recorded(report: VerifyReport, recorded: Sequence[RecordedAnchor]) -> None:
    """Fail `report` at the first recorded anchor the chain's anchors (`report.anchors`) lack."""
    if report.anchors_checked is None:
        return  # the chain was not asked: nothing to compare with
    on_chain = {_key(a) for a in report.anchors}
    for r in recorded:
        if (r.root, r.from_seq, r.to_seq) not in on_chain:
            report.fail(
                r.seq,
                "anchor_missing",
                f"the anchor of entries {r.from_seq}..{r.to_seq} logged at entry {r.seq} (tx {r.tx}, "
                f"block {r.block}) is no longer on-chain",
            )
            return


def _key(a: OnchainAnchor) -> tuple[bytes, int, int]:
    return (a.root, a.from_seq, a.to_seq)
