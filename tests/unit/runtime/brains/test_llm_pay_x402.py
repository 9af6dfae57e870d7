"""A hostile model with the `pay_x402` tool: every call goes through the executor and the policy; a
payment to a stranger or over the cap is refused unsigned, and an allowed one's signature never
reaches the model (it cannot forward the authorization anywhere)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from runtime.brains.tools import WITHHELD, executor_agent
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, TUSD_ADDRESS, Rig, make_rig
from tests.support.llm import scripted

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
  - kind: counterparties
    allow: [seller]
  - kind: domains
    allow: [api.example.com]
"""


def call(pay_to: str, amount: str, url: str = "https://api.example.com/data") -> tuple[str, dict[str, Any]]:
    accepted = {
        "scheme": "exact", "network": "eip155:31337", "asset": TUSD_ADDRESS, "amount": amount,
        "payTo": pay_to, "maxTimeoutSeconds": 60, "extra": {"name": "Test USD", "version": "1"},
    }  # fmt: skip
    return ("pay_x402", {"resource": url, "accepted": accepted})


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path, POLICY) as r:
        yield r


async def test_a_hostile_model_cannot_pay_a_stranger_or_see_the_authorization(rig: Rig) -> None:
    model = scripted(
        [call(STRANGER_ADDRESS, "500000")],
        [call(SELLER_ADDRESS, "5000000")],
        [call(SELLER_ADDRESS, "500000", "https://evil.example.net/data")],
        [call(SELLER_ADDRESS, "500000")],
    )
    agent = executor_agent(model, rig.executor)
    state = await agent.ainvoke({"messages": [HumanMessage("get the data")]}, config={"recursion_limit": 50})
    answers = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in answers] == ["error", "error", "error", "success"]
    assert "not on the allow list" in str(answers[0].content)
    assert "5 TUSD" in str(answers[1].content) or "per action" in str(answers[1].content)
    assert "host evil.example.net" in str(answers[2].content)
    assert WITHHELD in str(answers[3].content)
    assert not re.search(r"0x[0-9a-fA-F]{130}", str(answers[3].content))  # no 65-byte signature
    assert rig.signer.signatures == 1
    assert len([e for e in rig.entries("decision") if e.get("stage") == "policy"]) == 4
