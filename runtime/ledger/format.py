"""The ledger's on-disk format (version 1): the entry, the hashed bytes, the SQLite file, the errors.

Table `entries`, one row per entry:

    seq        1, 2, 3, … with no gap (INTEGER PRIMARY KEY)
    ts         UTC time of the append, ISO 8601 with microseconds and "Z" (2026-11-02T10:00:00.123456Z)
    kind       what happened: genesis, anchor, decision, … ([a-z][a-z0-9_.:-]{0,63})
    data       the RFC 8785 (JCS) canonical UTF-8 bytes of a JSON object, stored as written
    prev_hash  the previous entry's hash; 32 zero bytes for entry 1
    hash       keccak256(prev_hash || body)
    sig        the Ed25519 signature of the agent's identity key over `hash` (64 bytes)

    body = JCS({"data": <data>, "kind": kind, "seq": seq, "ts": ts})
         = b'{"data":' + data + b',"kind":' + JCS(kind) + b',"seq":' + decimal(seq)
           + b',"ts":' + JCS(ts) + b'}'

The two lines are the same bytes because JCS orders the members data < kind < seq < ts and `data` is
already canonical. Writer and verifier build `body` the second way: they splice the stored `data`
bytes in and never parse and re-serialize them, so what is hashed is exactly what is stored.

Entry 1 has kind "genesis" and data {"did", "format", "wallet"}: the did:key whose key must have signed
every entry, and the wallet whose `ActionLogAnchor.Anchored` events anchor this ledger.

The SQLite file around the entries (its tables, pragmas and readers) is `runtime.ledger.store`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from identity.jcs import canonicalize, json_string
from runtime.errors import CheckFailed, SovaError

FORMAT = "sova-ledger/1"
FORMAT_VERSION = 1
ZERO_HASH = bytes(32)
GENESIS = "genesis"
ANCHOR = "anchor"
KIND_RE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
MAX_DATA_BYTES = 1 << 20  # one entry is a record of one step, not a file store


class LedgerError(SovaError):
    """The ledger cannot be used as asked (missing file, not a ledger, wrong key, bad entry): exit 2."""


class NotAnchored(LedgerError):
    """An inclusion proof was asked for an entry no anchor covers yet."""


class LedgerTampered(CheckFailed):
    """The file fails a check (a broken chain, a bad signature, an anchor mismatch): exit 1."""


def _fast_keccak() -> Callable[[bytes], bytes]:
    # eth_hash's wrapper type-checks and dispatches on every call (~3 µs of a ~9 µs hash); after the
    # first call `hasher` is the backend's bare function. The verifier hashes every entry: it matters.
    keccak(b"")
    return keccak.hasher


keccak256 = _fast_keccak()


@functools.lru_cache(maxsize=256)
def _json_str(text: str) -> bytes:
    return json_string(text).encode("utf-8")


def json_str(text: str) -> bytes:
    """JCS string literal as UTF-8 bytes (kinds repeat: cached; timestamps never do: not cached)."""
    return json_string(text).encode("utf-8")


def entry_body(seq: int, ts: str, kind: str, data: bytes) -> bytes:
    """The hashed bytes of an entry: JCS({"data", "kind", "seq", "ts"}) with `data` spliced in as stored."""
    return b"".join(
        (
            b'{"data":',
            data,
            b',"kind":',
            _json_str(kind),
            b',"seq":',
            b"%d" % seq,
            b',"ts":',
            json_str(ts),
            b"}",
        )
    )


def entry_hash(prev_hash: bytes, body: bytes) -> bytes:
    """keccak256(prev_hash || body)."""
    return keccak256(prev_hash + body)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry as stored. `data_bytes` are the canonical bytes; `data` parses them."""

    seq: int
    ts: str
    kind: str
    data_bytes: bytes
    prev_hash: bytes
    hash: bytes
    sig: bytes

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Entry:
        seq, ts, kind, data, prev, digest, sig = row
        return cls(int(seq), str(ts), str(kind), bytes(data), bytes(prev), bytes(digest), bytes(sig))

    @property
    def data(self) -> dict[str, Any]:
        value = json.loads(self.data_bytes)
        if not isinstance(value, dict):
            raise ValueError(f"entry {self.seq}: data is not a JSON object")
        return value

    def body(self) -> bytes:
        return entry_body(self.seq, self.ts, self.kind, self.data_bytes)

    def to_json(self) -> dict[str, Any]:
        """A JSON view for people and tools (data parsed; hashes and signature as 0x hex)."""
        try:
            data: Any = self.data
        except ValueError:
            data = {"unparsable_hex": "0x" + self.data_bytes.hex()}
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "data": data,
            "prev_hash": "0x" + self.prev_hash.hex(),
            "hash": "0x" + self.hash.hex(),
            "sig": "0x" + self.sig.hex(),
        }

    def export_line(self) -> str:
        """One JSON line for `sova log export`. The stored data bytes are spliced in verbatim when they
        are JSON (always, unless the file was tampered with), so re-canonicalizing `data` gives back
        exactly the hashed bytes."""
        head = {"seq": self.seq, "ts": self.ts, "kind": self.kind}
        tail = {
            "prev_hash": "0x" + self.prev_hash.hex(),
            "hash": "0x" + self.hash.hex(),
            "sig": "0x" + self.sig.hex(),
        }
        try:
            text = self.data_bytes.decode("utf-8")
            json.loads(text)
        except ValueError:
            return _dumps({**head, "data_hex": "0x" + self.data_bytes.hex(), **tail})
        return _dumps(head)[:-1] + ',"data":' + text + "," + _dumps(tail)[1:]


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def genesis_fields(entry: Entry) -> tuple[str, str]:
    """The DID and wallet a genesis entry names; ValueError when it is not a well-formed genesis."""
    if entry.kind != GENESIS:
        raise ValueError(f"entry {entry.seq} is a {entry.kind!r} entry, not the genesis")
    data = entry.data
    did, wallet = data.get("did"), data.get("wallet")
    if not isinstance(did, str) or not isinstance(wallet, str):
        raise ValueError("the genesis entry lacks its did or wallet")
    return did, wallet


def hex32(value: bytes) -> str:
    return "0x" + value.hex()


def ledger_path(home_root: Path, agent: str) -> Path:
    """Where agent `agent`'s ledger lives under the state folder."""
    return home_root / "agents" / agent / "ledger.sqlite"


def canonical_data(kind: str, data: dict[str, Any]) -> bytes:
    """The canonical bytes an entry of `kind` stores for `data`; LedgerError when either is unfit."""
    if not isinstance(kind, str) or not KIND_RE.fullmatch(kind):
        raise LedgerError(
            f"bad ledger entry kind {kind!r}: use 1-64 of a-z 0-9 _ . : - starting with a letter"
        )
    if not isinstance(data, dict):
        raise LedgerError(f"ledger entry data must be a JSON object (a dict), not {type(data).__name__}")
    try:
        raw = canonicalize(data)
    except ValueError as exc:
        raise LedgerError(f"ledger entry {kind!r}: data is not JSON-able ({exc})") from None
    if len(raw) > MAX_DATA_BYTES:
        raise LedgerError(f"ledger entry {kind!r}: data is {len(raw)} bytes, over the {MAX_DATA_BYTES} limit")
    return raw


def now_ts() -> str:
    """The time stamp of an entry appended now."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normal_address(wallet: str) -> str:
    """`wallet` checksummed; LedgerError when it is not an address."""
    from wallet.abi import checksum  # eth-utils: imported when a ledger is opened for writing only

    try:
        return checksum(wallet)
    except (ValueError, TypeError):
        raise LedgerError(f"{wallet!r} is not a wallet address (0x and 40 hex digits)") from None
