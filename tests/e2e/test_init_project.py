"""A project made by `sova init` runs as it is, as its README says: `sova up --detach` in its folder,
the buyer's goal buys `wordcount` and settles the deal with the result {"words": 3}, `sova down`.

Each step is one command of the project's README, run in the project's folder; `STEPS` lists them in
order, so a new command of the README is one more step here."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Result, sova
from tests.support.fleet import PASS, wait_for


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "shop"
    made = sova("init", str(folder))
    assert made.code == 0, made.err
    yield folder
    sova("down", env=PASS, cwd=folder, timeout=90)


def run(folder: Path, command: str, timeout: float = 240) -> Result:
    """One README command (`sova ...`, shell-quoted as a user types it), in the project's folder."""
    result = sova(*shlex.split(command)[1:], env=PASS, cwd=folder, timeout=timeout)
    assert result.code == 0, f"{command}: {result.err}{result.out}"
    return result


def released_deals(folder: Path) -> list[dict[str, object]]:
    listed = sova("deals", "list", "buyer", "--json", env=PASS, cwd=folder)
    if listed.code != 0:  # no deal store yet: the buyer's first run has not begun
        assert "has no deals yet" in listed.err, listed.err
        return []
    return [d for d in json.loads(listed.out) if d["state"] == "released"]


def up(folder: Path) -> None:
    run(folder, "sova up --detach")


def deal_with_a_result(folder: Path) -> None:
    deals = wait_for(lambda: released_deals(folder), 120, "a released wordcount deal with its result")
    deal = deals[-1]
    assert (deal["service"], deal["input"], deal["result"]) == ("wordcount", {"text": "a b c"}, {"words": 3})
    assert set(deal["txs"]) >= {"approve", "open", "release"}  # type: ignore[arg-type]


def buy_now(folder: Path) -> None:
    bought = json.loads(run(folder, BUY).out)
    assert (bought["state"], bought["input"]) == ("released", {"text": "one two"})
    assert bought["output"]["words"] == 2


BUY = 'sova buy wordcount --as buyer --input \'{"text": "one two"}\' --json'


def down(folder: Path) -> None:
    run(folder, "sova down", timeout=90)


STEPS: list[tuple[str, Callable[[Path], None]]] = [
    ("sova up --detach", up),
    ("sova deals list buyer --json", deal_with_a_result),
    (BUY, buy_now),
    ("sova down", down),
]


def readme_commands(folder: Path) -> list[str]:
    """The commands of the README's "Run it" block, without their comments."""
    text = (folder / "README.md").read_text()
    block = re.search(r"## Run it\n\n```\n(.*?)```", text, re.DOTALL)
    assert block, "the project's README has no `Run it` block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_a_new_project_runs_as_its_readme_says_and_settles_a_deal_with_a_result(project: Path) -> None:
    assert readme_commands(project) == [command for command, _ in STEPS]
    for _, step in STEPS:
        step(project)
    assert not any(a["ready"] for a in json.loads(run(project, "sova status --json").out)["agents"])
