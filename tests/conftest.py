"""Shared fixtures (a real anvil node from tools/ on a free loopback port), and each test's kind as a
marker taken from its folder, so `make unit-fast` can select by marker (`-m "not ..."`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode

# tests/<folder>/... -> the marker every test in it gets (registered in pyproject.toml).
FOLDER_MARKERS = {"chain": "chain", "e2e": "e2e", "browser": "browser", "interop": "interop"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        try:
            folder = item.path.relative_to(here).parts[0]
        except ValueError:
            continue
        marker = FOLDER_MARKERS.get(folder)
        if marker is not None:
            item.add_marker(marker)


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    """A fresh anvil for one test, stopped by its pid afterwards, also when the test fails."""
    node = AnvilNode().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def module_anvil() -> Iterator[AnvilNode]:
    """One anvil shared by a module's tests (cheaper when tests do not disturb each other)."""
    node = AnvilNode().start()
    try:
        yield node
    finally:
        node.stop()
