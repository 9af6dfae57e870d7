"""Durations in agents.yaml: strings like "20s", "10m", "1.5h", "1d" (`parse_duration`), as the pydantic
type `Duration`. Used by the config models (runtime/config.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["MAX_DURATION", "Duration", "parse_duration"]

# [0-9], not \d: \d also matches other scripts' digits, which float() would then accept.
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: object) -> timedelta:
    """'20s', '10m', '1.5h', '1d' -> timedelta, longer than zero and at most 3650d. Plain numbers are
    refused: the unit must be said."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]  # inf for 400 digits: refused below
    else:
        raise ValueError(f'duration must be a string like "20s", "10m" or "24h", got {_shown(value)}')
    if seconds <= 0:
        # An interval of zero would run its job back to back; a zero deadline could never be met.
        raise ValueError(f'duration {_shown(value)} is zero: write a positive duration like "20s"')
    if seconds > MAX_DURATION.total_seconds():  # also before timedelta(), which overflows past ~1e9 days
        raise ValueError(f"duration {_shown(value)} is too long: write at most 3650d")
    return timedelta(seconds=seconds)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A positive duration of at most 3650d, written with its unit."""
