"""Strangers against a real fleet (`sova up --detach`): 200 calls for proposals from freshly made
did:keys (no registry entry, no credential), as fast as one client sends them, and a burst of junk
requests. The seller's ledger grows by a small bounded number of entries (admission control,
runtime/a2a/admission.py), its agent.log gets one line per refused class (no a2a-sdk traceback), and
the real buyer, registered in AgentRegistry, still negotiates and settles deals meanwhile."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from identity import IdentityKey, sign_envelope
from runtime.a2a.admission import AdmissionLimits
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION
from runtime.ledger.format import Entry
from tests.support.failures import agents, assert_ledger_whole, down, home_of, ledger, project, up, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

STRANGERS = 200


@pytest.fixture(scope="module")
def fleet_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = project(tmp_path_factory.mktemp("strangers"))
    up(config)
    try:
        yield config
    finally:
        down(config)


def rpc(jws: str) -> dict[str, Any]:
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"data": {ENVELOPE_KEY: jws}}],
               "extensions": [NEGOTIATION_EXTENSION]}  # fmt: skip
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


def cfp(key: IdentityKey, seller: str) -> str:
    body = {"item": "wordcount", "token": "TUSD", "input": {"text": "stranger " * 200}, "challenge": "c"}
    return sign_envelope(key, type="cfp", thid=uuid.uuid4().hex, to=seller, body=body)


def released_count(config: Path) -> int:
    return sum(
        1 for e in ledger(home_of(config), "buyer") if e.kind == "deal" and e.data.get("event") == "released"
    )


async def flood(url: str, seller: str, keys: list[IdentityKey]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"A2A-Version": "1.0"}) as client:

        async def one(key: IdentityKey) -> dict[str, Any]:
            answer = await client.post("/", json=rpc(cfp(key, seller)))
            assert answer.status_code == 200
            result: dict[str, Any] = answer.json()
            return result

        return list(await asyncio.gather(*(one(k) for k in keys)))


def test_fresh_did_keys_add_a_bounded_number_of_ledger_entries_and_real_peers_still_deal(
    fleet_up: Path,
) -> None:
    config = fleet_up
    wait_for(lambda: released_count(config) >= 1, 120, "the buyer's first released deal")
    seller = agents(config)["seller"]
    home = home_of(config)
    before = ledger(home, "seller")
    keys = [IdentityKey.generate() for _ in range(STRANGERS)]
    strangers = {k.did for k in keys}
    started = time.monotonic()
    answers = asyncio.run(flood(seller["url"], seller["did"], keys))
    took = time.monotonic() - started
    refused = [a for a in answers if "error" in a]
    busy = [a for a in refused if "busy" in str(a["error"])]
    time.sleep(1.0)  # entries not written as a barrier reach the reader within a second
    added = [e for e in ledger(home, "seller")[len(before) :] if _names_one_of(e, strangers)]
    size = sum(len(e.data_bytes) for e in added)
    limits = AdmissionLimits()
    print(f"\n{STRANGERS} stranger cfps in {took:.2f} s: {len(refused)} refused, "
          f"{len(added)} ledger entries ({size} bytes)")  # fmt: skip
    # Each admitted stranger costs at most a handful of entries (message_in, the executor's decision on
    # its presentation, message_out); everything past the budget costs none.
    assert len(answers) - len(refused) <= limits.stranger_threads_per_minute, refused[:1]
    assert len(added) <= 4 * limits.stranger_threads_per_minute, f"{len(added)} entries for strangers"
    assert busy, refused[:3]
    # The real buyer, registered in AgentRegistry, is no stranger: it goes on dealing at once, while
    # the strangers' budget for this minute is spent (a stranger would wait for the next minute).
    count = released_count(config)
    wait_for(lambda: released_count(config) > count, 40, "a released deal right after the flood")
    log = (home.agent_dir("seller") / "agent.log").read_text(errors="replace")
    assert "admission: refused a new thread (strangers)" in log
    assert "lookup failed" not in log
    assert_ledger_whole(config, "seller")


def _names_one_of(entry: Entry, dids: set[str]) -> bool:
    """The entry names one of `dids` (as peer, claimed sender, origin or argument)."""
    text = entry.data_bytes.decode()
    return any(did in text for did in dids)


def test_junk_requests_leave_one_line_each_class_and_no_traceback(fleet_up: Path) -> None:
    seller = agents(fleet_up)["seller"]
    log = home_of(fleet_up).agent_dir("seller") / "agent.log"
    size = log.stat().st_size
    junk: list[tuple[str, bytes]] = [
        ("application/json", b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": 7}'),
        (
            "application/json",
            b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": 1}}',
        ),
        ("application/json", b'{"jsonrpc": "1.0", "id": 1, "method": "x"}'),
        ("application/json", b'{"id": 1}'),
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"jsonrpc": "2.0", "id": 1, "method": "NoSuchMethod", "params": {}}'),
    ]
    with httpx.Client(base_url=seller["url"], timeout=10, headers={"A2A-Version": "1.0"}) as client:
        for _ in range(100):
            for ctype, body in junk:
                answer = client.post("/", content=body, headers={"content-type": ctype})
                assert answer.status_code == 200, answer.text
    time.sleep(0.5)
    text = log.read_bytes()[size:].decode("utf-8", "replace")
    assert "Traceback" not in text, text[:3000]
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= 20, "\n".join(lines[:40])
