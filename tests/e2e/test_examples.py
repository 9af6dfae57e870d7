"""The three example services sold by a real agent to real buyers on a real chain, as README's
"Examples" snippet runs them (each of its commands, on a copy of examples/agents.yaml): each buyer's
deal is released with the service's true result — a summary from the seller's (scripted) chat model,
a definition from the seller's own SQLite table, bytes that decompress to the buyer's."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import sova
from tests.support.fleet import PASS, wait_for
from tests.support.paths import REPO_ROOT


@pytest.fixture
def examples(tmp_path: Path) -> Iterator[Path]:
    """examples/agents.yaml (buying every 5 s) and its scripted model in a fresh folder, the presets
    beside it as in the checkout (its policy paths are ../policies/presets/...)."""
    shutil.copytree(REPO_ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    shutil.copytree(REPO_ROOT / "examples" / "brains", tmp_path / "examples" / "brains")
    config = tmp_path / "examples" / "agents.yaml"
    text = (REPO_ROOT / "examples" / "agents.yaml").read_text()
    assert text.count("every: 30s") == 3
    config.write_text(text.replace("every: 30s", "every: 5s"))  # a buyer whose first try fails tries soon
    yield config
    sova("down", "-f", str(config), env=PASS, timeout=90)


def released(config: Path, buyer: str) -> dict[str, Any] | None:
    listed = sova("deals", "list", buyer, "--json", "-f", str(config), env=PASS)
    if listed.code != 0:
        return None
    return next((d for d in json.loads(listed.out) if d["state"] == "released"), None)


def readme_commands() -> list[list[str]]:
    """README's examples snippet, one argument list per command (without `sova` and comments)."""
    found = re.search(
        r"<!-- snippet: examples -->\n```\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.DOTALL
    )
    assert found
    return [line.split("#")[0].split()[1:] for line in found.group(1).splitlines() if line.strip()]


def test_the_example_services_are_bought_and_deliver_their_results(examples: Path) -> None:
    inputs = {
        goal["service"]: goal["input"]
        for agent in yaml.safe_load(examples.read_text())["agents"]
        for goal in agent.get("goals", [])
        if goal["kind"] == "buy"
    }
    steps = [[str(examples) if a == "examples/agents.yaml" else a for a in c] for c in readme_commands()]
    assert [s[:2] for s in steps] == [["up", "--detach"], *[["deals", "list"]] * 3, ["down", "-f"]]
    started = sova(*steps[0], env=PASS, timeout=240)
    assert started.code == 0, started.err + started.out
    deals: dict[str, Any] = {}
    for step in steps[1:4]:
        buyer = step[2]
        deals[buyer] = wait_for(lambda b=buyer: released(examples, b), 120, f"{buyer}'s deal released")
    assert {b: d["service"] for b, d in deals.items()} == {
        "reader": "summarize", "student": "glossary", "archiver": "compress",
    }  # fmt: skip

    script = yaml.safe_load((REPO_ROOT / "examples" / "brains" / "summarizer.yaml").read_text())
    said = script["replies"][0]["text"].split()
    summary = deals["reader"]["result"]
    assert summary == {"summary": " ".join(said[:12]), "words": 12}
    assert deals["reader"]["input"] == inputs["summarize"]

    definition = deals["student"]["result"]
    terms = (REPO_ROOT / "examples" / "data" / "glossary.csv").read_text().strip().splitlines()[1:]
    assert (definition["term"], definition["entries"]) == ("escrow", len(terms))
    assert definition["definition"].startswith("The DealEscrow contract")
    assert (examples.parent / ".sova" / "agents" / "seller" / "scratch" / "glossary.sqlite").is_file()

    raw = base64.b64decode(inputs["compress"]["data"])
    packed = deals["archiver"]["result"]
    assert zlib.decompress(base64.b64decode(packed["zlib"])) == raw
    assert packed["sha256"] == hashlib.sha256(raw).hexdigest()

    stopped = sova(*steps[4], env=PASS, timeout=90)
    assert stopped.code == 0, stopped.err
