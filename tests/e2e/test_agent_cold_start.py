"""What a rules-brain agent process loads on its way to ready: never LangChain (only an LLM brain
needs it), and the A2A server it serves with, read from `python -X importtime` of the real process."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.home import Home
from runtime.supervisor import agent_command
from tests.e2e.test_agent_process import PASS, chain_project, provision, wait_for

__all__ = ["chain_project"]  # the fixture, used by name

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
    # The whole start was seen (-X importtime skips what importlib.import_module loads, as _preload
    # does, but not what those modules import): the operator API is the last thing it imports.
    assert {"runtime.agent", "runtime.protocol", "uvicorn", "runtime.operator_agent"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in {"langchain", "langchain_core", "langgraph"})
    assert heavy == [], f"a rules-brain agent imported {heavy[:5]}"
