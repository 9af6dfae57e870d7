"""`sova agent run NAME` as real processes: the demo issuer, seller and buyer of agents.yaml on a local
chain started by `sova chain up`, each agent its own OS process. The buyer must buy and settle a deal;
SIGTERM must stop each cleanly."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.home import Home
from tests.support.agents import (
    NAMES,
    PASS,
    agent_cmd,
    provision,
    released,
    wait_for,
)
from tests.support.cli import SOVA, Procs, Result, agents_cleaned_up, one_error_line, sova, stop_cleanly

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def test_missing_keys_is_one_line_and_exit_2(chain_project: Path, tmp_path: Path) -> None:
    log = tmp_path / "buyer.log"
    proc = agent_cmd("buyer", chain_project, log)
    assert proc.wait(timeout=60) == 2
    text = log.read_text()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "no key 'buyer'" in lines[0]
    assert "sova keys new buyer" in lines[0]


def test_unknown_agent_is_refused(chain_project: Path) -> None:
    # through the module entry point, as `sova up` would spawn it (the `sova agent` group is the lead's)
    result = subprocess.run(
        [str(SOVA), "agent", "run", "nobody", "-f", str(chain_project)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **PASS},
    )  # fmt: skip
    assert result.returncode == 2
    line = one_error_line(Result(result.returncode, result.stdout, result.stderr))
    assert "no agent named 'nobody'" in line


def test_three_agents_trade_and_stop_cleanly(chain_project: Path, tmp_path: Path) -> None:
    provision(chain_project)
    config = load_config(chain_project)
    home = Home.for_config(chain_project, config)
    logs = {name: tmp_path / f"{name}.log" for name in NAMES}
    procs: Procs = {}
    with agents_cleaned_up(procs, logs):
        for name in NAMES:
            procs[name] = agent_cmd(name, chain_project, logs[name])
        ready_files = {name: home.agent_dir(name) / "agent.json" for name in NAMES}
        wait_for("agent.json files", lambda: all(p.exists() for p in ready_files.values()), 90, procs)
        agent_ids: dict[str, int] = {}
        for name, path in ready_files.items():
            assert path.stat().st_mode & 0o777 == 0o600
            ready = json.loads(path.read_text())
            agent_ids[name] = ready["agent_id"]
            assert ready["name"] == name
            assert ready["pid"] == procs[name].pid
            assert ready["role"] == name
            assert ready["url"].startswith("http://127.0.0.1:")
            assert ready["did"].startswith("did:key:")
            assert f"agent {name} ready at {ready['url']}" in logs[name].read_text()
        assert sorted(agent_ids.values()) == [1, 2, 3]
        wait_for("a released deal", lambda: bool(released(home)), 60, procs)
        price = Decimal(released(home)[0])
        assert Decimal("9") <= price <= Decimal("12")
        # the buyer writes its deal line once the store has the deal released: wait for it, under load too
        wait_for("the buyer's deal line", lambda: ", released" in logs["buyer"].read_text(), 30, procs)
        stop_cleanly(procs, logs, NAMES)
        assert not any(path.exists() for path in ready_files.values())
        # A restart finds its registration and the credential it issued already: nothing is done twice.
        logs["issuer-again"] = tmp_path / "issuer-again.log"
        procs["issuer-again"] = again = agent_cmd("issuer", chain_project, logs["issuer-again"])
        wait_for("the restarted issuer", ready_files["issuer"].exists, 60, {"issuer-again": again})
        assert json.loads(ready_files["issuer"].read_text())["agent_id"] == agent_ids["issuer"]
        again.send_signal(signal.SIGINT)
        assert again.wait(timeout=30) == 0
        text = logs["issuer-again"].read_text()
        assert "seller already holds a VerifiedSupplier credential" in text
        assert "registered issuer" not in text
        assert not ready_files["issuer"].exists()
    verified = sova("log", "verify", "buyer", "-f", str(chain_project), env=PASS)
    assert verified.code == 0, verified.out + verified.err
    # The demo buyer bought `wordcount` (examples/wordcount.py) with its input, and kept the result.
    listed = sova("deals", "list", "buyer", "--json", "-f", str(chain_project))
    assert listed.code == 0, listed.err
    done = [d for d in json.loads(listed.out) if d["state"] == "released"]
    assert done
    first = done[-1]
    text = "the quick brown fox jumps over the lazy dog"
    assert (first["service"], first["input"], first["counterparty"].split()[0]) == (
        "wordcount",
        {"text": text},
        "seller",
    )
    assert first["result"] == {"words": 9, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert set(first["txs"]) == {"approve", "open", "release"}
    shown = sova("deals", "show", "buyer", first["deal_id"], "--json", "-f", str(chain_project))
    assert json.loads(shown.out)["result"] == first["result"]
    theirs = json.loads(
        sova("deals", "show", "seller", first["thid"], "--json", "-f", str(chain_project)).out
    )
    assert (theirs["output_hash"], theirs["state"]) == (first["output_hash"], "released")
