"""Passphrases and other secrets: from the environment variable agents.yaml names, or a prompt.

A generated development passphrase is allowed only for the local chain: it is written 0600 under
the state folder and a warning says so, because anyone who can read that file can unlock the keys.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from runtime.errors import SovaError


class MissingSecret(SovaError):
    """No environment variable and no terminal to ask on."""


def write_private(path: Path, text: str) -> None:
    """Write a file only the owner can read, created with 0600 from the start (no window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)


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
