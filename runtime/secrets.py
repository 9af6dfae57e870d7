"""Passphrases and other secrets: from the environment variable agents.yaml names, or a prompt.

A generated development passphrase is allowed only for the local chain: it is written 0600 under
the state folder and a warning says so, because anyone who can read that file can unlock the keys.

Every private file the runtime writes (that passphrase, ready files, the supervisor and chain
records, the operator token) goes through `write_private` or `create_private`: 0600 from the first
byte, never half-written.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from runtime.errors import SovaError


class MissingSecret(SovaError):
    """No environment variable and no terminal to ask on."""


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by the owner only (0600 from the start: no window), replacing
    the old file atomically: a reader sees the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_private_tmp(path, text, fsync=False), path)


def create_private(path: Path, text: str) -> bool:
    """Create `path` (0600, its content fsynced) unless it exists; False when it did. A link, not a
    replace: of two processes creating it at once the first wins and both then read the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _private_tmp(path, text, fsync=True)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _private_tmp(path: Path, text: str, *, fsync: bool) -> Path:
    """`text` in a new 0600 file beside `path`, named for this process and thread (no two writers
    share one); a leftover of a crashed writer with that name is replaced."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def secret_from_env_or_prompt(env_name: str, prompt: str, *, confirm: bool = False) -> str:
    """The value of $env_name, or a hidden prompt on a terminal; MissingSecret otherwise."""
    value = os.environ.get(env_name)
    if value:
        return value
    if not sys.stdin.isatty():
        raise MissingSecret(f"no {prompt.lower()}: set ${env_name} (or run in a terminal to be asked)")
    value = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} again: ") != value:
        raise MissingSecret(f"the two {prompt.lower()}s differ: run the command again")
    if not value:
        raise MissingSecret(f"empty {prompt.lower()}: choose a non-empty one")
    return value


def passphrase(
    env_name: str,
    *,
    confirm: bool = False,
    dev_file: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """The keystore passphrase. With `dev_file` (local chain only) one is generated when none is set."""
    if os.environ.get(env_name) or dev_file is None:
        return secret_from_env_or_prompt(env_name, "Passphrase", confirm=confirm)
    if dev_file.exists():
        return dev_file.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(24)
    write_private(dev_file, value + "\n")
    if warn:
        warn(
            f"${env_name} is not set: generated a development passphrase in {dev_file} (0600). "
            f"Fine for the local chain; set ${env_name} for anything else."
        )
    return value
