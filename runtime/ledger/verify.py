"""Check a ledger file: the hash chain over the stored bytes, the signatures, and the on-chain anchors.

What each check catches (the report names the first bad seq and which of these it is):

    edited           an entry's content no longer hashes to its stored hash, or its link to the one
                     before is broken
    deleted          a seq is missing (or the entries after a deleted one were renumbered)
    reordered        an entry sits at a seq it was not written at
    bad_signature    an entry's signature is not by the genesis DID's key (edited and re-signed with
                     another key, or a signature replaced)
    wrong_signer     the genesis names another DID or wallet than the agent's (the file was replaced)
    anchor_mismatch  the Merkle root of an anchored range, rebuilt from the file, differs from the root
                     the agent's wallet anchored on-chain: a self-consistent forgery, re-signed with
                     another key under a new genesis, fails here
    truncated        the wallet anchored entries beyond the file's last one

Without the chain, deleting entries from the end of the file cannot be seen: the anchors are what
prove the length. Anchors are trusted only as the chain reports them for the agent's wallet
(`ledger_chain.fetch_anchors`), never from the file's own anchor table or entries; and the wallet must
come from a trusted source (the agent's key file, the registry), since a forged genesis names its own.

Speed (decision; bench/ledger.py on the 2-core machine, 100k entries): reading and hashing every row
runs at ~130k/s. One Ed25519 verification with `cryptography` costs ~130 µs, so checking every
signature caps at ~7.5k/s per core. `signatures="all"` (the default, and what `sova log verify` does)
checks every one on a thread pool (OpenSSL releases the GIL, so two threads use both cores while the
main thread hashes): ~12-13k entries/s, below the 50k/s target, which no per-entry Ed25519 check
reaches on two cores (pynacl/libsodium would about double it). `signatures="checkpoints"`
(`--quick`) checks the hash chain of every entry and the signatures of the genesis, every anchor entry
and the last entry: a valid signature on entry n, over a hash that commits to every entry before it,
proves the DID's key holder wrote entries 1..n exactly as stored, so content authenticity is fully
checked, at ~70k entries/s with anchors. What it leaves out is a signature that was replaced while its
entry was left alone; when the chain breaks or a checkpoint fails, it falls back to checking every
signature up to that point, so the first bad seq it names is the same.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.ledger.format import ANCHOR, ZERO_HASH, entry_body, genesis_fields, json_str, keccak256
from runtime.ledger.report import (
    OnchainAnchor,
    Problem,
    SignatureMode,
    VerifyReport,
    anchor_range,
    anchor_tx,
)
from runtime.ledger.store import connect_reader, read_entry

__all__ = ["OnchainAnchor", "VerifyReport", "merkle_root_fast", "verify_ledger"]

CHUNK = 2048  # signatures per thread-pool task: large enough to amortize the hand-off
_NEARBY = 16  # how far a moved entry is looked for when diagnosing


def verify_ledger(
    path: str | Path,
    *,
    anchors: Sequence[OnchainAnchor] | None = None,
    expected_did: str | None = None,
    expected_wallet: str | None = None,
    signatures: SignatureMode = "all",
    threads: int = 2,
    anchors_note: str = "no chain given",
) -> VerifyReport:
    """Check the ledger file at `path` (see the module docstring). `anchors`: the `Anchored` events of the
    agent's wallet (None: anchors not checked, `anchors_note` says why). `expected_did` /
    `expected_wallet`: the agent's, when known from elsewhere (its key files, the registry); the
    genesis must name them. LedgerError when the file is missing or is not a Sova ledger."""
    started = time.perf_counter()
    file = Path(path)
    report = VerifyReport(path=file, signatures=signatures, anchors_note=anchors_note)
    conn = connect_reader(file)
    try:
        _Verifier(conn, report, signatures, threads).run(expected_did, expected_wallet, anchors)
    finally:
        conn.close()
    report.seconds = time.perf_counter() - started
    return report


class _Verifier:
    def __init__(self, conn: sqlite3.Connection, report: VerifyReport, mode: SignatureMode, threads: int):
        self.conn = conn
        self.report = report
        self.mode = mode
        self.threads = max(1, threads)
        self.hashes: list[bytes] = []

    def run(
        self, expected_did: str | None, expected_wallet: str | None, anchors: Sequence[OnchainAnchor] | None
    ) -> None:
        report = self.report
        count = self.conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM entries").fetchone()
        report.entries, report.last_seq = int(count[0]), int(count[1])
        if anchors is not None:  # known even when an earlier problem stops the check: they name the fix
            report.anchors = sorted(anchors, key=lambda a: (a.from_seq, a.to_seq, a.block))
        public = self._genesis(expected_did, expected_wallet)
        if public is None:
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="ledger-verify") as pool:
            self._chain_and_signatures(public, pool)
        if report.ok and anchors is not None:
            self._anchors(anchors)

    # ----------------------------------------------------------------- genesis

    def _genesis(self, expected_did: str | None, expected_wallet: str | None) -> Ed25519PublicKey | None:
        from identity import IdentityError, public_key_from_did_key

        report = self.report
        first = self.conn.execute("SELECT min(seq) FROM entries").fetchone()[0]
        if first is None:
            report.fail(1, "deleted", "the file has no entries (not even the genesis)")
            return None
        if first != 1:
            report.fail(1, "deleted", f"entries 1..{first - 1} are missing, the genesis among them")
            return None
        genesis = read_entry(self.conn, 1)
        assert genesis is not None
        try:
            did, wallet = genesis_fields(genesis)
            public = public_key_from_did_key(did)
        except (ValueError, TypeError, IdentityError) as exc:
            report.fail(1, "edited", f"entry 1 is not a valid genesis ({exc})")
            return None
        report.did, report.wallet = did, wallet
        if expected_did is not None and did != expected_did:
            report.fail(
                1, "wrong_signer", f"entry 1 names {did} as the signer, not the agent's {expected_did}"
            )
            return None
        if expected_wallet is not None and wallet.lower() != expected_wallet.lower():
            report.fail(
                1, "wrong_signer", f"entry 1 names wallet {wallet}, not the agent's {expected_wallet}"
            )
            return None
        return public

    # ----------------------------------------------------------------- chain and signatures

    def _chain_and_signatures(  # noqa: C901 - the hot loop over every entry, kept flat for speed
        self, public: Ed25519PublicKey, pool: ThreadPoolExecutor
    ) -> None:
        report = self.report
        every = self.mode == "all"
        checks: list[Future[int | None]] = []
        chunk: list[tuple[int, bytes, bytes]] = []
        checkpoints: list[tuple[int, bytes, bytes]] = []
        hashes = self.hashes
        append = hashes.append
        kinds: dict[str, bytes] = {}
        expected, prev = 1, ZERO_HASH
        broken: int | None = None
        last: tuple[int, bytes, bytes] | None = None
        rows = self.conn.execute("SELECT seq, ts, kind, data, prev_hash, hash, sig FROM entries ORDER BY seq")
        # The hot loop: one keccak per entry over the stored bytes, spliced as ledger_format says.
        for seq, ts, kind, data, prev_hash, digest, sig in rows:
            try:
                if seq != expected:
                    broken = expected
                    report.fail(expected, "deleted", _missing(expected, seq))
                    break
                jkind = kinds.get(kind)
                if jkind is None:
                    jkind = kinds[kind] = json_str(kind)
                body = b"".join(
                    (
                        b'{"data":',
                        data,
                        b',"kind":',
                        jkind,
                        b',"seq":',
                        b"%d" % seq,
                        b',"ts":',
                        json_str(ts),
                        b"}",
                    )
                )
                if keccak256(prev_hash + body) != digest:
                    broken = seq
                    report.fail(seq, *self._diagnose_content(seq))
                    break
                if prev_hash != prev:
                    broken = seq
                    report.fail(seq, *self._diagnose_link(seq, prev_hash))
                    break
            except TypeError:  # a column rewritten with a value of another type (text for a blob, …)
                broken = seq
                report.fail(
                    seq, "edited", f"entry {seq} was edited (a column holds a value of the wrong type)"
                )
                break
            append(digest)
            prev = digest
            expected += 1
            item = (seq, digest, sig)
            last = item
            if every:
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    checks.append(pool.submit(_first_bad_signature, public, chunk))
                    chunk = []
            elif kind == ANCHOR or seq == 1:
                checkpoints.append(item)
        if every:
            if chunk:
                checks.append(pool.submit(_first_bad_signature, public, chunk))
            report.signatures_checked = len(hashes)
            self._signature_verdict([f.result() for f in checks])
            return
        if last is not None:
            checkpoints.append(last)
        bad = _first_bad_signature(public, checkpoints)
        report.signatures_checked = len(checkpoints)
        if bad is not None or broken is not None:
            # Something is wrong: find the first bad signature up to it, as the "all" mode would.
            limit = min(x for x in (bad, broken) if x is not None)
            self._signature_verdict(self._check_all_up_to(public, pool, limit))

    def _check_all_up_to(
        self, public: Ed25519PublicKey, pool: ThreadPoolExecutor, limit: int
    ) -> list[int | None]:
        rows = self.conn.execute(
            "SELECT seq, hash, sig FROM entries WHERE seq <= ? ORDER BY seq", (limit,)
        ).fetchall()
        self.report.signatures_checked += len(rows)
        chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
        return list(pool.map(lambda c: _first_bad_signature(public, c), chunks))

    def _signature_verdict(self, results: list[int | None]) -> None:
        bad = min((r for r in results if r is not None), default=None)
        if bad is not None:
            did = self.report.did
            self.report.fail(
                bad,
                "bad_signature",
                f"entry {bad} has a bad signature (not made by {did} over its hash): "
                "it was edited and re-signed, or its signature was replaced",
            )

    # ----------------------------------------------------------------- diagnosis (failure path only)

    def _verifies_as(self, seq: int, at: int) -> bool:
        row = self.conn.execute(
            "SELECT ts, kind, data, prev_hash, hash FROM entries WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return False
        ts, kind, data, prev_hash, digest = row
        try:
            return bool(keccak256(prev_hash + entry_body(at, ts, kind, data)) == digest)
        except TypeError:
            return False

    def _written_as(self, seq: int) -> int | None:
        """The seq that the entry now stored at `seq` was written at, if it is nearby."""
        for delta in range(1, _NEARBY + 1):
            for at in (seq + delta, seq - delta):
                if at >= 1 and self._verifies_as(seq, at):
                    return at
        return None

    def _diagnose_content(self, seq: int) -> tuple[Problem, str]:
        at = self._written_as(seq)
        if at is None:
            return "edited", f"entry {seq} was edited (its hash does not match its content)"
        if at > seq and self._written_as(seq + 1) == at + 1:
            gone = at - seq
            return "deleted", (
                f"entry {seq} is missing ({gone} entr{'y' if gone == 1 else 'ies'} deleted and the rest "
                f"renumbered: the entry stored as {seq} was written as {at})"
            )
        return "reordered", f"entries were reordered (the entry stored as {seq} was written as {at})"

    def _diagnose_link(self, seq: int, prev_hash: bytes) -> tuple[Problem, str]:
        row = self.conn.execute("SELECT seq FROM entries WHERE hash = ?", (prev_hash,)).fetchone()
        if row is not None and int(row[0]) != seq - 1:
            return (
                "reordered",
                f"entries were reordered (entry {seq} was written after entry {row[0]}, not {seq - 1})",
            )
        return (
            "edited",
            f"entry {seq} was edited (its link to entry {seq - 1} does not match: one of them was replaced)",
        )

    # ----------------------------------------------------------------- anchors

    def _anchors(self, anchors: Sequence[OnchainAnchor]) -> None:
        report = self.report
        report.anchors_checked = len(anchors)
        last = len(self.hashes)
        roots: dict[tuple[int, int], bytes] = {}
        for a in report.anchors:
            if a.from_seq < 1 or a.from_seq > a.to_seq:
                report.fail(
                    max(a.from_seq, 1),
                    "anchor_mismatch",
                    f"the wallet anchored an impossible range {anchor_range(a)}",
                )
            elif a.to_seq > last:
                report.fail(
                    last + 1,
                    "truncated",
                    f"entries {last + 1}..{a.to_seq} are missing from the end (the wallet anchored "
                    f"{a.from_seq}..{a.to_seq}{anchor_tx(a)}; the file ends at {last})",
                )
            else:
                key = (a.from_seq, a.to_seq)
                if key not in roots:
                    roots[key] = merkle_root_fast(self.hashes[a.from_seq - 1 : a.to_seq])
                if roots[key] != a.root:
                    report.fail(
                        a.from_seq,
                        "anchor_mismatch",
                        f"entries {a.from_seq}..{a.to_seq} do not match the root the wallet anchored "
                        f"on-chain{anchor_tx(a)}",
                    )
                else:
                    report.anchored_to = max(report.anchored_to, a.to_seq)


def _first_bad_signature(public: Ed25519PublicKey, items: Sequence[tuple[int, bytes, bytes]]) -> int | None:
    verify = public.verify
    for seq, digest, sig in items:
        try:
            verify(sig, digest)
        except Exception:  # InvalidSignature, or a sig column rewritten with a non-bytes value
            return int(seq)
    return None


def merkle_root_fast(leaves: Sequence[bytes]) -> bytes:
    """`wallet.merkle.merkle_root` (OpenZeppelin sorted pairs, odd node promoted), with the bare keccak:
    the verifier rebuilds a root over every anchored entry, and eth_hash's wrapper would double the cost.
    tests/unit/runtime/ledger/test_ledger_verify.py checks both agree."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    k = keccak256
    level = list(leaves)
    while len(level) > 1:
        nxt = [k(a + b) if a <= b else k(b + a) for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return bytes(level[0])


def _missing(expected: int, found: int) -> str:
    if found == expected + 1:
        return f"entry {expected} was deleted (seq {expected} is missing)"
    return f"entries {expected}..{found - 1} were deleted (those seqs are missing)"
