"""A witness of each agent's ledger head, kept outside the agent's own database.

Anchors prove a ledger's length only up to the last anchor: deleting the entries after it leaves a
file that verifies. So the supervisor — another process — copies each agent's latest signed head
(seq, hash and the agent's signature over the hash) into `.sova/witness/<name>.json` every few
seconds (`advance`), and the witness only ever moves forward: a ledger found shorter than it, or with
another entry at the witnessed seq, leaves the witness as it was and is reported. `sova log verify`
then fails when the ledger is shorter than the witnessed head (`truncated`) or differs at it
(`edited`): the window a truncation can hide in shrinks from "since the last anchor" to "since the
last look". The signature makes a witness self-proving: only the agent's key could have signed that
head, so a forged witness cannot accuse an honest ledger (`check_witness` verifies it).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from runtime.ledger.format import Entry
from runtime.ledger.ledger import LedgerError
from runtime.ledger.report import VerifyReport
from runtime.ledger.store import connect_reader, read_entry, read_last
from runtime.secrets import write_private

WITNESS_EVERY = 5.0  # s between the supervisor's looks at each ledger


@dataclass(frozen=True)
class Witness:
    """A ledger head as seen from outside: seq, hash and signature (hex), and when (unix time)."""

    seq: int
    hash: str
    sig: str
    at: float

    @classmethod
    def read(cls, path: Path) -> Witness | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["seq"]), str(data["hash"]), str(data["sig"]), float(data["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(asdict(self)) + "\n")


def advance(witness_path: Path, ledger_path: Path) -> str | None:
    """Move the witness of the ledger at `ledger_path` forward to its head. One line when the ledger
    is behind or beside the witness (then the witness stays), else None."""
    try:
        conn = connect_reader(ledger_path)
    except LedgerError:
        return None  # no ledger yet: nothing to witness
    try:
        seen = Witness.read(witness_path)
        last = read_last(conn)
        if last is None:
            return None
        problem = _against(
            seen, last.seq, read_entry(conn, seen.seq) if seen and seen.seq <= last.seq else None
        )
    finally:
        conn.close()
    if problem is not None:
        return f"ledger {ledger_path}: {problem}"
    if seen is None or last.seq > seen.seq:
        Witness(last.seq, "0x" + last.hash.hex(), "0x" + last.sig.hex(), time.time()).write(witness_path)
    return None


def _against(seen: Witness | None, last_seq: int, there: Entry | None) -> str | None:
    if seen is None:
        return None
    if last_seq < seen.seq:
        return f"ends at entry {last_seq}, but entry {seen.seq} was witnessed at {_when(seen)}"
    if there is not None and "0x" + there.hash.hex() != seen.hash:
        return f"entry {seen.seq} is not the one witnessed at {_when(seen)} (another hash)"
    return None


def check_witness(report: VerifyReport, witness: Witness | None, ledger_path: Path) -> None:
    """Fail `report` when the ledger is shorter than `witness` or differs at its seq. A witness whose
    signature is not the ledger's signer's proves nothing and is ignored (with a note)."""
    if witness is None or report.did is None:
        return
    if not _signed_by(report.did, witness):
        report.anchors_note += "; the witness file is not signed by the ledger's key (ignored)"
        return
    conn = connect_reader(ledger_path)
    try:
        there = read_entry(conn, witness.seq) if witness.seq <= report.last_seq else None
    finally:
        conn.close()
    problem = _against(witness, report.last_seq, there)
    if problem is None:
        return
    if report.last_seq < witness.seq:
        report.fail(
            report.last_seq + 1,
            "truncated",
            f"entries {report.last_seq + 1}..{witness.seq} are missing from the end: the file {problem}",
        )
    else:
        report.fail(witness.seq, "edited", f"the file's {problem}")


def check_peer_witnesses(
    report: VerifyReport, witnesses: list[tuple[str, Witness]], ledger_path: Path
) -> None:
    """Fail `report` when the ledger is shorter than a head another agent was sent in a deal message
    (`witnesses`: (that agent's name, the head)) or differs at its seq; `report.peer_witnesses` counts
    those checked. A head not signed by the ledger's key proves nothing: it is counted as ignored."""
    if report.did is None:
        return
    report.peer_witnesses = 0
    conn = connect_reader(ledger_path)
    try:
        for agent, head in witnesses:
            if not _signed_by(report.did, head):
                report.peer_witnesses_ignored += 1
                continue
            report.peer_witnesses += 1
            there = read_entry(conn, head.seq) if head.seq <= report.last_seq else None
            seen = f"agent {agent} was sent entry {head.seq} ({head.hash}) in a deal message at {_when(head)}"
            if report.last_seq < head.seq:
                missing = f"entries {report.last_seq + 1}..{head.seq} are missing from the end"
                report.fail(report.last_seq + 1, "truncated", f"{missing}: {seen}")
            elif there is not None and "0x" + there.hash.hex() != head.hash:
                report.fail(head.seq, "edited", f"entry {head.seq} has another hash: {seen}")
    finally:
        conn.close()


def _signed_by(did: str, witness: Witness) -> bool:
    from identity import public_key_from_did_key

    try:
        public = public_key_from_did_key(did)
        sig, digest = (bytes.fromhex(v.removeprefix("0x")) for v in (witness.sig, witness.hash))
        public.verify(sig, digest)
    except Exception:  # an InvalidSignature, malformed hex, a DID that is no did:key: no proof either way
        return False
    return True


def _when(seen: Witness) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seen.at))
