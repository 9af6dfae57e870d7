"""Reading a config file (agents.yaml, a policy file) so that any file gets one line, never a crash.

Only a regular file is opened (a FIFO would block the read, /dev/zero would never end), at most
MAX_CONFIG_BYTES of it, and it must be UTF-8: a bad byte is named by line and column. Every refusal
is a `ConfigError` with one line: the file, what is wrong, how to fix it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runtime.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20
"""1 MiB: a fleet of a thousand agents fits in a tenth of it; anything bigger is the wrong file."""


def read_config_text(path: Path, *, missing: str) -> str:
    """The text of `path`; ConfigError with one line when it cannot be. `missing` is the line's text
    (after the file name) for a file that does not exist: what the user should do."""
    where = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                [f"{where}: not a regular file ({_kind(info.st_mode)}): give the path of a YAML file"]
            )
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError([_too_large(where, info.st_size)])
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"{where}: {missing}"]) from None
    except PermissionError:
        raise ConfigError(
            [f"{where}: cannot read: permission denied: let this user read it (chmod u+r)"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read: {exc.strerror or exc}"]) from None
    except ValueError:  # os.stat on a path with a NUL byte
        raise ConfigError([f"{where!r}: not a usable file name"]) from None
    if len(data) > MAX_CONFIG_BYTES:  # it grew since the stat
        raise ConfigError([_too_large(where, len(data))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = f"byte 0x{data[exc.start]:02x} at column {column}"
        raise ConfigError([f"{where}:{line}: not UTF-8 ({byte}): save the file as UTF-8"]) from None


def _too_large(where: str, size: int) -> str:
    most = f"at most {MAX_CONFIG_BYTES:,}"
    return f"{where}: {size:,} bytes is too large for a config file ({most}): is it the right file?"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"
