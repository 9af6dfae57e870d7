"""Inclusion proofs: show that one ledger entry is in a range the agent's wallet anchored on-chain.

A proof carries the entry itself (so its hash and its signature can be recomputed by anyone), the leaf
(the entry's hash), the Merkle siblings up to the anchored root, and where the root was anchored. It is
checked offline by `Proof.check()` and on-chain by `ActionLogAnchor.verify(root, leaf, proof)` plus the
wallet's `Anchored` event of that root and range (`check_on_chain`).

Which anchor covers the entry is looked up in the file (its anchor cache, else its "anchor" entries);
the proof is only as good as that anchor is on the chain, which `check_on_chain` confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature

from runtime.ledger.format import (
    ANCHOR,
    Entry,
    LedgerError,
    LedgerTampered,
    NotAnchored,
    entry_hash,
    genesis_fields,
    hex32,
)
from runtime.ledger.store import connect_reader, read_anchor_records, read_entry

if TYPE_CHECKING:
    import sqlite3

    from wallet.chain import ChainClient
    from wallet.contracts import ActionLogAnchor


@dataclass(frozen=True)
class AnchorRef:
    """An anchored range as the ledger file records it."""

    from_seq: int
    to_seq: int
    root: bytes
    tx_hash: bytes | None
    block: int | None
    chain_id: int | None
    contract: str | None


@dataclass(frozen=True)
class Proof:
    """Entry `seq` (hash `leaf`) is in the Merkle tree with root `root` over entries from_seq..to_seq,
    which `wallet` anchored in `anchor.tx_hash`."""

    seq: int
    leaf: bytes
    root: bytes
    proof: list[bytes]
    from_seq: int
    to_seq: int
    anchor: AnchorRef
    did: str
    wallet: str
    entry: Entry

    def check(self) -> str | None:
        """Offline checks; None when all pass, else what fails: the entry's hash over its content, its
        signature by `did`, and the Merkle path from the leaf to the root."""
        from identity import IdentityError, public_key_from_did_key
        from wallet.merkle import verify_proof

        if entry_hash(self.entry.prev_hash, self.entry.body()) != self.leaf:
            return f"entry {self.seq}'s content does not hash to the leaf"
        try:
            public_key_from_did_key(self.did).verify(self.entry.sig, self.leaf)
        except InvalidSignature:
            return f"entry {self.seq} is not signed by {self.did}"
        except IdentityError as exc:
            return f"the genesis names no usable did:key ({exc})"
        if not verify_proof(self.root, self.leaf, self.proof):
            return "the Merkle path does not lead from the leaf to the root"
        return None

    def to_json(self) -> dict[str, Any]:
        a = self.anchor
        return {
            "seq": self.seq,
            "leaf": hex32(self.leaf),
            "root": hex32(self.root),
            "proof": [hex32(p) for p in self.proof],
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "anchor": {
                "tx": hex32(a.tx_hash) if a.tx_hash else None,
                "block": a.block,
                "chain_id": a.chain_id,
                "contract": a.contract,
                "wallet": self.wallet,
            },
            "did": self.did,
            "entry": self.entry.to_json(),
        }


def prove(path: str | Path, seq: int) -> Proof:
    """The inclusion proof of entry `seq`. NotAnchored when no anchor covers it yet; LedgerTampered when
    the file no longer matches the anchor that covers it (or the entry does not verify)."""
    file = Path(path)
    conn = connect_reader(file)
    try:
        entry = read_entry(conn, seq)
        genesis = read_entry(conn, 1)
        if entry is None:
            last = conn.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0]
            raise LedgerError(f"ledger {file} has no entry {seq} (its entries are 1..{last})")
        try:
            did, wallet = genesis_fields(genesis) if genesis is not None else ("", "")
        except ValueError:
            did = wallet = ""
        if not did:
            raise LedgerTampered(f"ledger {file} has no valid genesis entry: run `sova log verify`")
        ref = _covering(conn, seq)
        if ref is None:
            raise NotAnchored(
                f"entry {seq} of ledger {file} is not anchored yet: it will be in the next anchoring round"
            )
        leaves = [
            bytes(r[0])
            for r in conn.execute(
                "SELECT hash FROM entries WHERE seq BETWEEN ? AND ? ORDER BY seq", (ref.from_seq, ref.to_seq)
            )
        ]
    finally:
        conn.close()
    from wallet.merkle import merkle_proof, merkle_root

    if len(leaves) != ref.to_seq - ref.from_seq + 1 or merkle_root(leaves) != ref.root:
        raise LedgerTampered(
            f"ledger {file}: entries {ref.from_seq}..{ref.to_seq} no longer match their anchored root: "
            "run `sova log verify`"
        )
    proof = Proof(
        seq=seq,
        leaf=entry.hash,
        root=ref.root,
        proof=merkle_proof(leaves, seq - ref.from_seq),
        from_seq=ref.from_seq,
        to_seq=ref.to_seq,
        anchor=ref,
        did=did,
        wallet=wallet,
        entry=entry,
    )
    problem = proof.check()
    if problem is not None:
        raise LedgerTampered(f"ledger {file}: {problem}: run `sova log verify`")
    return proof


def _covering(conn: sqlite3.Connection, seq: int) -> AnchorRef | None:
    for r in read_anchor_records(conn):
        if r.status == "mined" and r.from_seq <= seq <= r.to_seq:
            return AnchorRef(r.from_seq, r.to_seq, r.root, r.tx_hash, r.block, r.chain_id, r.contract)
    # No cache (a copied file, or the cache was dropped): the "anchor" entries say the same.
    rows = conn.execute(
        "SELECT seq, ts, kind, data, prev_hash, hash, sig FROM entries WHERE kind = ?", (ANCHOR,)
    )
    for row in rows:
        try:
            data = Entry.from_row(row).data
            lo, hi = int(data["from_seq"]), int(data["to_seq"])
            if lo <= seq <= hi:
                return AnchorRef(
                    lo,
                    hi,
                    bytes.fromhex(str(data["root"])[2:]),
                    bytes.fromhex(str(data["tx"])[2:]),
                    int(data["block"]),
                    int(data["chain_id"]),
                    str(data["contract"]),
                )
        except (ValueError, KeyError, TypeError):
            continue
    return None


async def check_on_chain(proof: Proof, client: ChainClient, anchor: ActionLogAnchor) -> str | None:
    """None when the chain confirms the proof: the contract verifies the Merkle path, and the proof's
    wallet emitted `Anchored` with this root and range; else what fails."""
    from runtime.ledger.onchain import fetch_anchors

    if not await anchor.verify(proof.root, proof.leaf, proof.proof):
        return f"ActionLogAnchor at {anchor.address} rejects the Merkle proof"
    block = proof.anchor.block
    seen = await fetch_anchors(
        client, anchor.address, proof.wallet, root=proof.root, from_block=block or 0, to_block=block
    )
    if not any((a.from_seq, a.to_seq) == (proof.from_seq, proof.to_seq) for a in seen):
        span = f"{proof.from_seq}..{proof.to_seq}"
        return f"wallet {proof.wallet} never anchored root {hex32(proof.root)} for entries {span}"
    return None
