"""Where a deal's input and output live: inline in the deal store up to `inline_max` bytes of canonical
JSON, larger ones as files `<store folder>/deal-payloads/<keccak256 hex>.json` (0600; named by their
hash, so the same payload is one file and a file that does not hash to its name is not trusted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from runtime.negotiation.terms import payload_hash
from runtime.secrets import write_private

INLINE_MAX: Final = 16 * 1024
"""Bytes of a payload kept in the deal store's row; larger ones go to a file beside it."""


class Payloads:
    """Keeps and loads deal inputs and outputs (canonical JSON bytes)."""

    def __init__(self, folder: Path, inline_max: int = INLINE_MAX) -> None:
        self.folder = folder
        self.inline_max = inline_max

    def keep(self, raw: bytes) -> tuple[str, str]:
        """Store `raw`: (the text to keep inline, "" when it went to a file; its hash)."""
        digest = payload_hash(raw)
        if len(raw) <= self.inline_max:
            return raw.decode("utf-8"), digest
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(digest)
        if not path.exists():
            write_private(path, raw.decode("utf-8"))
        return "", digest

    def load(self, inline: str, digest: str) -> Any:
        """The JSON kept as (inline, digest); None when there is none or its file is missing or altered."""
        if inline:
            return json.loads(inline)
        if not digest:
            return None
        try:
            raw = self._path(digest).read_bytes()
        except OSError:
            return None
        return json.loads(raw) if payload_hash(raw) == digest else None

    def _path(self, digest: str) -> Path:
        return self.folder / f"{digest.removeprefix('0x')}.json"
