"""Fixtures for chain tests that need the contracts deployed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode
from tests.support.executor import Market, open_market


@pytest.fixture
def market_anvil(anvil: AnvilNode) -> AnvilNode:
    """The node `market` deploys on: a fresh anvil per test. A module whose tests do not disturb each
    other overrides this fixture to return `module_anvil` (one node, fresh contracts per test)."""
    return anvil


@pytest.fixture
async def market(market_anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[Market]:
    """The four contracts deployed on `market_anvil`, a client with an outbox, and TUSD."""
    m = await open_market(market_anvil.url, tmp_path)
    try:
        yield m
    finally:
        await m.client.close()
