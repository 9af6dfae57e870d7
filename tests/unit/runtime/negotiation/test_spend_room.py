"""A buyer whose policy could not let it pay a seller today does not negotiate with it (runtime/agent/
spend_room.py): the room left under its spend limits, against the lowest price it offers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from runtime.agent.spend_room import cannot_pay
from runtime.config import RuleBrain
from tests.support.executor import TUSD, make_rig
from tests.support.paths import REPO_ROOT

SELLER = "0x" + "5e" * 20
OTHER = "0x" + "07" * 20


def test_a_spent_per_seller_budget_stops_the_negotiation_before_it_starts(tmp_path: Path) -> None:
    policy = (REPO_ROOT / "policies" / "presets" / "buyer.yaml").read_text()  # 100 TUSD a seller a day
    with make_rig(tmp_path, policy) as rig:
        buyer = SimpleNamespace(
            executor=rig.executor, token="TUSD", brain=RuleBrain(target="8", reservation="12")
        )
        assert cannot_pay(buyer, SELLER) is None  # type: ignore[arg-type]
        limits = rig.executor.policy.spend_limits("TUSD")
        assert limits is not None
        agent = rig.executor.context.agent_did
        for _ in range(2):  # 2 x 46 TUSD paid: 8 TUSD left, the buyer's own opening offer
            held = rig.budget.reserve(agent, TUSD, SELLER, 46 * 10**6, limits)
            rig.budget.commit(held)  # type: ignore[arg-type]
        problem = cannot_pay(buyer, SELLER)  # type: ignore[arg-type]
        assert problem is not None
        assert "per_counterparty_day budget leaves 8 TUSD" in problem
        assert cannot_pay(buyer, OTHER) is None  # type: ignore[arg-type]
        # An LLM brain (no target): it stops only once nothing is left at all.
        llm = SimpleNamespace(executor=rig.executor, token="TUSD", brain=object())
        assert cannot_pay(llm, SELLER) is None  # type: ignore[arg-type]
        rig.budget.commit(rig.budget.reserve(agent, TUSD, SELLER, 8 * 10**6, limits))  # type: ignore[arg-type]
        assert "leaves 0 TUSD" in str(cannot_pay(llm, SELLER))  # type: ignore[arg-type]
