"""The executor: the one path from a request to a side effect (DESIGN §3).

    Executor.execute(skill, args, origin) -> Outcome     origin: rules-brain | llm | operator | peer:<did>
      1. find the skill; validate args (extra keys refused)            deny + log on failure
      2. plan -> Intent + exact effects (no key, no network write)     deny + log on failure
      3. facts (Budget, known counterparties) -> evaluate -> log the decision
      4. escalate -> ApprovalQueue: approvers / reject / timeout      log the outcome; not approved = deny
         (`wait_for_approval=False`, the LLM's way: answer "pending" at once, finish in the background)
      5. paused? -> deny + log
      6. admit: count the action against the rate limits and take its budget (Planned.budget), both in
         one atomic step, so concurrent calls cannot pass a limit together; a refusal is a deny + log
      7. run with a narrow signer for exactly the planned effects -> settle the budget
      8. log the effect (done / failed, what was signed and refused)

Denials are answers (Outcome.status "denied"), never exceptions. Budget is sync SQLite: its calls run
in worker threads (`asyncio.to_thread`); the ledger writes on its own thread.

Budget after the run, by `BudgetUse.mode` (skills/base.py): a "spend" is committed when the money
moved or may have (a transaction signed and its fate unknown: a timeout, a lost connection — a budget
must never undercount), released when certainly nothing moved (nothing signed, a revert); a "hold" (a
buyer's deal signature) stays held once signed and is released only when nothing was signed; a
"consume" (the escrow open) commits its hold when the money moved or may have and otherwise leaves it
held, since the deal's signature still stands.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from policies import (
    Budget,
    Policy,
    Refusal,
    Reservation,
    evaluate,
)
from runtime.executor.action_log import (
    ActionLog,
    LedgerDown,
    Outcome,
    Status,
    audit_data,
    decision_data,
    deny_reasons,
    error_line,
)
from runtime.executor.approvals import Approval, ApprovalQueue
from runtime.executor.budget import BudgetGate, TrustSource
from runtime.executor.escalation import ask, await_approval
from runtime.executor.narrow_signer import PauseSwitch, scoped_signer
from runtime.ledger.sink import LedgerSink
from skills import (
    Catalog,
    InvalidSkillArgs,
    Planned,
    SigningPaused,
    Skill,
    SkillContext,
    SkillError,
    SkillRunError,
)

if TYPE_CHECKING:
    from identity.keys import IdentityKey
    from wallet.signer import SignerLike

log = logging.getLogger(__name__)


class Executor:
    """Runs skills for one agent, under its policy, budget, approvals, pause switch and ledger.

    `signer` (the wallet) and `identity_key` stay inside the executor: skills only ever get a narrow
    signer. `known_counterparties` (DIDs, addresses, names) count as seen before for `approval` rules
    with `new_counterparty`, besides everyone the agent has paid. `trust` reads a counterparty's
    reputation for the policy's trust rules (none: those rules deny)."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        context: SkillContext,
        policy: Policy,
        budget: Budget,
        ledger: LedgerSink,
        signer: SignerLike,
        identity_key: IdentityKey | None = None,
        approvals: ApprovalQueue | None = None,
        known_counterparties: Iterable[str] = (),
        trust: TrustSource | None = None,
    ) -> None:
        if signer.address.lower() != context.agent_address.lower():
            raise ValueError(f"the signer {signer.address} is not the agent's wallet {context.agent_address}")
        self.catalog = catalog
        self.context = context
        self.policy = policy
        self.budget = budget
        self.ledger = ledger
        self.approvals = approvals if approvals is not None else ApprovalQueue()
        self.known_counterparties = tuple(known_counterparties)
        self._pause = PauseSwitch()
        self._budget = BudgetGate(budget, policy, context.agent_did, self.known_counterparties, trust)
        self._later: set[asyncio.Task[Outcome]] = set()
        # Name-mangled and never handed out: skills get scoped_signer(...) over these.
        self.__signer = signer
        self.__identity_key = identity_key

    # ----------------------------------------------------------------- pause

    @property
    def paused(self) -> bool:
        return self._pause.paused

    @property
    def pause_reason(self) -> str | None:
        return self._pause.reason

    def pause(self, reason: str = "paused by the operator") -> None:
        """Stop all signing now: running skills fail at their next signature, new actions are denied."""
        self._pause.pause(reason)

    def resume(self) -> None:
        self._pause.resume()

    # ----------------------------------------------------------------- the path

    async def execute(
        self, skill_name: str, args: Any, origin: str, *, wait_for_approval: bool = True
    ) -> Outcome:
        """Run `skill_name` with `args` for `origin` through every check; see the module docstring.
        `wait_for_approval=False`: an escalated action answers "pending" at once and goes on in the
        background (`settled()` waits for those)."""
        record = ActionLog(self.ledger, uuid.uuid4().hex, str(skill_name), str(origin))
        try:
            return await self._execute(record, skill_name, args, origin, wait_for_approval)
        except LedgerDown as exc:
            log.error("action %s stopped: %s", record.action_id, exc)
            return record.outcome("failed", reasons=[f"{exc}: the action was stopped there"])

    async def _execute(
        self, record: ActionLog, skill_name: str, args: Any, origin: str, wait: bool
    ) -> Outcome:
        prepared = await self._prepare(record, skill_name, args, origin)
        if isinstance(prepared, Outcome):
            return prepared
        skill, planned = prepared
        use = planned.budget
        try:
            # An escrow open is judged without the hold it takes over: that amount is counted once.
            facts = await self._budget.facts(
                planned.intent, use.key if use and use.mode == "consume" else None
            )
        except Exception as exc:  # fail closed: no facts, no decision
            return await record.deny(
                "policy", [f"usage facts could not be read ({exc})"], **planned.describe()
            )
        decision = evaluate(self.policy, planned.intent, facts)
        args_json = planned.args.model_dump(mode="json")
        # A barrier unless it denies: it is on disk before the skill runs (DESIGN §3) or operators are asked.
        await record.write(
            "decision",
            {"stage": "policy", **decision_data(decision), **planned.describe(), "args": args_json},
            barrier=decision.verdict != "deny",
        )
        if decision.verdict == "deny":
            return record.outcome("denied", reasons=deny_reasons(decision))
        if decision.verdict == "escalate" and not self.paused:
            approval = ask(self.approvals, skill.name, planned, decision, origin)
            if not wait:
                return self._finish_later(record, skill, planned, approval)
            refused = await await_approval(self.approvals, record, approval)
            if refused is not None:
                return refused
            return await self._admit_and_run(record, skill, planned, approval.id)
        return await self._admit_and_run(record, skill, planned, None)

    def _finish_later(
        self, record: ActionLog, skill: Skill[Any], planned: Planned[Any], approval: Approval
    ) -> Outcome:
        """Answer "pending" now; wait for the operators and run (or not) in a background task."""

        async def finish() -> Outcome:
            try:
                refused = await await_approval(self.approvals, record, approval)
                if refused is not None:
                    return refused
                return await self._admit_and_run(record, skill, planned, approval.id)
            except LedgerDown as exc:
                log.error("action %s stopped: %s", record.action_id, exc)
                return record.outcome("failed", reasons=[f"{exc}: the action was stopped there"])

        task = asyncio.get_running_loop().create_task(finish(), name=f"approval {approval.id}")
        self._later.add(task)
        task.add_done_callback(self._later.discard)
        reason = (
            f"waiting for the operator's approval #{approval.number} ({approval.id}): it is done or "
            "refused in the background, and the ledger will say which; do not ask again"
        )
        return record.outcome("pending", reasons=[reason], approval_id=approval.id)

    async def settled(self) -> list[Outcome]:
        """Wait for every action still finishing in the background (escalated with
        `wait_for_approval=False`); their outcomes."""
        done: list[Outcome] = []
        while self._later:
            for result in await asyncio.gather(*list(self._later), return_exceptions=True):
                if isinstance(result, Outcome):
                    done.append(result)
        return done

    async def _admit_and_run(
        self, record: ActionLog, skill: Skill[Any], planned: Planned[Any], approval_id: str | None
    ) -> Outcome:
        """Steps 5-8: refuse when paused, admit (rate limits + budget, atomically), run."""
        if self.paused:
            reasons = [f"the agent is paused ({self.pause_reason})"]
            denial = {"stage": "pause", "verdict": "deny", "reasons": reasons}
            await record.write("decision", denial, barrier=False)
            return record.outcome("denied", reasons=reasons, approval_id=approval_id)
        admitted = await self._budget.admit(planned)
        if isinstance(admitted, Refusal):
            what = admitted.limit if admitted.limit == "rate_limit" else f"budget {admitted.limit}"
            reasons = [f"{what}: {admitted.message}"]
            await record.write(
                "decision", {"stage": "budget", "verdict": "deny", "reasons": reasons}, barrier=False
            )
            return record.outcome("denied", reasons=reasons, approval_id=approval_id)
        return await self._run(record, skill, planned, admitted.reservation, approval_id)

    async def _prepare(
        self, record: ActionLog, skill_name: str, args: Any, origin: str
    ) -> Outcome | tuple[Skill[Any], Planned[Any]]:
        """Steps 1-2: the skill, its validated arguments, its plan; a logged denial when any fails."""
        if not isinstance(origin, str) or not origin or len(origin) > 300:
            return await record.deny("validate", ["the request has no valid origin"], args=args)
        skill = self.catalog.get(skill_name) if isinstance(skill_name, str) else None
        if skill is None:
            known = ", ".join(self.catalog.names())
            return await record.deny(
                "unknown_skill", [f"unknown skill {skill_name!r} (skills: {known})"], args=args
            )
        try:
            parsed = skill.parse(args)
        except InvalidSkillArgs as exc:
            return await record.deny("validate", exc.problems, args=args)
        try:
            return skill, skill.plan(self.context, parsed)
        except SkillError as exc:
            return await record.deny("plan", [str(exc)], args=parsed.model_dump(mode="json"))
        except Exception as exc:  # a planning bug must deny, not crash the brain
            log.exception("planning %s failed", skill.name)
            return await record.deny("plan", [f"planning failed ({type(exc).__name__}: {exc})"], args=args)

    async def _run(
        self,
        record: ActionLog,
        skill: Skill[Any],
        planned: Planned[Any],
        reservation: Reservation | None,
        approval_id: str | None,
    ) -> Outcome:
        use = planned.budget
        signer, audit = scoped_signer(
            self.__signer, planned.effects, pause=self._pause, identity_key=self.__identity_key
        )
        try:
            result = await skill.run(self.context, planned, signer)
        except Exception as exc:
            moved = audit.tx_signed and not isinstance(exc, SkillRunError | SigningPaused)
            await self._budget.settle(reservation, use, moved=moved, signed=bool(audit.signed))
            status: Status = "denied" if isinstance(exc, SigningPaused) else "failed"
            if not isinstance(exc, SkillError):
                log.warning("skill %s failed: %s: %s", skill.name, type(exc).__name__, exc)
            reason = error_line(exc)
            await record.write(
                "effect", {"status": status, "error": reason, **audit_data(audit)}, barrier=False
            )
            return record.outcome(status, reasons=[reason], approval_id=approval_id)
        except BaseException:  # cancelled: keep the budget honest, then let it through
            await asyncio.shield(
                self._budget.settle(reservation, use, moved=audit.tx_signed, signed=bool(audit.signed))
            )
            raise
        await self._budget.settle(reservation, use, moved=True, signed=True)
        await record.write("effect", {"status": "done", "result": result, **audit_data(audit)}, barrier=False)
        return record.outcome("done", result=result, approval_id=approval_id)

    # ----------------------------------------------------------------- budget
