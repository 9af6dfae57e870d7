"""Our V3 keystores open in Foundry's cast, and cast's open in ours, with the same address."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.chain.anvil import cast_binary
from wallet.errors import InsecureKeystore
from wallet.keystore import Keystore

pytestmark = pytest.mark.chain
PASS = "interop passphrase"


def cast(*args: str) -> str:
    proc = subprocess.run(
        [str(cast_binary()), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("scrypt_n", [2**10, 8192])  # a small test cost, and cast's own default
def test_keystore_we_write_opens_in_cast(tmp_path: Path, scrypt_n: int) -> None:
    store = Keystore(tmp_path / "keys", scrypt_n=scrypt_n)
    info = store.create("agent", PASS)
    assert cast("wallet", "address", "--keystore", str(info.path), "--password", PASS) == info.address


def test_keystore_cast_writes_unlocks_here(tmp_path: Path) -> None:
    (tmp_path / "cast").mkdir()
    out = cast("wallet", "new", str(tmp_path / "cast"), "from-cast", "--unsafe-password", PASS)
    address = re.search(r"Address:\s+(0x[0-9a-fA-F]{40})", out)
    assert address is not None, out
    written = tmp_path / "cast" / "from-cast"
    assert written.exists(), os.listdir(tmp_path / "cast")

    store = Keystore(tmp_path / "keys")
    store.directory.mkdir(mode=0o700)
    target = store.path("from-cast")
    shutil.copyfile(written, target)
    # cast leaves the file as the umask says (often 0644): refused until it is private.
    os.chmod(target, 0o644)
    with pytest.raises(InsecureKeystore, match=f"chmod 600 {target}"):
        store.unlock("from-cast", PASS)
    os.chmod(target, 0o600)
    assert store.unlock("from-cast", PASS).address == address.group(1)

    # cast's files have no address field; importing one adds it, so `info`/`list` work unlocked.
    info = store.import_json("imported", json.loads(written.read_text()), PASS)
    assert info.address == address.group(1)
    assert store.info("imported").address == address.group(1)
