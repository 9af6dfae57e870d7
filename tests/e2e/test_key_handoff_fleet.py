"""`sova up` hands each agent its unlocked keys through a pipe (runtime/key_handoff.py): the agents
start without the passphrase in their environment, and no key shows in any agent's environment,
command line, log or file. Real `sova up --detach`, real processes and chain."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from identity import IdentityKeyStore
from runtime.config import load_config
from runtime.home import Home
from tests.support.cli import sova
from tests.support.fleet import PASS, status
from wallet import Keystore

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def secret_forms(keys_dir: Path, name: str) -> list[bytes]:
    """Each way the agent's two private keys could be written down: raw, hex, base64url."""
    wallet = bytes.fromhex(Keystore(keys_dir).export_private_key(name, PASS["SOVA_PASSPHRASE"])[2:])
    identity = IdentityKeyStore(keys_dir).export_private_key(name, PASS["SOVA_PASSPHRASE"])
    forms: list[bytes] = []
    for raw in (wallet, identity):
        forms += [raw, raw.hex().encode(), raw.hex().upper().encode()]
        forms.append(base64.urlsafe_b64encode(raw).rstrip(b"=").decode().encode())
    return forms


def test_agents_get_their_keys_through_a_pipe_and_nowhere_else(fleet: Path) -> None:
    started = sova("up", "--detach", "-f", str(fleet), env=PASS, timeout=240)
    assert started.code == 0, started.err + started.out
    agents = status(fleet)["agents"]
    assert len(agents) == 3
    assert all(a["ready"] for a in agents), agents
    config = load_config(fleet)
    home = Home.for_config(fleet, config)
    keys_dir = home.keys_dir(config, fleet.parent)
    passphrase = PASS["SOVA_PASSPHRASE"].encode()
    files = [p for p in fleet.parent.rglob("*") if p.is_file() and p.parent != keys_dir]
    for agent in agents:
        pid = agent["pid"]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert any(v.startswith(b"SOVA_KEY_FD=") for v in environ)  # the keys were handed over
        assert not any(v.startswith(b"SOVA_PASSPHRASE=") for v in environ)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        places = {"environment": b"\0".join(environ), "command line": cmdline}
        places |= {str(p): p.read_bytes() for p in files}
        forms = [*secret_forms(keys_dir, config.agent(agent["name"]).key_name), passphrase]
        for where, data in places.items():
            assert not any(form in data for form in forms), f"{agent['name']}'s key or passphrase in {where}"
        log = (home.agent_dir(agent["name"]) / "agent.log").read_text()
        assert f"agent {agent['name']} ready" in log
