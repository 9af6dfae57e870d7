"""Fixtures shared by unit tests."""

from __future__ import annotations

import pytest

from identity import IdentityKey


@pytest.fixture(scope="module")
def issuer() -> IdentityKey:
    """An issuer's identity key (one per module: key generation is cheap, but tests share it)."""
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def subject() -> IdentityKey:
    """A credential subject's identity key."""
    return IdentityKey.generate()
