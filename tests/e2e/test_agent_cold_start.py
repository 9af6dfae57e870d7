"""An agent process on its way to ready: a rules-brain agent never loads LangChain (only an LLM brain
needs it; read from `python -X importtime` of the real process), and an agent given its keys by
`sova up` through a pipe starts without the passphrase, or refuses keys that are not its own."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.fleet.supervisor import agent_command
from runtime.home import Home
from runtime.key_handoff import KEY_FD_ENV, AgentKeys, handoff_fd, unlock_agent_keys
from tests.support.agents import PASS, provision, wait_for
from wallet import Keystore

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def imported_modules(importtime: str) -> set[str]:
    """The module names `python -X importtime` reported."""
    names = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_rules_brain_agent_does_not_import_langchain(chain_project: Path, tmp_path: Path) -> None:
    provision(chain_project)
    config = load_config(chain_project)
    ready = Home.for_config(chain_project, config).agent_dir("seller") / "agent.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")} | PASS
    command = agent_command("seller", chain_project)
    err = tmp_path / "importtime.txt"
    with err.open("wb") as out:
        proc = subprocess.Popen(
            [command[0], "-X", "importtime", *command[1:]], stdout=subprocess.DEVNULL, stderr=out,
            stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    try:
        wait_for("the seller's agent.json", ready.exists, 90, {"seller": proc})
    except AssertionError:
        output = [line for line in err.read_text().splitlines() if not line.startswith("import time")]
        raise AssertionError("\n".join(output[-20:])) from None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    modules = imported_modules(err.read_text())
    # The agent was ready (agent.json), and the report holds its imports (-X importtime leaves out
    # the modules importlib.import_module loads, as _preload does, but not what those import).
    assert {"runtime.agent.agent", "runtime.a2a.protocol", "runtime.operator.routes", "uvicorn"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in {"langchain", "langchain_core", "langgraph"})
    assert heavy == [], f"a rules-brain agent imported {heavy[:5]}"


def spawn_with_keys(config: Path, keys: AgentKeys, log: Path) -> subprocess.Popen[bytes]:
    """`sova agent run seller` as `sova up` spawns it: keys through a pipe, no passphrase in its env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    fd = handoff_fd(keys)
    try:
        with log.open("wb") as out:
            return subprocess.Popen(
                agent_command("seller", config), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**env, KEY_FD_ENV: str(fd)}, pass_fds=(fd,),
            )  # fmt: skip
    finally:
        os.close(fd)


def test_an_agent_given_its_keys_starts_without_the_passphrase(chain_project: Path, tmp_path: Path) -> None:
    provision(chain_project)
    config = load_config(chain_project)
    home = Home.for_config(chain_project, config)
    keys_dir = home.keys_dir(config, chain_project.parent)
    keys = unlock_agent_keys(keys_dir, ["seller"], PASS["SOVA_PASSPHRASE"])["seller"]
    log = tmp_path / "seller.log"
    proc = spawn_with_keys(chain_project, keys, log)
    ready = home.agent_dir("seller") / "agent.json"
    try:
        wait_for("the seller's agent.json", ready.exists, 90, {"seller": proc})
        assert json.loads(ready.read_text())["address"] == Keystore(keys_dir).info("seller").address
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_keys_that_are_not_the_agents_own_are_refused_in_one_line(
    chain_project: Path, tmp_path: Path
) -> None:
    provision(chain_project)
    log = tmp_path / "seller.log"
    proc = spawn_with_keys(chain_project, AgentKeys(secrets.token_bytes(32), secrets.token_bytes(32)), log)
    assert proc.wait(timeout=60) == 2
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "the keys `sova up` handed over are not the ones in its key files" in lines[0]
