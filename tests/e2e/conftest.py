"""Fixtures of the end-to-end tests: a project on a running local chain, a fleet folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import chain_running, project
from tests.support.cli import sova
from tests.support.fleet import PASS, ROOT


@pytest.fixture
def chain_project(tmp_path: Path) -> Iterator[Path]:
    with chain_running(project(tmp_path / "proj")) as config:
        yield config


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Path]:
    shutil.copytree(ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    text = (ROOT / "agents.yaml").read_text().replace("every: 20s", "every: 2s")
    (tmp_path / "agents.yaml").write_text(text)
    config = tmp_path / "agents.yaml"
    yield config
    sova("down", "-f", str(config), env=PASS, timeout=90)
