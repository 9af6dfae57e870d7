"""ERC-8004 validation as two scheduled jobs of `sova agent run` (docs/architecture.md, "Validation").

The seller's half, `AskForValidation`: for each deal it delivered of a service whose sell goal names a
`validator:` (agents.yaml), it keeps the request document `{"service", "input", "output"}`
(runtime/services/validator.py) under `<agent dir>/validations/<request hash>.json`, served by its A2A
server at `/validations/<request hash>` (runtime/a2a/work_documents.py), and sends
`request_validation` through its executor naming the validator's wallet, that URL and the hash.

The validator's half, `AnswerValidations` (an agent with the `answer_validation` skill): it reads the
`ValidationRequest` events addressed to its wallet since the last block it read, fetches each
document, checks it hashes to the request, re-runs the service (its plugins must register it) and
answers 100 or 0 through its executor. A document that does not match, or a service it does not run,
is refused without a transaction. Both halves keep what they did in `<agent dir>/validations.json`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.a2a.work_documents import DocumentError, document_routes, fetch_document, keep_document
from runtime.chain.validations import validation_requests
from runtime.secrets import write_private
from runtime.services.validator import ValidationRefused, request_document, validate_delivery

if TYPE_CHECKING:
    from starlette.routing import Route

    from runtime.executor.executor import Executor
    from runtime.negotiation.deals import DealStore
    from runtime.services.service import ServiceContext, Services
    from wallet.contracts import ContractBinding

__all__ = ["AnswerValidations", "AskForValidation", "schedule_validation", "validation_routes"]

STATE_FILE = "validations.json"
DOCUMENTS = "validations"
DELIVERED = ("delivered", "released", "disputed")
"""Seller deal states with a delivered output."""
ATTEMPTS = 3
"""Tries per request before an agent gives up on it (a chain or a peer that stays down)."""
ORIGIN = "validation"


class _State:
    """`validations.json`: `asked` by deal id, `answered` by request hash, the last `block` read."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.asked: dict[str, dict[str, Any]] = dict(data.get("asked") or {})
        self.answered: dict[str, dict[str, Any]] = dict(data.get("answered") or {})
        self.block: int = int(data.get("block", -1))

    def save(self) -> None:
        data = {"asked": self.asked, "answered": self.answered, "block": self.block}
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")


@dataclass
class AskForValidation:
    """The seller's job (see the module docstring); `validators`: service -> validator wallet."""

    executor: Executor
    deals: DealStore
    folder: Path
    validators: Mapping[str, str]
    base_url: str
    agent_id: Callable[[], int | None]
    say: Callable[[str], None] = print

    async def __call__(self) -> None:
        agent_id = self.agent_id()
        if agent_id is None:
            return
        state = _State(self.folder)
        asked_already = {item["request_hash"] for item in state.asked.values() if item["status"] == "asked"}
        for record in self.deals.in_states("seller", DELIVERED):
            validator, done = self.validators.get(record.item), state.asked.get(record.deal_id, {})
            if not validator or done.get("status") == "asked" or done.get("attempts", 0) >= ATTEMPTS:
                continue
            data = self.deals.payloads.load(record.input, record.input_hash)
            output = self.deals.payloads.load(record.output, record.output_hash)
            if data is None or output is None:
                continue
            document, request_hash = request_document(record.item, data, output)
            if request_hash in asked_already:  # the same work delivered again: validated once
                state.asked[record.deal_id] = {"request_hash": request_hash, "status": "asked"}
                state.save()
                continue
            keep_document(self.folder / DOCUMENTS, request_hash, document)
            args = {"validator": validator, "agent_id": agent_id, "request_hash": request_hash,
                    "request_uri": f"{self.base_url.rstrip('/')}/{DOCUMENTS}/{request_hash}"}  # fmt: skip
            outcome = await self.executor.execute("request_validation", args, ORIGIN)
            asked = outcome.ok or "RequestExists" in outcome.message()
            state.asked[record.deal_id] = {
                "request_hash": request_hash, "validator": validator, "attempts": done.get("attempts", 0) + 1,
                "status": "asked" if asked else "failed", "detail": "" if asked else outcome.message()[:300],
            }  # fmt: skip
            state.save()
            if asked:
                asked_already.add(request_hash)
            self.say(f"deal {record.thid}: validation by {validator} " + (
                f"asked ({request_hash})" if asked else f"not asked: {outcome.message()}"
            ))  # fmt: skip


@dataclass
class AnswerValidations:
    """The validator's job (see the module docstring)."""

    executor: Executor
    registry: ContractBinding
    services: Services
    context: ServiceContext
    folder: Path
    say: Callable[[str], None] = print
    fetch: Callable[[str], Awaitable[Any]] = fetch_document

    async def __call__(self) -> None:
        state = _State(self.folder)
        latest = await self.registry.client.block_number()
        start = state.block + 1 if state.block <= latest else 0  # a chain started anew: read it all
        address = self.executor.context.agent_address
        for event in await validation_requests(self.registry, address, start, latest):
            state.answered.setdefault(
                event.request_hash,
                {"uri": event.request_uri, "agent_id": event.agent_id, "status": "pending"},
            )
        state.block = latest
        state.save()
        for request_hash, item in state.answered.items():
            if item.get("status") == "pending" and item.get("attempts", 0) < ATTEMPTS:
                item.update(await self._answer(request_hash, str(item["uri"])))
                item["attempts"] = item.get("attempts", 0) + 1
                state.save()
                self.say(f"validation {request_hash} of agent {item['agent_id']}: {item['detail']}")

    async def _answer(self, request_hash: str, uri: str) -> dict[str, Any]:
        """What became of one request: answered (with its score), refused, or still pending."""
        try:
            document = await self.fetch(uri)
            verdict, outcome = await validate_delivery(
                self.executor, self.services, self.context, document, request_hash, ORIGIN
            )
        except DocumentError as exc:
            return {"status": "pending", "detail": str(exc)}
        except ValidationRefused as exc:
            return {"status": "refused", "detail": str(exc)}
        if not outcome.ok:
            return {"status": "pending", "detail": f"not answered: {outcome.message()}"}
        return {"status": "answered", "score": verdict.score, "detail": f"{verdict.score}: {verdict.reason}"}


def _validated(agent: Any) -> dict[str, str]:
    """service -> validator agent name, from the agent's sell goals."""
    from runtime.agent.goals import sell_goals

    return {goal.service: goal.validator for goal in sell_goals(agent.spec) if goal.validator}


def validation_routes(agent: Any) -> list[Route]:
    """The A2A server's route for the agent's validation documents (none when it asks for none)."""
    return document_routes(agent.home.agent_dir(agent.name) / DOCUMENTS if _validated(agent) else None)


def schedule_validation(
    agent: Any, scheduler: Any, parts: Any, session: Any, options: dict[str, Any]
) -> None:
    """Add the seller's and the validator's jobs of `agent` (runtime.agent.agent.Agent) to `scheduler`."""
    from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

    folder = agent.home.agent_dir(agent.name)
    every = IntervalTrigger(seconds=agent.deadlines_every.total_seconds())
    jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    names, wallets = agent._names(), {}
    for service, validator in _validated(agent).items():
        wallet = next((i for i in names.get(validator, ()) if not i.startswith("did:")), None)
        if wallet is None:
            agent.say(f"validation of {service} by {validator}: it has no wallet yet, not asked")
        else:
            wallets[service] = wallet
    if wallets:
        ready = lambda: agent.ready.agent_id if agent.ready is not None else None  # noqa: E731
        ask = AskForValidation(
            parts.executor, parts.deals, folder, wallets, agent.server.url, ready, agent.say
        )
        jobs.append(("ask", ask))
    registry = session.contracts.get("ValidationRegistry")
    if "answer_validation" in agent.spec.skills and registry is not None:
        from runtime.services.service import ServiceContext

        context = ServiceContext(agent.name, parts.executor.context.agent_did, agent._scratch())
        answer = AnswerValidations(parts.executor, registry, agent.services, context, folder, agent.say)
        jobs.append(("answer", answer))
    for name, job in jobs:
        scheduler.add_job(
            agent._tracked, every, args=(job,), id=f"validation-{name}", name=f"validation {name}", **options
        )
