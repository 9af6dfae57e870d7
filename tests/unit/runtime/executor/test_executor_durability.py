"""Which ledger entries the executor and the protocol fsync before going on (runtime/ledger/sync.py):
a decision that lets a skill run and replies about to leave are on disk first; denials, effects and
the record of a message already sent wait for the next barrier or the flush."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runtime.a2a.handler import echo_handler
from runtime.ledger.ledger import Ledger
from skills import Planned, SkillContext, default_catalog
from skills.escrow import DealTerms, SignDeal
from skills.signing import NarrowSigner
from tests.support.a2a import make_agent
from tests.support.executor import STRANGER_ADDRESS, Rig, deal, make_rig

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal, probe_sign]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
  - kind: counterparties
    allow: [seller]
"""


class ProbeSign(SignDeal):
    """sign_deal that notes, as it starts, how far its ledger is synced and what was logged last."""

    name = "probe_sign"
    ledger: ClassVar[Ledger]
    seen: ClassVar[list[tuple[int, int, str]]] = []

    async def run(
        self, ctx: SkillContext, planned: Planned[DealTerms], signer: NarrowSigner
    ) -> dict[str, Any]:
        last = self.ledger.last()
        self.seen.append((self.ledger.synced_seq, last.seq, last.kind))
        return await super().run(ctx, planned, signer)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    catalog = default_catalog()
    catalog.skill(ProbeSign)
    with make_rig(tmp_path, POLICY, catalog=catalog, skills=["sign_deal", "probe_sign"]) as r:
        ProbeSign.ledger, ProbeSign.seen = r.ledger, []
        yield r


async def test_a_decision_is_on_disk_before_its_skill_runs(rig: Rig) -> None:
    await rig.ledger.append_async("deal", {"event": "agreed"}, barrier=False)  # unsynced until the decision
    outcome = await rig.executor.execute("probe_sign", deal(rig), "rules-brain")
    assert outcome.status == "done", outcome.reasons
    ((synced, last, kind),) = ProbeSign.seen
    assert kind == "decision"
    assert synced == last == outcome.ledger_seqs[0]


async def test_an_effect_entry_waits_for_the_next_barrier(rig: Rig) -> None:
    first = await rig.executor.execute("sign_deal", deal(rig), "rules-brain")
    decision, effect = first.ledger_seqs
    assert rig.ledger.synced_seq == decision < effect  # the flush is a second away
    second = await rig.executor.execute("sign_deal", deal(rig, nonce=2), "rules-brain")
    assert rig.ledger.synced_seq >= second.ledger_seqs[0] > effect


async def test_a_denial_is_logged_without_an_fsync_of_its_own(rig: Rig) -> None:
    outcome = await rig.executor.execute("sign_deal", deal(rig, seller=STRANGER_ADDRESS), "llm")
    assert outcome.status == "denied"
    (seq,) = outcome.ledger_seqs
    assert rig.ledger.synced_seq < seq
    assert rig.entries("decision")[0]["verdict"] == "deny"


async def test_replies_are_on_disk_before_they_are_returned_and_a_sent_message_waits(tmp_path: Path) -> None:
    seller = make_agent(tmp_path, "seller", echo_handler(), real_ledger=True)
    buyer = make_agent(tmp_path, "buyer", real_ledger=True)
    try:
        seller_ledger, buyer_ledger = seller.real_ledger, buyer.real_ledger
        assert seller_ledger is not None
        assert buyer_ledger is not None
        out = buyer.negotiator.prepare(seller.did, "cfp", "t1", {"item": "x"})
        replies = await seller.negotiator.receive(out.jws)
        assert replies
        assert seller_ledger.last().kind == "message_out"
        assert seller_ledger.synced_seq == seller_ledger.last().seq
        await buyer.negotiator.complete(out, replies)
        assert [e.kind for e in buyer_ledger.entries(2)] == ["message_out", "message_in"]
        assert buyer_ledger.synced_seq < buyer_ledger.last().seq  # it left before; nothing leaves on it
    finally:
        seller.close()
        buyer.close()
