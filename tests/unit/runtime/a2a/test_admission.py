"""Admission control (runtime/a2a/admission.py): budgets for new threads, checked from the signature."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from identity import IdentityKey, sign_envelope
from runtime.a2a.admission import Admission, AdmissionLimits, Refused
from runtime.a2a.quiet_log import OneLinePerMinute
from runtime.a2a.threads import ThreadState, ThreadStore

ME = IdentityKey.generate()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def threads(tmp_path: Path) -> Iterator[ThreadStore]:
    store = ThreadStore(tmp_path / "threads.sqlite")
    yield store
    store.close()


def cfp(key: IdentityKey, thid: str, size: int = 10) -> str:
    return sign_envelope(key, type="cfp", thid=thid, to=ME.did, body={"text": "x" * size})


def admitted(admission: Admission, jws: str) -> str:
    try:
        asyncio.run(admission.admit(jws))
    except Refused as exc:
        return exc.kind if exc.reason == "busy" else f"reason {exc.reason}"
    return "ok"


def test_strangers_share_one_budget_a_minute_and_registered_peers_do_not_spend_it(
    threads: ThreadStore,
) -> None:
    friend = IdentityKey.generate()

    async def known(did: str) -> bool:
        return did == friend.did

    clock = Clock()
    admission = Admission(threads, known, AdmissionLimits(stranger_threads_per_minute=3), clock=clock)
    verdicts = [admitted(admission, cfp(IdentityKey.generate(), f"t{i}")) for i in range(5)]
    assert verdicts == ["ok", "ok", "ok", "strangers", "strangers"]
    assert admitted(admission, cfp(friend, "f1")) == "ok"
    clock.now += 61
    assert admitted(admission, cfp(IdentityKey.generate(), "t9")) == "ok"
    assert admission.refused == {"strangers": 2}


def test_a_message_in_an_existing_thread_or_a_forged_one_is_left_to_the_protocol(
    threads: ThreadStore,
) -> None:
    stranger = IdentityKey.generate()
    admission = Admission(threads, lambda did: _false(), AdmissionLimits(stranger_threads_per_minute=0))
    threads.put(ThreadState(peer=stranger.did, thid="old", role="seller", state="offered"))
    counter = sign_envelope(stranger, type="counter", thid="old", to=ME.did, body={"price": "9"})
    assert admitted(admission, counter) == "ok"
    # Signed by another key than its `from` says: not this check's to judge, and no budget is spent.
    forged = cfp(IdentityKey.generate(), "x").split(".")
    forged[2] = cfp(stranger, "y").split(".")[2]
    assert admitted(admission, ".".join(forged)) == "ok"
    assert admitted(admission, "junk") == "ok"
    assert admitted(admission, cfp(stranger, "new")) == "strangers"


def test_one_peer_gets_a_rate_and_a_cap_on_open_threads(threads: ThreadStore) -> None:
    peer = IdentityKey.generate()

    async def known(did: str) -> bool:
        return True

    clock = Clock()
    limits = AdmissionLimits(new_threads_per_peer_per_minute=4, open_threads_per_peer=2)
    admission = Admission(threads, known, limits, clock=clock)
    for thid in ("a", "b"):
        assert admitted(admission, cfp(peer, thid)) == "ok"
        threads.put(ThreadState(peer=peer.did, thid=thid, role="seller", state="open"))
    assert admitted(admission, cfp(peer, "c")) == "open_threads"
    threads.put(ThreadState(peer=peer.did, thid="a", role="seller", state="rejected"))
    assert admitted(admission, cfp(peer, "c")) == "ok"
    assert admitted(admission, cfp(peer, "d")) == "open_threads"  # "c" may be on its way to the store
    clock.now += 11  # "c" never got there: the protocol refused it
    assert admitted(admission, cfp(peer, "d")) == "ok"
    threads.put(ThreadState(peer=peer.did, thid="b", role="seller", state="released"))
    assert admitted(admission, cfp(peer, "e")) == "peer_rate"  # four new threads this minute
    assert admitted(admission, cfp(IdentityKey.generate(), "a")) == "ok"  # another peer's own budget


def test_a_strangers_opening_envelope_is_small_and_a_failing_lookup_makes_a_stranger(
    threads: ThreadStore,
) -> None:
    async def broken(did: str) -> bool:
        raise ConnectionError("chain down")

    admission = Admission(threads, broken, AdmissionLimits(stranger_envelope_bytes=2000))
    assert admitted(admission, cfp(IdentityKey.generate(), "big", size=3000)) == "stranger_size"
    assert admitted(admission, cfp(IdentityKey.generate(), "small")) == "ok"


def test_registry_lookups_are_cached_and_budgeted(threads: ThreadStore) -> None:
    asked: list[str] = []

    async def known(did: str) -> bool:
        asked.append(did)
        return True

    admission = Admission(
        threads, known, AdmissionLimits(lookups_per_minute=2, stranger_threads_per_minute=1)
    )
    friend = IdentityKey.generate()
    for thid in ("1", "2", "3"):
        assert admitted(admission, cfp(friend, thid)) == "ok"
    assert asked == [friend.did]
    assert admitted(admission, cfp(IdentityKey.generate(), "x")) == "ok"
    # Past the lookup budget an unknown DID is a stranger, whatever the registry would say.
    assert admitted(admission, cfp(IdentityKey.generate(), "y")) == "ok"
    assert admitted(admission, cfp(IdentityKey.generate(), "z")) == "strangers"
    assert len(asked) == 2


def test_sdk_log_records_become_one_line_a_minute_per_template() -> None:
    clock = Clock()
    quiet = OneLinePerMinute(clock=clock)
    try:
        raise ValueError("bad params\nsecond line")
    except ValueError as exc:
        error = exc
    lines = []
    for i in range(5):
        record = logging.LogRecord(
            "a2a.x", logging.ERROR, "f", 1, "Failed %s", (i,), (ValueError, error, None)
        )
        if quiet.filter(record):
            lines.append(logging.Formatter("%(message)s").format(record))
    clock.now += 61
    record = logging.LogRecord("a2a.x", logging.ERROR, "f", 1, "Failed %s", (9,), None)
    assert quiet.filter(record)
    lines.append(record.getMessage())
    assert lines == [
        "Failed 0: ValueError: bad params second line",
        "Failed 9 (4 more like it in the last 60 s not shown)",
    ]


async def _false() -> bool:
    return False


def test_strangers_also_have_a_budget_a_day(threads: ThreadStore) -> None:
    clock = Clock()
    limits = AdmissionLimits(stranger_threads_per_minute=2, stranger_threads_per_day=3)
    admission = Admission(threads, lambda did: _false(), limits, clock=clock)
    verdicts = []
    for minute in range(3):
        clock.now += 61 * minute
        verdicts += [admitted(admission, cfp(IdentityKey.generate(), f"{minute}-{i}")) for i in range(2)]
    assert verdicts == ["ok", "ok", "ok", "strangers_today", "strangers_today", "strangers_today"]
    clock.now += 86400
    assert admitted(admission, cfp(IdentityKey.generate(), "tomorrow")) == "ok"
