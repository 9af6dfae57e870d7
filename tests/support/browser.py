"""The browser tests' fleet and page handles (tests/browser/conftest.py starts them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASS = {"SOVA_PASSPHRASE": "browser test passphrase"}


@dataclass(frozen=True)
class Fleet:
    """A running fleet and the way into its console."""

    config: Path
    home: Path
    url: str
    token: str
    up_output: str

    @property
    def link(self) -> str:
        return f"{self.url}#token={self.token}"

    def ready(self, name: str) -> dict[str, Any]:
        return dict(json.loads((self.home / "agents" / name / "agent.json").read_text()))


@dataclass
class Page:
    """A console tab, and every dialog (alert, confirm…) and page error it saw."""

    page: Any
    dialogs: list[str]
    errors: list[str]
