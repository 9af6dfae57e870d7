"""Ledger anchoring signs only through the executor's anchor_log skill (DESIGN §3)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import pytest

from runtime.ledger.anchor import ExecutorAnchorSender, anchor_job, anchor_new_entries
from runtime.ledger.ledger import LedgerError
from runtime.ledger.onchain import verify_on_chain
from tests.support.executor import Market, make_rig
from wallet.contracts import ActionLogAnchor

pytestmark = pytest.mark.chain

ALLOW_ANCHOR = """
version: 1
rules:
  - kind: allow_skills
    skills: [anchor_log]
  - kind: contracts
    allow: {ActionLogAnchor: [anchor]}
"""
NO_ANCHOR = """
version: 1
rules:
  - kind: allow_skills
    skills: [send_message]
"""


def anchor_of(market: Market) -> ActionLogAnchor:
    return cast(ActionLogAnchor, market.contracts["ActionLogAnchor"])


async def test_anchoring_goes_through_policy_and_is_logged(market: Market, tmp_path: Path) -> None:
    with make_rig(tmp_path, ALLOW_ANCHOR, contracts=market.contracts, chain=market.client) as rig:
        await market.fund(rig.signer.address)
        rig.ledger.append("note", {"text": "something worth anchoring"})
        sender = ExecutorAnchorSender(rig.executor, rig.signer.address)
        result = await anchor_new_entries(rig.ledger, market.client, anchor_of(market), sender)
        assert result is not None
        assert rig.signer.transactions == 1
        skills = [d.get("skill") for d in rig.entries("decision")]
        assert "anchor_log" in skills
        assert [e["status"] for e in rig.entries("effect")] == ["done"]
        assert rig.entries("anchor")[0]["to_seq"] == result.to_seq
        report = await verify_on_chain(rig.ledger.path, market.client, anchor_of(market).address)
        assert report.ok, report.message()


async def test_paused_agent_does_not_anchor(market: Market, tmp_path: Path) -> None:
    with make_rig(tmp_path, ALLOW_ANCHOR, contracts=market.contracts, chain=market.client) as rig:
        await market.fund(rig.signer.address)
        rig.ledger.append("note", {"text": "x"})
        rig.executor.pause("operator said stop")
        sender = ExecutorAnchorSender(rig.executor, rig.signer.address)
        with pytest.raises(LedgerError, match="not done"):
            await anchor_new_entries(rig.ledger, market.client, anchor_of(market), sender)
        assert rig.signer.transactions == 0


async def test_policy_without_anchor_log_refuses_anchoring(market: Market, tmp_path: Path) -> None:
    with make_rig(tmp_path, NO_ANCHOR, contracts=market.contracts, chain=market.client) as rig:
        await market.fund(rig.signer.address)
        rig.ledger.append("note", {"text": "x"})
        sender = ExecutorAnchorSender(rig.executor, rig.signer.address)
        with pytest.raises(LedgerError, match="anchor_log"):
            await anchor_new_entries(rig.ledger, market.client, anchor_of(market), sender)
        assert rig.signer.transactions == 0
        assert any(d.get("skill") == "anchor_log" for d in rig.entries("decision"))


async def test_a_failed_scheduled_round_is_one_log_line_not_a_traceback(
    market: Market, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with make_rig(tmp_path, ALLOW_ANCHOR, contracts=market.contracts, chain=market.client) as rig:
        await market.fund(rig.signer.address)
        rig.ledger.append("note", {"text": "x"})
        rig.executor.pause("operator said stop")
        sender = ExecutorAnchorSender(rig.executor, rig.signer.address)
        with caplog.at_level(logging.INFO, logger="runtime.ledger.anchor"):
            assert await anchor_job(rig.ledger, market.client, anchor_of(market), sender, None) is None
        (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert line.exc_info is None
        assert "anchoring failed this round (LedgerError: anchoring" in line.getMessage()
        assert "retrying next round" in line.getMessage()
        rig.executor.resume()
        assert await anchor_job(rig.ledger, market.client, anchor_of(market), sender, None) is not None
