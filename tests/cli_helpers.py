"""Run the real `sova` console script as a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SOVA = Path(sys.executable).with_name("sova")


@dataclass
class Result:
    code: int
    out: str
    err: str


def sova(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [str(SOVA), *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_error_line(result: Result) -> str:
    """The error answer: exactly one line on stderr, no traceback."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert "Traceback" not in result.err, result.err
    assert len(lines) == 1, result.err
    return lines[0]
