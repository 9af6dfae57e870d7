"""The agent assembly hands its plugins' strategies to its brains: the rules brain's and an LLM
brain's rules fallback both concede along a plugin's curve."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from runtime.agent.tasks import llm_decider
from runtime.brains.rules import Situation
from runtime.config import Agent
from runtime.services import load_extensions
from tests.support.executor import make_rig

FALLBACK = {"kind": "rules", "strategy": "stubborn", "target": "20", "reservation": "10", "rounds": 10,
            "deadline": "1h"}  # fmt: skip


def test_an_llm_brains_rules_fallback_concedes_along_the_plugins_strategy(tmp_path: Path) -> None:
    ext = load_extensions(["tests.fixtures.plugins.tipjar"], tmp_path)
    (tmp_path / "model.yaml").write_text("replies:\n  - text: hello\n")
    brain = {"kind": "llm", "model": "scripted:model.yaml", "fallback": FALLBACK}
    spec = Agent.model_validate({"name": "seller", "policy": "p.yaml", "brain": brain})
    with make_rig(tmp_path, "version: 1\nrules: []\n") as rig:
        decider = llm_decider(spec, tmp_path, rig.executor, rig.ledger, ext.strategies)
    halfway = Situation("seller", "x", "peer", "t", "TUSD", Decimal(1), None, 4, 0.0)
    # t = 0.5: stubborn (t^4) has conceded 1/16 of the way from 20 to 10, linear would be at 15
    assert decider.fallback.move(halfway).price == Decimal("19.375")
