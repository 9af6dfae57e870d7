"""Interop: the official A2A JavaScript SDK (@a2a-js/sdk, in tools/interop) talks to a Sova agent.

It fetches the card and verifies its signature with the SDK's own verifier, sends a plain text message
and gets the polite answer, and carries a signed envelope to the agent and gets its signed reply, which
verifies here. A tampered card fails the JS verifier. Skipped only when node itself is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from a2a.server.request_handlers.response_helpers import agent_card_to_dict

from identity import IdentityKey, ReplayStore, sign_envelope, verify_envelope
from runtime.a2a.card import IDENTITY_EXTENSION, NEGOTIATION_EXTENSION
from runtime.a2a.handler import Reply, ScriptedHandler
from tests.support.a2a import make_agent, serving
from tests.support.paths import REPO_ROOT

INTEROP = REPO_ROOT / "tools" / "interop"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture(scope="module", autouse=True)
def npm_packages() -> None:
    if not (INTEROP / "node_modules" / "@a2a-js" / "sdk").is_dir():
        pytest.fail(f"npm packages missing: run `npm ci` in {INTEROP} (make setup does)")


async def node(*args: str) -> tuple[int, dict[str, Any]]:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        "a2a-client.mjs",
        *args,
        cwd=INTEROP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert out, f"a2a-client.mjs printed nothing: {err.decode()[-500:]}"
    return proc.returncode or 0, json.loads(out)


async def test_the_js_sdk_verifies_the_card_and_negotiates(tmp_path: Path) -> None:
    seller = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": Reply("propose", {"price": "10"})}))
    buyer = IdentityKey.generate()
    jws = sign_envelope(buyer, type="cfp", thid="js-1", to=seller.did, body={"item": "x"})
    try:
        async with serving(seller) as server:
            code, out = await node(server.url, jws)
        assert code == 0, out
        assert out["card"] == {
            "name": "seller", "verified": True, "did": seller.did, "protocol": "1.0",
            "extensions": [IDENTITY_EXTENSION, NEGOTIATION_EXTENSION],
        }  # fmt: skip
        assert out["text"]["kind"] == "message"
        assert NEGOTIATION_EXTENSION in out["text"]["texts"][0]
        assert out["envelope"]["status"] == "accepted"
        with ReplayStore(tmp_path / "buyer-replay.sqlite") as replay:
            reply = verify_envelope(out["envelope"]["replies"][0], recipient=buyer.did, replay=replay)
        assert (reply.type, reply.thid, reply.sender, reply.body) == (
            "propose",
            "js-1",
            seller.did,
            {"price": "10"},
        )
        assert seller.ledger.kinds() == ["message_in", "message_out"]
    finally:
        seller.close()


async def test_the_js_sdk_refuses_a_tampered_card(tmp_path: Path) -> None:
    seller = make_agent(tmp_path, "seller")
    try:
        async with serving(seller) as server:
            card = agent_card_to_dict(server.card)
        good, bad = tmp_path / "good.json", tmp_path / "bad.json"
        good.write_text(json.dumps(card))
        card["capabilities"]["extensions"][0]["params"]["wallet"] = "0x" + "ee" * 20
        bad.write_text(json.dumps(card))
        assert await node("--verify-card", str(good)) == (0, {"verified": True})
        code, out = await node("--verify-card", str(bad))
        assert code == 1
        assert out["verified"] is False
    finally:
        seller.close()
