"""The demo agents as real processes on a local chain (`sova chain up`), for the tests in tests/e2e/."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from runtime.config import load_config
from runtime.home import Home
from runtime.negotiation.deals import DealStore
from tests.support.cli import SOVA, sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


SECRET = "agent process passphrase"


PASS = {"SOVA_PASSPHRASE": SECRET}


NAMES = ("issuer", "seller", "buyer")


def project(tmp_path: Path) -> Path:
    """The demo agents.yaml (buying every 2 s) with the preset policies, in a fresh folder."""
    shutil.copytree(ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    text = (ROOT / "agents.yaml").read_text().replace("every: 20s", "every: 2s")
    assert "every: 2s" in text
    (tmp_path / "agents.yaml").write_text(text)
    return tmp_path / "agents.yaml"


@contextmanager
def chain_running(config: Path) -> Iterator[Path]:
    """`sova chain up --detach` for the project `config`; `sova chain down` afterwards, also on failure."""
    up = sova("chain", "up", "--detach", "-f", str(config), env=PASS)
    assert up.code == 0, up.err
    try:
        yield config
    finally:
        sova("chain", "down", "-f", str(config))


def agent_cmd(name: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    env.update(PASS)
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(SOVA), "agent", "run", name, "-f", str(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=config.parent,
        )  # fmt: skip


def provision(config_path: Path) -> None:
    """What `sova up` does before it spawns agents: keys, gas money, TUSD for the buyer."""
    from runtime.chain.ops import chain_url, fund_local
    from runtime.chain.provision import ensure_key, keystore_for
    from runtime.chain.session import chain_session
    from wallet import Keystore

    config = load_config(config_path)
    home = Home.for_config(config_path, config)
    store = keystore_for(config, config_path, home)
    url = chain_url(config, home)
    for i, name in enumerate(NAMES, start=1):
        info = ensure_key(config, store, name, i, SECRET)
        fund_local(url, info.address, Decimal(10))

    async def mint() -> None:
        operator = await asyncio.to_thread(Keystore(store.directory).unlock, config.keys.operator, SECRET)
        async with chain_session(config, home) as session:
            tusd = session.contracts["TestUSD"]
            buyer = store.info("buyer").address
            await session.client.transact(operator, tusd.build("mint", buyer, 100 * 10**6), purpose="mint")

    asyncio.run(mint())


def wait_for(what: str, check: object, timeout: float, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        for name, proc in procs.items():
            assert proc.poll() is None, f"agent {name} exited early with {proc.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def released(home: Home) -> list[str]:
    path = home.agent_dir("buyer") / "deals.sqlite"
    if not path.exists():
        return []
    store = DealStore(path)
    try:
        return [r.price for r in store.all() if r.state == "released"]
    finally:
        store.close()


RULES_BUYER = 'brain: {kind: rules, strategy: linear, target: "8", reservation: "12", rounds: 10}'
"""The demo buyer's brain line in agents.yaml."""


def llm_buyer_project(tmp_path: Path, script: str) -> Path:
    """`project(tmp_path)` whose buyer's brain is the scripted model of `script` (a path relative to
    agents.yaml, e.g. "brains/scripted-buyer.yaml"), the demo's rules brain as its fallback."""
    config = project(tmp_path)
    text = config.read_text()
    assert text.count(RULES_BUYER) == 1
    llm = (
        f'brain: {{kind: llm, model: "scripted:{script}", '
        'fallback: {kind: rules, strategy: linear, target: "8", reservation: "12", rounds: 10}}'
    )
    config.write_text(text.replace(RULES_BUYER, llm))
    return config
