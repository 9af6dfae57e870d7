"""An agent's working parts, assembled one way: the agent process (`Agent`), the test rigs and the
benches all build the ledger, the stores, the A2A negotiator and messenger, and the executor with
its skill context through `assemble`, so none of them drifts from what a real agent runs.

Heavy modules are imported inside `assemble`, not here: an agent's cold start imports only what it
uses (tests/e2e/test_agent_cold_start.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from identity import CredentialStore, IdentityKey
    from policies import Counterparty, Policy, TokenRegistry
    from runtime.a2a.client import A2AMessenger
    from runtime.a2a.protocol import Negotiator
    from runtime.agent.goals import BuyJob
    from runtime.chain.trust import ChainTrust
    from runtime.executor.executor import Executor
    from runtime.ledger.ledger import Ledger
    from runtime.ledger.sink import LedgerSink
    from runtime.negotiation.deals import DealStore
    from runtime.negotiation.peers import PeerBook
    from skills import Catalog
    from wallet import Signer
    from wallet.chain import ChainClient

__all__ = ["AgentParts", "assemble", "fleet_parties"]


@dataclass
class AgentParts:
    """What an agent's handlers and jobs share. `sink` is the ledger as a LedgerSink;
    `buyers` the buy goals' jobs and their periods, and `accepts` their `accept` checks by service
    (given to every Buyer of the agent), filled in by the agent."""

    executor: Executor
    ledger: Ledger
    sink: LedgerSink
    deals: DealStore
    negotiator: Negotiator
    messenger: A2AMessenger
    peers: PeerBook
    credentials: CredentialStore
    buyers: list[tuple[timedelta, BuyJob]] = field(default_factory=list)
    accepts: dict[str, Callable[..., Any]] = field(default_factory=dict)


async def assemble(
    stack: AsyncExitStack,
    *,
    name: str,
    key: IdentityKey,
    signer: Signer,
    folder: Path,
    chain: ChainClient,
    contracts: Mapping[str, Any],
    tokens: TokenRegistry,
    policy: Policy,
    skills: Iterable[str] | None = None,
    catalog: Catalog | None = None,
    ledger_path: Path | None = None,
    credentials_path: Path | None = None,
    tx_timeout: float | None = None,
    fleet: Iterable[Counterparty] = (),  # the agents its skills may name: fleet_parties
) -> AgentParts:
    """Agent `name`'s parts, stores in `folder` (ledger, credentials: at their own paths when given),
    each closed by `stack`; `skills`: those of `catalog` (None: built-ins) it may use (None: all)."""
    from identity import CredentialStore, ReplayStore
    from policies import Budget
    from runtime.a2a.client import A2AMessenger
    from runtime.a2a.protocol import Negotiator
    from runtime.a2a.threads import ThreadStore
    from runtime.executor.executor import Executor
    from runtime.executor.narrow_signer import binding_prover
    from runtime.ledger.ledger import Ledger
    from runtime.negotiation.deals import DealStore
    from runtime.negotiation.peers import PeerBook
    from skills import SkillContext, default_catalog

    ledger = Ledger.open(ledger_path or folder / "ledger.sqlite", key, signer.address)
    stack.push_async_callback(asyncio.to_thread, ledger.close)
    budget = Budget(folder / "budget.sqlite")
    stack.callback(budget.close)
    deals = DealStore(folder / "deals.sqlite")
    stack.callback(deals.close)
    replay = ReplayStore(folder / "replay.sqlite")
    stack.callback(replay.close)
    threads = ThreadStore(folder / "threads.sqlite")
    stack.callback(threads.close)
    credentials = CredentialStore(credentials_path or folder / "credentials.sqlite")
    stack.callback(credentials.close)
    negotiator = Negotiator(key, replay=replay, threads=threads, ledger=ledger, **_heads(stack, ledger))
    messenger = A2AMessenger(negotiator)
    stack.push_async_callback(messenger.close)
    peers = PeerBook(fleet)
    context = SkillContext(
        agent_did=key.did, agent_address=signer.address, chain_id=chain.chain_id, tokens=tokens,
        agent_name=name, contracts=contracts, chain=chain, messenger=messenger, peers=peers,
        credentials=credentials, binding_proof=binding_prover(key, chain.chain_id, signer.address),
        anchor_range=_anchor_range(ledger, chain.chain_id, contracts),
        tx_timeout=SkillContext.tx_timeout if tx_timeout is None else tx_timeout,
    )  # fmt: skip
    executor = Executor(
        catalog=(default_catalog() if catalog is None else catalog).only(skills), context=context,
        policy=policy, budget=budget, ledger=ledger, signer=signer, identity_key=key, trust=_trust(contracts),
    )  # fmt: skip
    return AgentParts(executor, ledger, ledger, deals, negotiator, messenger, peers, credentials)


def _heads(stack: AsyncExitStack, ledger: Ledger) -> dict[str, Any]:
    """The Negotiator's ledger heads (runtime/ledger/peer_heads.py): this agent's, sent in its deal
    messages, and the ones its peers send, kept beside its ledger as a witness of theirs."""
    from runtime.ledger.peer_heads import PEER_HEADS_FILE, HeadSource, PeerHeads

    peer_heads = PeerHeads(ledger.path.parent / PEER_HEADS_FILE)
    stack.callback(peer_heads.close)
    return {"head": HeadSource(ledger), "peer_heads": peer_heads}


def _trust(contracts: Mapping[str, Any]) -> ChainTrust | None:
    """The counterparty reads of the policy's trust rules (none without both registries)."""
    from runtime.chain.registry import Registry
    from runtime.chain.trust import ChainTrust

    registry, reputation = contracts.get("AgentRegistry"), contracts.get("ReputationRegistry")
    return None if registry is None or reputation is None else ChainTrust(Registry(registry), reputation)


def _anchor_range(
    ledger: Ledger, chain_id: int, contracts: Mapping[str, Any]
) -> Callable[[], tuple[bytes, int, int] | None] | None:
    """What the `anchor_log` skill anchors: the ledger's own next range (never a caller's)."""
    from runtime.ledger.anchor import next_anchor

    anchor = contracts.get("ActionLogAnchor")
    return None if anchor is None else partial(next_anchor, ledger, chain_id, anchor.address)


def fleet_parties(names: Mapping[str, tuple[str, ...]], own: str) -> list[Counterparty]:
    """The other agents of agents.yaml, from their names' ids (DID and/or wallet address, as the
    policy gets them): a skill's `to: seller` then finds the seller before any deal with it. A party
    met in a deal replaces its entry (with the credentials it presented)."""
    from policies import Counterparty

    parties = []
    for agent, ids in names.items():
        did = next((i for i in ids if i.startswith("did:")), None)
        address = next((i for i in ids if not i.startswith("did:")), None)
        if agent != own and (did or address):
            parties.append(Counterparty(did=did, address=address, name=agent))
    return parties
