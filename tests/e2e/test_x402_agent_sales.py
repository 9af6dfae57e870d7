"""A running seller agent (`sova agent run seller`) configured with `x402: {facilitator: local}` (the
demo's) sells its service per call over x402 through the fleet's facilitator (here `sova facilitator`,
a process of its own, found through .sova/facilitator/facilitator.json): a buyer pays through its
executor, gets the output, and the seller's ledger has the sale."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from runtime.a2a.x402_ext import X402_EXTENSION
from runtime.config import load_config
from runtime.home import Home
from runtime.payments.buyer import PaidFetch
from tests.support.agents import PASS, SECRET, provision, wait_for
from tests.support.cli import SOVA, sova
from tests.support.executor import CountingSigner, make_rig
from tests.support.paths import REPO_ROOT
from tests.support.tasks import rpc

pytestmark = [pytest.mark.chain, pytest.mark.slow]

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "10"
  - kind: domains
    allow: [127.0.0.1]
"""


def test_a_running_seller_sells_its_service_over_x402(chain_project: Path, tmp_path: Path) -> None:
    provision(chain_project)
    config = load_config(chain_project)
    home = Home.for_config(chain_project, config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")} | PASS
    env["PYTHONPATH"] = str(REPO_ROOT)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        fac = subprocess.Popen(
            [str(SOVA), "facilitator", "-f", str(chain_project)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        procs.append(fac)
        assert fac.stdout is not None
        line = fac.stdout.readline().decode()
        assert " at http://127.0.0.1:" in line, line
        fac_url = line.split(" at ")[1].split()[0]
        assert json.loads((home.root / "facilitator" / "facilitator.json").read_text())["url"] == fac_url
        log = tmp_path / "seller.log"
        with log.open("wb") as out:
            seller = subprocess.Popen(
                [str(SOVA), "agent", "run", "seller", "-f", str(chain_project)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=chain_project.parent,
                env=env,
            )  # fmt: skip
        procs.append(seller)
        sales = home.agent_dir("seller") / "x402.json"
        wait_for("the seller's x402 sales", sales.exists, 90, {"seller": seller})
        base = json.loads(sales.read_text())["url"]
        asyncio.run(buy(chain_project, home, tmp_path, f"{base}/x402/services/wordcount"))
        # The same service per call over A2A (the x402 A2A extension) on the agent's A2A endpoint.
        a2a_url = json.loads(home.ready_file("seller").read_text())["url"]
        asked = asyncio.run(rpc(a2a_url, "SendMessage", x402_purchase("pay per call")))
        task = asked["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED", asked
        metadata = task["status"]["message"]["metadata"]
        assert metadata["x402.payment.status"] == "payment-required"
        assert metadata["x402.payment.required"]["accepts"][0]["amount"] == "9000000"
        shown = sova(
            "log", "show", "seller", "--json", "--limit", "10000", "-f", str(chain_project), env=PASS
        )
        entries = json.loads(shown.out)
        sales_logged = [e for e in entries if e.get("kind") == "x402_sale"]
        assert len(sales_logged) == 1, shown.out[-2000:]
        assert sales_logged[0]["data"]["amount"] == "9000000"
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    assert fac.returncode == 0  # stopped cleanly: its ledger closed, its record gone
    assert not (home.root / "facilitator" / "facilitator.json").exists()


def x402_purchase(text: str) -> dict[str, object]:
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "extensions": [X402_EXTENSION],
                        "parts": [{"data": {"service": "wordcount", "input": {"text": text}}}]}}  # fmt: skip


async def buy(config_path: Path, home: Home, tmp_path: Path, url: str) -> None:
    from policies import TokenInfo
    from wallet import ChainClient, Deployments, Keystore, contracts_for

    signer = await asyncio.to_thread(
        Keystore(home.keys_dir(load_config(config_path), config_path.parent)).unlock, "buyer", SECRET
    )
    deployments = Deployments.load(home.deployments(31337))
    client = await ChainClient.connect(deployments_url(home))
    try:
        contracts = contracts_for(client, deployments)
        token = TokenInfo(symbol="TUSD", address=contracts["TestUSD"].address, decimals=6)
        with make_rig(
            tmp_path,
            POLICY,
            contracts=contracts,
            chain=client,
            tokens=(token,),
            signer=CountingSigner(signer),
        ) as rig:
            fetch = PaidFetch(rig.executor, rig.ledger)
            result = await fetch.fetch(url, method="POST", body=b'{"text": "pay per call"}')
            await fetch.close()
            assert result.status == 200, result.body
            assert result.paid
            assert json.loads(result.body)["words"] == 3
    finally:
        await client.close()


def deployments_url(home: Home) -> str:
    from runtime.chain.ops import running_local_node

    record = running_local_node(home)
    assert record is not None
    return str(record.url)
