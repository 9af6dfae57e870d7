"""What an agent does for each goal of agents.yaml: issue credentials, offer a service, buy on a schedule,
and the goals of kinds its plugins register (`PluginGoalJob`).

Every side effect goes through the agent's executor (policy, budget, ledger); this module only decides
what to ask for and reports the outcome as one line per goal run (what `sova up` shows in its log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.agent.buy_hooks import BuyHooks
from runtime.agent.spend_room import cannot_pay
from runtime.config import Agent as AgentSpec
from runtime.config import BuyGoal, IssueGoal, PluginGoal, SellGoal
from runtime.operator.purchase import find_sellers

if TYPE_CHECKING:
    from datetime import timedelta

    from runtime.chain.registry import Registry
    from runtime.executor.executor import Executor
    from runtime.negotiation.buyer import Buyer
    from runtime.negotiation.deals import DealRecord
    from runtime.services.extensions import Extensions
    from runtime.services.goal_kinds import GoalContext

log = logging.getLogger(__name__)

Say = Callable[[str], None]


def sell_goals(spec: AgentSpec) -> list[SellGoal]:
    return [g for g in spec.goals if isinstance(g, SellGoal)]


def buy_goals(spec: AgentSpec) -> list[BuyGoal]:
    return [g for g in spec.goals if isinstance(g, BuyGoal)]


def issue_goals(spec: AgentSpec) -> list[IssueGoal]:
    return [g for g in spec.goals if isinstance(g, IssueGoal)]


def plugin_goals(spec: AgentSpec) -> list[PluginGoal]:
    return [g for g in spec.goals if isinstance(g, PluginGoal)]


def service_tags(spec: AgentSpec) -> list[str]:
    """The tags an agent registers under: the services of its sell goals, each once."""
    return list(dict.fromkeys(g.service for g in sell_goals(spec)))


def deal_price_rules(spec: AgentSpec) -> list[dict[str, str]]:
    """The policy rules an agent's buy goals add to its policy file: per token, a `deal_price` at the
    highest `max_price` of its buy goals, so that no deal over it is signed or funded, whoever asks
    (rules brain, LLM, operator chat, plugin). None for an agent with no buy goal."""
    caps: dict[str, Decimal] = {}
    for goal in buy_goals(spec):
        price = Decimal(goal.max_price)
        caps[goal.token] = max(price, caps.get(goal.token, price))
    return [{"kind": "deal_price", "token": token, "max": f"{cap:f}"} for token, cap in caps.items()]


def duration_text(seconds: float) -> str:
    return f"{int(seconds)}s"


@dataclass(frozen=True)
class Grant:
    """One credential to issue at start: its type, the subject's name, DID and credential store file."""

    type: str
    name: str
    did: str
    store: Path
    claims: dict[str, str | int | bool]
    valid_for: str


async def issue_at_start(executor: Executor, grants: Sequence[Grant], say: Say) -> int:
    """Issue each grant through the executor's `issue_credential` skill and deliver it.

    Delivery is a same-machine shortcut: the credential is added (role "held") straight to the subject
    agent's credential store file under the same Sova home, instead of being sent over A2A. A subject
    that already holds an unexpired credential of that type from this issuer is skipped, so restarts
    do not pile up credentials. Returns how many were issued."""
    issued = 0
    for grant in grants:
        if await asyncio.to_thread(_already_holds, grant.store, grant.type, executor.context.agent_did):
            say(f"{grant.name} already holds a {grant.type} credential from this issuer")
            continue
        args = {
            "subject": grant.did,
            "type": grant.type,
            "claims": grant.claims,
            "valid_for": grant.valid_for,
        }
        outcome = await executor.execute("issue_credential", args, origin="goal")
        if not outcome.ok or outcome.result is None:
            say(f"issue {grant.type} to {grant.name}: {outcome.message()}")
            continue
        await asyncio.to_thread(_deliver, grant.store, outcome.result["credential"])
        issued += 1
        say(f"issued {grant.type} to {grant.name} ({grant.did}): {outcome.result['id']}")
    return issued


def _already_holds(path: Path, ctype: str, issuer: str) -> bool:
    if not path.exists():
        return False
    from identity import CredentialStore

    store = CredentialStore(path)
    try:
        now = datetime.now(UTC)
        return any(
            c.issuer == issuer and ctype in c.types and (c.expires_at is None or c.expires_at > now)
            for c in store.list(role="held")
        )
    finally:
        store.close()


def _deliver(path: Path, document: Any) -> None:
    from identity import CredentialStore

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = CredentialStore(path)
    try:
        store.add(document, role="held")
    finally:
        store.close()


class BuyJob:
    """One buy goal, run by the scheduler: find sellers by tag and buy from the first that settles.
    The input is the goal's `input:`, or what its `input_from` function gives each run; its
    `on_result` function is given each deal's BuyResult (runtime/agent/buy_hooks.py). `root`: the
    folder of agents.yaml, where those functions' modules are looked for first."""

    def __init__(
        self, goal: BuyGoal, buyer: Buyer, registry: Registry, own_wallet: str, say: Say,
        root: Path | None = None,
    ) -> None:  # fmt: skip
        self.goal = goal
        self.buyer = buyer
        self.registry = registry
        self.own_wallet = own_wallet
        self.say = say
        self.runs = 0
        self.hooks = BuyHooks(goal.input_from, goal.on_result, root or Path.cwd(), goal.input)

    async def __call__(self) -> DealRecord | None:
        self.runs += 1
        service = self.goal.service
        data, problem = await self.hooks.input()
        if problem is not None:
            self.say(f"buy {service}: {problem}; no purchase this run")
            return None
        try:
            sellers = await find_sellers(self.registry, service, self.own_wallet)
        except Exception as exc:  # the chain may be briefly unreachable: try again next run
            self.say(f"buy {service}: cannot read the registry ({type(exc).__name__}: {exc})")
            return None
        if not sellers:
            self.say(f"buy {service}: no seller registered with tag {service!r} yet")
            return None
        last: DealRecord | None = None
        for seller in sellers:
            unpayable = cannot_pay(self.buyer, seller.wallet)
            if unpayable is not None:
                self.say(f"buy {service} from {seller.did}: skipped: {unpayable}")
                continue
            try:
                record = await self.buyer.buy(seller.endpoint, service, input=data, expected_did=seller.did)
            except Exception as exc:  # one seller failing must not stop the goal
                log.exception("buy %s from %s failed", service, seller.endpoint)
                self.say(f"buy {service} from {seller.did}: failed ({type(exc).__name__}: {exc})")
                continue
            last = record
            self.say(deal_line(record, service, seller.did))
            await self._report(record)
            if record.state == "released":
                break
        return last

    async def _report(self, record: DealRecord) -> None:
        """Tell `on_result` (if any) how the deal went; its failure is one line, nothing more."""
        if self.hooks.on_result is None:
            return
        from runtime.operator.purchase import result_of

        problem = await self.hooks.report(result_of(record, self.buyer.deals, {}))
        if problem is not None:
            self.say(f"buy {self.goal.service}: {problem}")


def deal_line(record: DealRecord, service: str, peer: str) -> str:
    """One log line per deal: service, peer, price and state (and why, when it did not settle)."""
    price = f"{Decimal(record.price)} {record.token}" if record.price else "no price"
    why = f" ({record.reason})" if record.reason and record.state != "released" else ""
    return f"deal {record.thid} {service} with {peer}: {price}, {record.state}{why}"


def plugin_goal_jobs(
    spec: AgentSpec, extensions: Extensions, executor: Executor, scratch: Path, say: Say
) -> list[PluginGoalJob]:
    """The jobs of `spec`'s goals of plugin kinds; their one way to an effect is `executor`."""
    from functools import partial

    from runtime.services.goal_kinds import GoalContext

    context = GoalContext(
        spec.name, executor.context.agent_did, executor.context.agent_address, scratch,
        partial(_goal_execute, executor), say,
    )  # fmt: skip
    return [PluginGoalJob(goal, extensions, context) for goal in plugin_goals(spec)]


async def _goal_execute(executor: Executor, skill: str, args: dict[str, Any]) -> Any:
    """A plugin goal's `execute`: the executor's, with origin "goal"."""
    return await executor.execute(skill, args, origin="goal")


class PluginGoalJob:
    """One goal of a plugin's kind, run by the scheduler (every `every`, or once at start): its
    options validated by the kind's config model once, its run given a GoalContext (never a key)."""

    def __init__(self, goal: PluginGoal, extensions: Extensions, context: GoalContext) -> None:
        kind = extensions.goals.get(goal.kind)
        if kind is None:  # config check and agent_extensions refused it before
            raise ValueError(f"unknown goal kind {goal.kind!r}")
        self.goal, self.kind, self.context = goal, kind, context
        self.config = kind.parse(goal.options)
        self.runs = 0

    @property
    def every(self) -> timedelta | None:
        return self.goal.every

    async def __call__(self) -> None:
        self.runs += 1
        try:
            await self.kind(self.config, self.context)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # plugin code: one line in the agent's log, the next run goes on
            log.exception("goal %s failed", self.kind.name)
            detail = " ".join(str(exc).split())[:200]
            self.context.say(f"goal {self.kind.name}: failed ({type(exc).__name__}: {detail})")
