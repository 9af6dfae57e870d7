"""Chaos: anvil SIGKILLed during deals and started again from an older state file, under `sova up
--detach` with the demo market (real agent processes, real anvil). The chain goes back several
deals; the agents re-send from the outbox what it lost, so every deal their stores call released is
released on-chain again, every ledger verifies against the chain, and trade goes on by itself. Then,
the fleet stopped, a ledger cut behind the head the supervisor witnessed fails `sova log verify`, and
so does one cut behind the head its peer was sent in deal messages (with no supervisor's witness).

The older state is a copy of anvil's own periodic dump (`--state-interval`), taken while the fleet
trades; anvil is frozen (SIGSTOP) while the copy is put back and then killed, so it cannot dump over it:
the same as a kill that came that long after the last dump."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from runtime.chain.anvil import rpc_call
from runtime.home import Home
from runtime.ledger.peer_heads import read_peer_heads
from tests.support.cli import one_error_line, sova
from tests.support.failures import (
    PASS,
    agents,
    assert_ledger_whole,
    deals,
    down,
    home_of,
    ledger,
    project,
    up,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.slow]

RELEASED = 2  # escrow state Released in DealEscrow.stateOf
STATE_OF = Web3.keccak(text="stateOf(bytes32)")[:4].hex()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = project(tmp_path_factory.mktemp("rollback"))
    up(config)
    try:
        yield config
    finally:
        down(config)


def released(config: Path) -> list[str]:
    return [d.deal_id for d in deals(home_of(config), "buyer") if d.state == "released"]


def escrow_state(url: str, escrow: str, deal_id: str) -> int:
    data = "0x" + STATE_OF.removeprefix("0x") + deal_id.removeprefix("0x").rjust(64, "0")
    return int(str(rpc_call(url, "eth_call", [{"to": escrow, "data": data}, "latest"])), 16)


def copy_of_dump(state: Path, to: Path) -> int:
    """A whole copy of anvil's last state dump (retried while a dump is being written); its block."""
    for _ in range(50):
        shutil.copy(state, to)
        try:
            return int(json.loads(to.read_text())["best_block_number"])
        except (ValueError, KeyError, TypeError):
            time.sleep(0.1)
    raise AssertionError(f"no readable state dump in {state}")


def test_anvil_killed_and_restarted_from_an_older_state_loses_no_released_deal(
    fleet: Path, tmp_path: Path
) -> None:
    home = home_of(fleet)
    wait_for(lambda: all(a["ready"] for a in agents(fleet).values()), 90, "every agent ready")
    wait_for(lambda: len(released(fleet)) >= 1, 120, "a first released deal")
    older = tmp_path / "older-state.json"
    old_block = copy_of_dump(home.chain_state, older)
    count = len(released(fleet))
    wait_for(lambda: len(released(fleet)) >= count + 3, 120, "three more released deals")
    node = json.loads(home.node_file.read_text())
    url = str(node["url"])
    head = int(str(rpc_call(url, "eth_blockNumber", [])), 16)
    os.kill(int(node["pid"]), signal.SIGSTOP)  # no more dumps from here
    shutil.copy(older, home.chain_state)
    os.kill(int(node["pid"]), signal.SIGKILL)
    killed_at = time.monotonic()

    def restarted() -> dict[str, object] | None:
        now = json.loads(home.node_file.read_text())
        return now if now["pid"] != node["pid"] else None

    wait_for(restarted, 60, "the supervisor to start the chain again")
    escrow = json.loads(home.deployments(31337).read_text())["contracts"]["DealEscrow"]
    before = released(fleet)

    def all_released_on_chain() -> bool:
        return all(escrow_state(url, escrow, d) == RELEASED for d in before)

    wait_for(all_released_on_chain, 60, "every released deal released on-chain again", every=0.5)
    recovered_in = time.monotonic() - killed_at
    # The chain did go back, and these came back by re-sending: the outbox marks each transaction it
    # reopened (an agent may have re-sent them before this test could look at the chain).
    reopened = {r["purpose"] for r in lost_and_resent(home)}
    assert "DealEscrow.release" in reopened, reopened
    health = status(fleet)["chain_health"]
    assert health["last_rollback"] is not None, health
    assert health["state"] == "ok", health
    after = len(released(fleet))
    wait_for(lambda: len(released(fleet)) > after, 120, "a new deal released after the rollback")
    for name in ("buyer", "seller", "issuer"):
        wait_for(partial(verifies, fleet, name), 60, f"{name}'s ledger to verify against the chain")
        assert_ledger_whole(fleet, name)
    assert {r["status"] for r in lost_and_resent(home)} == {"mined"}  # each mined again, none failed
    # Measured, shown with `pytest -s`: how far the chain went back and how soon the deals were back.
    print(
        f"\nchain went back from block {head} to {old_block}: {len(before)} released deals released "
        f"on-chain again {recovered_in:.1f} s after the kill; state file "
        f"{home.chain_state.stat().st_size} bytes"
    )


def lost_and_resent(home: Home) -> list[dict[str, Any]]:
    """The outbox's transactions a rollback undid and an agent re-sent (their `error` says so)."""
    conn = sqlite3.connect(home.outbox.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT purpose, status FROM outbox WHERE error LIKE '%receipt vanished%'"
        ).fetchall()
    finally:
        conn.close()
    return [{"purpose": r[0], "status": r[1]} for r in rows]


def status(config: Path) -> dict[str, Any]:
    """`sova status --json`."""
    result = sova("status", "--json", "-f", str(config))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert isinstance(data, dict)
    return data


def verifies(config: Path, name: str) -> bool:
    return sova("log", "verify", name, "-f", str(config), env=PASS, timeout=120).code == 0


def test_a_ledger_cut_behind_the_supervisors_witness_fails_verify(fleet: Path) -> None:
    home = home_of(fleet)
    witness = home.witness("buyer")
    wait_for(witness.exists, 30, "the supervisor's witness of the buyer's ledger")
    first = json.loads(witness.read_text())["seq"]
    wait_for(lambda: json.loads(witness.read_text())["seq"] > first, 30, "the witness to follow the head")
    down(fleet)
    seen = int(json.loads(witness.read_text())["seq"])
    with sqlite3.connect(home.ledger("buyer")) as conn:
        conn.execute("DELETE FROM entries WHERE seq > ?", (seen - 3,))

    result = sova("log", "verify", "buyer", "-f", str(fleet), env=PASS, timeout=120)

    assert result.code == 1, result.out + result.err
    line = one_error_line(result)
    assert f"entries {seen - 2}..{seen} are missing from the end" in line, line
    assert "was witnessed at" in line


def test_a_seller_ledger_cut_behind_the_head_the_buyer_was_sent_fails_verify(fleet: Path) -> None:
    home = home_of(fleet)
    seller = str(ledger(home, "seller")[0].data["did"])
    wait_for(lambda: read_peer_heads(home.peer_heads("buyer")).get(seller), 60, "the buyer to keep a head")
    down(fleet)
    whole = sova("log", "verify", "seller", "--offline", "-f", str(fleet), env=PASS, timeout=120)
    assert whole.code == 0, whole.out + whole.err
    assert "1 peer witness of its head checked" in whole.out, whole.out
    seen = read_peer_heads(home.peer_heads("buyer"))[seller]
    home.witness("seller").unlink(missing_ok=True)  # only the buyer's witness is left to tell
    with sqlite3.connect(home.ledger("seller")) as conn:
        conn.execute("DELETE FROM entries WHERE seq > ?", (seen.seq - 3,))

    result = sova("log", "verify", "seller", "--offline", "-f", str(fleet), env=PASS, timeout=120)

    assert result.code == 1, result.out + result.err
    line = one_error_line(result)
    assert f"entries {seen.seq - 2}..{seen.seq} are missing from the end" in line, line
    assert f"agent buyer was sent entry {seen.seq} ({seen.hash}) in a deal message" in line, line
