"""Run the real `sova` console script as a subprocess, as a user would, and watch agent processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


Procs = dict[str, subprocess.Popen[bytes]]


@contextmanager
def agents_cleaned_up(procs: Procs, logs: dict[str, Path]) -> Iterator[None]:
    """Around a test that starts agent processes into `procs`, each logging to `logs[name]` (both may
    grow inside): when the test fails, print every log to stderr so pytest shows why; at the end, kill
    whichever process still runs, so no agent outlives its test."""
    try:
        yield
    except BaseException:
        for name, log in logs.items():
            if log.exists():
                sys.stderr.write(f"--- {name} ---\n{log.read_text()}\n")
        raise
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def stop_cleanly(procs: Procs, logs: dict[str, Path], names: Iterable[str]) -> None:
    """SIGTERM the agents `names`, then check that each exits 0 within 30 s with no traceback logged."""
    names = list(names)
    for name in names:
        procs[name].send_signal(signal.SIGTERM)
    for name in names:
        assert procs[name].wait(timeout=30) == 0, logs[name].read_text()
        assert "Traceback" not in logs[name].read_text()
