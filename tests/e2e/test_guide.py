"""docs/guide.md, run as a new user would: every snippet in order, for real, in a temp folder — one
fleet for the whole guide (`sova init`, `sova up`, two restarts, `sova down`).

The guide's marks (HTML comments, invisible when rendered) say what each block is:

- `<!-- snippet: NAME -->` + a ```sh block: commands, one a line, run in the current folder
  (`cd DIR` changes it; `sova` is this checkout's command, `pytest` this interpreter's);
- `<!-- snippet: NAME file: PATH -->`: the block is the whole new content of PATH;
- `<!-- snippet: NAME edit: PATH -->`: the block replaces the YAML list item of PATH that starts with
  the block's first line (an agent's entry in agents.yaml);
- `<!-- output: NAME -->`: what the guide says snippet NAME prints: each line must match a line of
  its output, `…` standing for anything.

A command the guide says to repeat until something shows (WATCHED) is repeated until its snippet's
output block matches. Beyond the output blocks, CHECKS asserts what the guide's prose states."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import SOVA, sova
from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.chain, pytest.mark.slow]

GUIDE = REPO_ROOT / "docs" / "guide.md"
MARK = re.compile(
    r"<!-- (snippet|output): ([\w-]+)(?: (file|edit): (\S+))? -->\n```[a-z]*\n(.*?)```", re.DOTALL
)
WATCHED = {"sova deals list buyer", "grep tip .sova/agents/buyer/agent.log"}
"""Commands whose output the guide says to wait for: repeated (≤ WAIT s) until their block matches."""
WAIT = 90.0
EXIT_CODES = {("typo", 1): 2}
"""(snippet, command index) -> the exit code the guide says it has; every other command exits 0."""


@dataclass(frozen=True)
class Block:
    what: str  # "snippet" or "output"
    name: str
    how: str | None  # "file", "edit" or None (commands)
    path: str | None
    text: str


def guide_blocks() -> list[Block]:
    return [Block(m[1], m[2], m[3], m[4], m[5]) for m in MARK.finditer(GUIDE.read_text(encoding="utf-8"))]


class User:
    """Runs commands as a user types them: in a folder, with no SOVA_ variables set."""

    def __init__(self, folder: Path) -> None:
        self.cwd = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        self.env = env

    def run(self, line: str) -> tuple[int, str]:
        words = shlex.split(line, comments=True)
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return 0, ""
        program = {"sova": [str(SOVA)], "pytest": [sys.executable, "-m", "pytest"]}.get(words[0], words[:1])
        done = subprocess.run(
            [*program, *words[1:]], cwd=self.cwd, env=self.env, capture_output=True, text=True,
            timeout=240, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr


def unmatched(expected: str, output: str) -> list[str]:
    """The lines of an output block that match no line of `output` (`…` matches anything)."""
    lines = output.splitlines()
    missing = []
    for want in filter(None, (w.strip() for w in expected.splitlines())):
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("…")))
        if not any(pattern.search(line) for line in lines):
            missing.append(want)
    return missing


def run_commands(user: User, block: Block, expected: str | None) -> str:
    """Each command of `block` in order; a watched last one again until `expected` matches."""
    lines = [line for line in block.text.splitlines() if shlex.split(line, comments=True)]
    outputs: list[str] = []
    for index, line in enumerate(lines):
        code, out = user.run(line)
        deadline = time.monotonic() + WAIT
        while line in WATCHED and expected is not None and time.monotonic() < deadline:
            if code == 0 and not unmatched(expected, "\n".join([*outputs, out])):
                break
            time.sleep(2)
            code, out = user.run(line)
        assert code == EXIT_CODES.get((block.name, index), 0), f"{line}: exit {code}\n{out}"
        outputs.append(out)
    return "\n".join(outputs)


def write_file(user: User, block: Block) -> None:
    assert block.path is not None
    path = user.cwd / block.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text, encoding="utf-8")


def edit_item(user: User, block: Block) -> None:
    """Replace the YAML list item starting with the block's first line (up to the next item at its
    indentation, or a line indented less)."""
    assert block.path is not None
    path = user.cwd / block.path
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = block.text.splitlines()[0]
    assert first in [line.rstrip("\n") for line in lines], f"{block.path} has no line {first!r}"
    start = [line.rstrip("\n") for line in lines].index(first)
    indent = len(first) - len(first.lstrip())
    end = start + 1
    while end < len(lines):
        line = lines[end]
        depth = len(line) - len(line.lstrip())
        if line.strip() and (depth < indent or (depth == indent and line.lstrip().startswith("- "))):
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # keep the blank lines between items
        end -= 1
    path.write_text("".join([*lines[:start], block.text, *lines[end:]]), encoding="utf-8")


def bought(output: str) -> dict[str, Any]:
    return dict(json.loads(output))


def check_buy(user: User, output: str) -> None:
    deal = bought(output)
    assert (deal["state"], deal["input"], deal["output"]) == ("released", {"text": "one two"}, {"words": 2})
    assert set(deal["txs"]) == {"approve", "open", "release"}


def check_buy_keywords(user: User, output: str) -> None:
    deal = bought(output)
    assert (deal["service"], deal["state"]) == ("keywords", "released")
    assert deal["output"] == {"words": ["the", "cat"]}


def check_ledger(user: User, output: str) -> None:
    """What the guide says `sova log show buyer --json` holds: the denied tip with max_tip's reason,
    the paid one's allow decision and its effect with the one TestUSD.transfer signed."""
    shown_lines = [line for line in output.splitlines() if re.match(r"\s*\d+  \S+Z  \w+ +\{", line)]
    assert len(shown_lines) == 5, output  # `sova log show buyer --limit 5`: one line per entry
    code, shown = user.run("sova log show buyer --json --limit 5000")
    assert code == 0, shown
    tips = [e for e in json.loads(shown) if e["data"].get("skill") == "tip"]
    denied = [e["data"] for e in tips if e["kind"] == "decision" and e["data"]["verdict"] == "deny"]
    assert [d["reasons"][-1] for d in denied][-1:] == [
        {"kind": "max_tip", "message": "a tip of 7 is over 5", "rule": 6, "verdict": "deny"}
    ]
    allowed = [e["data"] for e in tips if e["kind"] == "decision" and e["data"]["verdict"] == "allow"]
    assert [d["args"] for d in allowed] == [{"amount": "0.5", "to": "seller"}]
    (paid,) = [e["data"] for e in tips if e["kind"] == "effect"]
    assert paid["status"] == "done"
    assert [s["label"] for s in paid["signed"]] == ["TestUSD.transfer"]


def check_down(user: User, output: str) -> None:
    code, status = user.run("sova status --json")
    assert code == 0, status
    assert not any(agent["ready"] for agent in json.loads(status)["agents"])


CHECKS: dict[str, Callable[[User, str], None]] = {
    "buy": check_buy,
    "buy-keywords": check_buy_keywords,
    "ledger": check_ledger,
    "down": check_down,
}
"""What the guide's prose states of a snippet, beyond its output block."""


@pytest.fixture
def user(tmp_path: Path) -> Iterator[User]:
    user = User(tmp_path)
    yield user
    if (user.cwd / "agents.yaml").exists():
        sova("down", cwd=user.cwd, timeout=90)  # whatever happened, no fleet outlives the test


def test_the_guide_runs_as_written_from_sova_init_to_a_plugin_skill_under_its_own_rule(user: User) -> None:
    blocks = guide_blocks()
    outputs = {b.name: b.text for b in blocks if b.what == "output"}
    snippets = [b for b in blocks if b.what == "snippet"]
    names = [b.name for b in snippets]
    assert len(names) == len(set(names)), names
    assert set(outputs) | set(CHECKS) <= set(names), "an output block or check names no snippet"
    assert (names[0], names[-1]) == ("init", "down")
    for block in snippets:
        if block.how == "file":
            write_file(user, block)
        elif block.how == "edit":
            edit_item(user, block)
        else:
            expected = outputs.get(block.name)
            output = run_commands(user, block, expected)
            missing = unmatched(expected, output) if expected is not None else []
            assert not missing, f"{block.name}: the guide says {missing}, the output is\n{output}"
            if block.name in CHECKS:
                CHECKS[block.name](user, output)
