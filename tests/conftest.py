"""Shared fixtures: a real anvil node from tools/ on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.chain.anvil import AnvilNode


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
