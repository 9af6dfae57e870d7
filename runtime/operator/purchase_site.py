"""The Purchaser of a running agent (runtime/operator/purchase.py), built from its parts at start.
`site` is the agent as runtime/operator/start.py's OperatorSite sees it.

Each purchase gets its own Buyer with the agent's brain, trusted issuers, deal store, messenger, peer
book, registry and ledger, and the purchase's cap: the same Buyer path as a `buy` goal's, so the same
executor, policy, budgets and ledger decide every signature, and the same `accept` checks of the
agent's buy goals judge every output.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runtime.operator.purchase import Purchaser

if TYPE_CHECKING:
    from runtime.chain.session import ChainSession
    from runtime.executor.executor import Executor
    from runtime.negotiation.buyer import Buyer

__all__ = ["fleet_dids", "make_purchaser"]


def fleet_dids(site: Any) -> dict[str, str]:
    """{agent name: DID} of the agents of agents.yaml that have an identity key."""
    from identity import IdentityKeyStore

    keys = IdentityKeyStore(site.keys_dir)
    return {a.name: keys.did(a.key_name) for a in site.config.agents if keys.exists(a.key_name)}


def make_purchaser(site: Any, parts: Any, session: ChainSession, executor: Executor) -> Purchaser:
    """The agent's Purchaser. A buy goal's Buyer lends its brain and trusted issuers; without one, the
    agent's brain from agents.yaml (an LLM one as its decider) and its `trusted_issuers`. An agent whose
    A2A server has no handler yet gets one of these Buyers, so later deliveries reach it."""
    from runtime.config import RuleBrain
    from runtime.negotiation.buyer import Buyer

    names = fleet_dids(site)
    jobs = getattr(parts, "buyers", [])
    template: Buyer | None = jobs[0][1].buyer if jobs else None
    if template is not None:
        brain: Any = template.decider
        trusted: tuple[str, ...] = template.trusted_issuers
    else:
        brain = site.spec.brain  # an LLM brain's decider is made on the first purchase (its model too)
        trusted = tuple(
            ref if ref.startswith("did:") else names[ref] for ref in site.spec.trusted_issuers
            if ref.startswith("did:") or ref in names
        )  # fmt: skip

    def make_buyer(cap: Decimal | None, token: str) -> Buyer:
        nonlocal brain
        if not isinstance(brain, RuleBrain) and brain is site.spec.brain:
            brain = _llm_decider(site, executor, parts.sink)
        return Buyer(
            executor=executor, messenger=parts.messenger, deals=parts.deals, brain=brain, peers=parts.peers,
            cap=cap, trusted_issuers=trusted, registry=session.registry, ledger=parts.sink, token=token,
            accept=getattr(parts, "accepts", None),
        )  # fmt: skip

    if parts.negotiator.handler is None:
        parts.negotiator.handler = make_buyer(None, "TUSD")
    return Purchaser(
        make_buyer=make_buyer, policy=executor.policy, registry=session.registry, messenger=parts.messenger,
        deals=parts.deals, own_wallet=executor.context.agent_address, names=names,
    )  # fmt: skip


def _llm_decider(site: Any, executor: Executor, ledger: Any) -> Any:
    from runtime.brains.llm import LlmDecider
    from runtime.brains.models import chat_model
    from runtime.config import LlmBrain

    brain = site.spec.brain
    assert isinstance(brain, LlmBrain)
    return LlmDecider(chat_model(brain, root=site.config_path.parent), executor, config=brain, ledger=ledger)
