"""What a newcomer meets with the demo fleet, run as they would: `sova up --detach` from the project
folder (which has a `policies/` folder beside agents.yaml), the buyer's first round, a CLI command that
signs with a running agent's wallet (`sova vc revoke`: the agent does it), and an agent restarted by hand with
`sova agent run` (it keeps the port `sova up` registered)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import SOVA, sova
from tests.support.failures import PASS, agents, down, home_of, ledger, project, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ANCHOR_FAST = "      - {kind: issue, type: VerifiedSupplier, to: [seller], valid_for: 30d}\n"


def fast_anchors(text: str) -> str:
    """The demo fleet, the issuer anchoring its ledger every 2 s (so a stolen nonce shows at once)."""
    assert ANCHOR_FAST in text
    return text.replace(ANCHOR_FAST, ANCHOR_FAST + "    anchor_every: 2s\n")


@pytest.fixture(scope="module")
def fleet_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = project(tmp_path_factory.mktemp("newcomer"), fast_anchors)
    assert (config.parent / "policies").is_dir()
    started = sova("up", "--detach", "-f", "agents.yaml", env=PASS, cwd=config.parent, timeout=240)
    assert started.code == 0, started.err + started.out
    try:
        yield config
    finally:
        down(config)


def buyer_lines(config: Path) -> list[str]:
    log = home_of(config).agent_dir("buyer") / "agent.log"
    return log.read_text(errors="replace").splitlines() if log.exists() else []


def test_the_buyers_first_round_finds_the_seller(fleet_up: Path) -> None:
    wait_for(
        lambda: any(" deal " in f" {line} " for line in buyer_lines(fleet_up)), 60, "the first deal line"
    )
    assert not [line for line in buyer_lines(fleet_up) if "no seller registered" in line]


def anchors(config: Path, name: str) -> int:
    return sum(1 for e in ledger(home_of(config), name) if e.kind == "anchor")


def test_vc_revoke_goes_through_the_running_agent(fleet_up: Path, tmp_path: Path) -> None:
    # Sending from the issuer's wallet outside its process took the nonce of its next anchor, which
    # then failed (with a traceback in its log): while it runs, the CLI asks the agent itself (its
    # operator API), which revokes through its executor, policy and ledger, with its own nonces.
    issued = tmp_path / "vc.json"
    claims = '{"service": "x"}'
    made = sova("vc", "issue", "--issuer", "issuer", "--subject", "buyer", "--type", "VerifiedSupplier",
                "--claims", claims, "--out", str(issued), "-f", str(fleet_up), env=PASS)  # fmt: skip
    assert made.code == 0, made.err
    credential_id = json.loads(issued.read_text())["id"]
    log = home_of(fleet_up).agent_dir("issuer") / "agent.log"
    offset = log.stat().st_size
    before = anchors(fleet_up, "issuer")
    revoked = sova("vc", "revoke", "issuer", credential_id, "-f", str(fleet_up), env=PASS)
    assert revoked.code == 0, revoked.err
    assert f"revoked {credential_id}" in revoked.out
    assert "tx 0x" in revoked.out
    done = [
        e.data for e in ledger(home_of(fleet_up), "issuer")
        if e.kind == "effect" and e.data.get("skill") == "revoke_credential"
    ]  # fmt: skip
    assert done, "the revocation is in the issuer's ledger"
    verified = sova("vc", "verify", str(issued), "-f", str(fleet_up), env=PASS)
    assert verified.code == 1
    assert "revoked" in verified.err + verified.out
    wait_for(lambda: anchors(fleet_up, "issuer") >= before + 1, 60, "the issuer's next anchor")
    text = log.read_bytes()[offset:].decode("utf-8", "replace")
    assert "Traceback" not in text, text[-3000:]


def test_an_agent_run_by_hand_keeps_the_port_sova_up_registered(fleet_up: Path, tmp_path: Path) -> None:
    seller = agents(fleet_up)["seller"]
    home = home_of(fleet_up)
    port = int((home.agent_dir("seller") / "port").read_text())
    assert seller["port"] == port
    # Stop the supervisor's seller for good (the fleet goes down; it is the module's last test), then
    # run it by hand, as a user debugging it would.
    down(fleet_up)
    log = tmp_path / "seller.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    env.update(PASS)
    chain = sova("chain", "up", "--detach", "-f", str(fleet_up), env=PASS)
    assert chain.code == 0, chain.err
    with log.open("wb") as out:
        proc = subprocess.Popen([str(SOVA), "agent", "run", "seller", "-f", str(fleet_up)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        ready = wait_for(lambda: agents(fleet_up)["seller"]["ready"] and agents(fleet_up)["seller"], 60,
                         "the seller run by hand")  # fmt: skip
        assert ready["port"] == port, log.read_text()
        assert "peers that look it up in the registry will not reach it" not in log.read_text()
        # Stopped, the issuer's wallet is free: the CLI revokes (on the chain the agents use).
        revoked = sova("vc", "revoke", "issuer", "urn:uuid:by-hand", "-f", str(fleet_up), env=PASS)
        assert revoked.code == 0, revoked.err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        sova("chain", "down", "-f", str(fleet_up))
