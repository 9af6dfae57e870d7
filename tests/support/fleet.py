"""`sova up` fleets for the tests in tests/e2e/: their status, and waiting on it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.support.cli import sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


PASS = {"SOVA_PASSPHRASE": "fleet test passphrase"}


def status(config: Path) -> dict[str, Any]:
    result = sova("status", "--json", "-f", str(config))
    assert result.code == 0, result.err
    return dict(json.loads(result.out))


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
