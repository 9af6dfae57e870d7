"""Fixtures for chain tests that need the contracts deployed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.anvil import AnvilNode
from tests.unit.test_executor_support import Market, open_market


@pytest.fixture
async def market(anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[Market]:
    """A fresh anvil with the four contracts deployed, a client with an outbox, and TUSD."""
    m = await open_market(anvil.url, tmp_path)
    try:
        yield m
    finally:
        await m.client.close()
