"""Ledger heads witnessed by peers: every deal message carries its sender's durable head, the receiver
keeps the highest one per peer DID (hostile values ignored, never an error), and a ledger shorter than
(or different at) a head another agent was sent fails verification naming that agent."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from identity import IdentityKey, ReplayStore, verify_envelope
from runtime.a2a.handler import echo_handler
from runtime.a2a.protocol import Negotiator
from runtime.a2a.threads import ThreadStore
from runtime.home import Home
from runtime.ledger.ledger import Ledger
from runtime.ledger.peer_heads import HEAD_FIELD, HeadSource, PeerHeads, fleet_witnesses, parse_head
from runtime.ledger.sink import MemorySink
from runtime.ledger.verify import verify_ledger
from runtime.ledger.witness import Witness, check_peer_witnesses

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HASH, SIG = "0x" + "ab" * 32, "0x" + "cd" * 64


def head(seq: Any = 5, digest: Any = HASH, sig: Any = SIG) -> dict[str, Any]:
    return {"seq": seq, "hash": digest, "sig": sig}


HOSTILE = {
    "not an object": ["seq", 5],
    "seq a string": head("5"),
    "seq a bool": head(True),
    "seq a float": head(5.0),
    "seq zero": head(0),
    "seq negative": head(-3),
    "seq over int64": head(2**63),
    "seq huge": head(10**400),
    "hash not hex": head(digest="0x" + "zz" * 32),
    "hash short": head(digest="0xab"),
    "hash upper case": head(digest=HASH.upper()),
    "hash huge": head(digest="0x" + "a" * 1_000_000),
    "sig missing": {"seq": 5, "hash": HASH},
    "sig not a string": head(sig=7),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_a_hostile_head_is_ignored_with_at_most_one_log_line(
    what: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heads = PeerHeads(tmp_path / "peer-heads.json")
    assert parse_head(HOSTILE[what]) is None
    with caplog.at_level(logging.WARNING, logger="runtime.ledger.peer_heads"):
        for _ in range(50):
            heads.seen("did:key:z6Mkpeer", HOSTILE[what])
    heads.close()
    assert heads.get("did:key:z6Mkpeer") is None
    assert not (tmp_path / "peer-heads.json").exists()
    lines = [r for r in caplog.records if r.name == "runtime.ledger.peer_heads"]
    assert len(lines) == 1
    assert "ignored 1 malformed ledger heads" in lines[0].getMessage()


def test_the_highest_head_is_kept_per_peer_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "agent" / "peer-heads.json"
    heads = PeerHeads(path, flush_every=60)
    heads.seen("did:key:a", head(10, "0x" + "10" * 32))
    heads.seen("did:key:a", head(7, "0x" + "07" * 32))  # an older message arriving late
    heads.seen("did:key:b", head(3))
    heads.seen("did:key:a", None)  # a peer that sends no head
    kept = heads.get("did:key:a")
    assert kept is not None
    assert (kept.seq, kept.hash) == (10, "0x" + "10" * 32)
    heads.close()
    assert (path.stat().st_mode & 0o777) == 0o600
    again = PeerHeads(path)
    assert [(did, w.seq) for did, w in again._heads.items()] == [("did:key:a", 10), ("did:key:b", 3)]
    again.seen("did:key:a", head(12))
    assert again.get("did:key:a") == Witness(12, HASH, SIG, again.get("did:key:a").at)  # type: ignore[union-attr]


def test_at_most_max_peers_are_kept_the_least_recently_heard_going_first(tmp_path: Path) -> None:
    heads = PeerHeads(tmp_path / "peer-heads.json", max_peers=3)
    for n in range(3):
        heads.seen(f"did:key:{n}", head(n + 1))
    heads.seen("did:key:0", head(1))  # heard from again: now the most recent
    heads.seen("did:key:new", head(9))
    assert heads.get("did:key:1") is None
    assert all(heads.get(d) is not None for d in ("did:key:0", "did:key:2", "did:key:new"))
    heads.close()
    assert len(json.loads((tmp_path / "peer-heads.json").read_text())) == 3


def test_only_a_durable_head_is_sent(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    with Ledger.open(tmp_path / "ledger.sqlite", key, WALLET, flush_interval=60) as ledger:
        source = HeadSource(ledger)
        genesis = source.current()
        assert genesis is not None
        assert genesis["seq"] == 1
        ledger.append("decision", {"i": 0}, barrier=False)  # committed, not yet fsynced
        assert source.current() == genesis
        ledger.flush()
        sent = source.current()
        last = ledger.last()
        assert sent == {"seq": 2, "hash": "0x" + last.hash.hex(), "sig": "0x" + last.sig.hex()}


def negotiator(key: IdentityKey, folder: Path, ledger: Ledger | None = None) -> Negotiator:
    return Negotiator(
        key, replay=ReplayStore(folder / "replay.sqlite"), threads=ThreadStore(folder / "threads.sqlite"),
        ledger=ledger or MemorySink(), handler=echo_handler(),
        head=HeadSource(ledger) if ledger is not None else None,
        peer_heads=PeerHeads(folder / "peer-heads.json"),
    )  # fmt: skip


async def test_a_deal_message_carries_the_senders_head_and_the_receiver_keeps_it(tmp_path: Path) -> None:
    buyer_key, seller_key = IdentityKey.generate(), IdentityKey.generate()
    with Ledger.open(tmp_path / "buyer-ledger.sqlite", buyer_key, WALLET) as ledger:
        buyer = negotiator(buyer_key, tmp_path / "buyer", ledger)
        seller = negotiator(seller_key, tmp_path / "seller")
        out = buyer.prepare(seller.did, "cfp", "t1", {"item": "x"})
        with ReplayStore(tmp_path / "peek.sqlite") as replay:
            body = verify_envelope(out.jws, recipient=seller.did, replay=replay).body
        assert body["item"] == "x"
        assert body[HEAD_FIELD]["seq"] == ledger.last().seq
        replies = await seller.receive(out.jws)
        assert replies  # the deal goes on as before
        kept = seller.peer_heads.get(buyer.did)  # type: ignore[union-attr]
        assert kept is not None
        assert (kept.seq, kept.hash) == (ledger.last().seq, "0x" + ledger.last().hash.hex())
        assert seller.peer_heads.get(seller.did) is None  # type: ignore[union-attr]


def grown(path: Path, key: IdentityKey, n: int) -> Witness:
    """A ledger of n+1 entries, and its head as a peer would have kept it."""
    with Ledger.open(path, key, WALLET) as ledger:
        for i in range(n):
            ledger.append("decision", {"i": i})
        sent = HeadSource(ledger).current()
    found = parse_head(sent, 1_700_000_000.0)
    assert found is not None
    return found


def checked(path: Path, witnesses: list[tuple[str, Witness]]) -> tuple[bool, str | None, str]:
    report = verify_ledger(path)
    check_peer_witnesses(report, witnesses, path)
    return report.ok, report.problem, report.message()


def test_a_ledger_cut_behind_a_peers_head_fails_naming_the_peer_seq_and_hash(tmp_path: Path) -> None:
    key, path = IdentityKey.generate(), tmp_path / "ledger.sqlite"
    seen = grown(path, key, 9)
    ok, _, line = checked(path, [("buyer", seen)])
    assert ok, line
    assert "1 peer witness of its head checked" in line
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM entries WHERE seq > 7")

    ok, problem, line = checked(path, [("buyer", seen)])

    assert (ok, problem) == (False, "truncated")
    assert "entries 8..10 are missing from the end: agent buyer was sent entry 10" in line
    assert seen.hash in line
    assert "\n" not in line


def test_a_ledger_rewritten_at_a_peers_head_fails_as_edited(tmp_path: Path) -> None:
    key, path = IdentityKey.generate(), tmp_path / "ledger.sqlite"
    seen = grown(path, key, 9)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM entries WHERE seq > 7")
    grown(path, key, 5)  # written again past the witnessed seq: another entry 10

    ok, problem, line = checked(path, [("buyer", seen)])

    assert (ok, problem) == (False, "edited")
    assert f"entry 10 has another hash: agent buyer was sent entry 10 ({seen.hash})" in line


def test_a_head_not_signed_by_the_ledgers_key_accuses_nothing(tmp_path: Path) -> None:
    key, path = IdentityKey.generate(), tmp_path / "ledger.sqlite"
    grown(path, key, 3)
    forged = Witness(99, HASH, SIG, 0.0)

    ok, _, line = checked(path, [("mallory", forged)])

    assert ok
    assert "0 peer witnesses of its head checked (1 not signed by its key, ignored)" in line


def test_the_fleets_witnesses_are_read_from_every_other_agents_folder(tmp_path: Path) -> None:
    home = Home(tmp_path)
    for name, seq in (("buyer", 4), ("seller", 9), ("other", 6)):
        heads = PeerHeads(home.peer_heads(name))
        heads.seen("did:key:seller", head(seq))
        heads.close()
    (home.root / "agents" / "empty").mkdir()

    found = fleet_witnesses(home, "did:key:seller", skip="seller")

    assert [(name, w.seq) for name, w in found] == [("buyer", 4), ("other", 6)]
