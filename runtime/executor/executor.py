"""The executor: the one path from a request to a side effect (DESIGN §3).

    Executor.execute(skill, args, origin) -> Outcome     origin: rules-brain | llm | operator | peer:<did>
      1. find the skill; validate args (extra keys refused)            deny + log on failure
      2. plan -> Intent + exact effects (no key, no network write)     deny + log on failure
      3. facts (Budget, known counterparties) -> evaluate -> log the decision
      4. escalate -> ApprovalQueue: approvers / reject / timeout      log the outcome; not approved = deny
      5. paused? -> deny + log
      6. spending skill -> reserve budget (atomic; a refusal is a deny + log)
      7. run with a narrow signer for exactly the planned effects -> commit or release the budget
      8. log the effect (done / failed, what was signed and refused)

Denials are answers (Outcome.status "denied"), never exceptions. Budget is sync SQLite: its calls run
in worker threads (`asyncio.to_thread`); the ledger writes on its own thread.

Budget after a failed run: released when nothing was signed or the failure is certain (a revert);
committed when a transaction was signed and its fate is unknown (a timeout, a lost connection): it
may still be mined, and a budget must never undercount.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from policies import Budget, Decision, Facts, Intent, Policy, Refusal, Reservation, evaluate, to_base_units
from runtime.executor.action_log import ActionLog, LedgerDown, LedgerSink, Outcome, Status
from runtime.executor.approvals import ApprovalQueue
from runtime.executor.narrow_signer import PauseSwitch, SigningAudit, scoped_signer
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
    with `new_counterparty`, besides everyone the agent has paid."""

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

    async def execute(self, skill_name: str, args: Any, origin: str) -> Outcome:
        """Run `skill_name` with `args` for `origin` through every check; see the module docstring."""
        record = ActionLog(self.ledger, uuid.uuid4().hex, str(skill_name), str(origin))
        try:
            return await self._execute(record, skill_name, args, origin)
        except LedgerDown as exc:
            log.error("action %s stopped: %s", record.action_id, exc)
            return record.outcome("failed", reasons=[f"{exc}: the action was stopped there"])

    async def _execute(self, record: ActionLog, skill_name: str, args: Any, origin: str) -> Outcome:
        prepared = await self._prepare(record, skill_name, args, origin)
        if isinstance(prepared, Outcome):
            return prepared
        skill, planned = prepared
        try:
            facts = await self._facts(planned.intent)
        except Exception as exc:  # fail closed: no facts, no decision
            return await record.deny(
                "policy", [f"usage facts could not be read ({exc})"], **planned.describe()
            )
        decision = evaluate(self.policy, planned.intent, facts)
        args_json = planned.args.model_dump(mode="json")
        # A barrier unless it denies: it is on disk before the skill runs (DESIGN §3) or operators are asked.
        await record.write(
            "decision",
            {"stage": "policy", **_decision(decision), **planned.describe(), "args": args_json},
            barrier=decision.verdict != "deny",
        )
        if decision.verdict == "deny":
            return record.outcome("denied", reasons=_deny_reasons(decision))
        approval_id = None
        if decision.verdict == "escalate" and not self.paused:
            approval_id, refused = await self._escalate(record, skill, planned, decision, origin)
            if refused is not None:
                return refused
        if self.paused:
            reasons = [f"the agent is paused ({self.pause_reason})"]
            denial = {"stage": "pause", "verdict": "deny", "reasons": reasons}
            await record.write("decision", denial, barrier=False)
            return record.outcome("denied", reasons=reasons, approval_id=approval_id)
        reservation = None
        if skill.spends and planned.intent.amount is not None:
            held = await self._reserve(planned.intent)
            if isinstance(held, Refusal):
                return await record.deny("budget", [f"budget {held.limit}: {held.message}"])
            reservation = held
        return await self._run(record, skill, planned, reservation, approval_id)

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

    async def _escalate(
        self, record: ActionLog, skill: Skill[Any], planned: Planned[Any], decision: Decision, origin: str
    ) -> tuple[str, Outcome | None]:
        """Step 4: ask the approval queue and wait; the approval id, and a denial unless approved."""
        assert decision.approval is not None
        escalations = [r.message for r in decision.reasons if r.verdict == "escalate"]
        approval = self.approvals.request(
            skill=skill.name,
            origin=origin,
            summary={**planned.describe(), "reasons": escalations},
            needed=decision.approval.approvers,
            timeout=decision.approval.timeout,
        )
        final = await self.approvals.wait(approval.id)
        await record.write(
            "approval",
            {
                "approval_id": final.id,
                "number": final.number,
                "state": final.state,
                "needed": final.needed,
                "approvers": list(final.approvers),
                "rejected_by": final.rejected_by,
                "reasons": list(final.reasons),
                # who decided, provably: each operator's EIP-712 signature of its decision
                "signatures": [{"approver": a, "signature": s} for a, s in final.signatures],
            },
        )
        if final.approved:
            return final.id, None
        why = {"rejected": f"rejected by {final.rejected_by}", "timed_out": "no approval in time"}
        reason = f"approval {final.id}: {why.get(final.state, final.state)}"
        return final.id, record.outcome("denied", reasons=[reason], approval_id=final.id)

    async def _run(
        self,
        record: ActionLog,
        skill: Skill[Any],
        planned: Planned[Any],
        reservation: Reservation | None,
        approval_id: str | None,
    ) -> Outcome:
        try:
            await asyncio.to_thread(self.budget.note_action, self.context.agent_did)
        except Exception as exc:  # the rate limit could not count it: do not run it
            await self._settle(reservation, moved=False)
            return await record.deny("budget", [f"the action could not be counted ({exc})"])
        signer, audit = scoped_signer(
            self.__signer, planned.effects, pause=self._pause, identity_key=self.__identity_key
        )
        try:
            result = await skill.run(self.context, planned, signer)
        except Exception as exc:
            await self._settle(
                reservation, moved=audit.tx_signed and not isinstance(exc, SkillRunError | SigningPaused)
            )
            status: Status = "denied" if isinstance(exc, SigningPaused) else "failed"
            if not isinstance(exc, SkillError):
                log.warning("skill %s failed: %s: %s", skill.name, type(exc).__name__, exc)
            reason = _error_line(exc)
            await record.write("effect", {"status": status, "error": reason, **_audit(audit)}, barrier=False)
            return record.outcome(status, reasons=[reason], approval_id=approval_id)
        except BaseException:  # cancelled: keep the budget honest, then let it through
            await asyncio.shield(self._settle(reservation, moved=audit.tx_signed))
            raise
        await self._settle(reservation, moved=True)
        await record.write("effect", {"status": "done", "result": result, **_audit(audit)}, barrier=False)
        return record.outcome("done", result=result, approval_id=approval_id)

    # ----------------------------------------------------------------- budget

    async def _facts(self, intent: Intent) -> Facts:
        token = self.policy.tokens.find(intent.token) if intent.token is not None else None
        return await asyncio.to_thread(
            self.budget.facts_for,
            self.context.agent_did,
            token,
            period=self.policy.rate_period,
            known=self.known_counterparties,
        )

    async def _reserve(self, intent: Intent) -> Reservation | Refusal:
        assert intent.token is not None
        assert intent.amount is not None
        token = self.policy.tokens.find(intent.token)
        limits = self.policy.spend_limits(intent.token)
        if token is None or limits is None:  # evaluate denied these already; stay closed anyway
            return Refusal("per_action", f"no spend limit covers {intent.token}")
        party = intent.counterparty
        key = None if party is None else (party.address or party.did)
        try:
            amount = to_base_units(intent.amount, token.decimals)
            return await asyncio.to_thread(
                self.budget.reserve, self.context.agent_did, token, key, amount, limits
            )
        except Exception as exc:  # fail closed
            return Refusal("unavailable", f"the budget could not be checked ({exc})")

    async def _settle(self, reservation: Reservation | None, *, moved: bool) -> None:
        if reservation is None:
            return
        try:
            await asyncio.to_thread(self.budget.commit if moved else self.budget.release, reservation)
        except Exception:
            log.exception("could not settle budget reservation %s", reservation.id)


def _decision(decision: Decision) -> dict[str, Any]:
    return {
        "verdict": decision.verdict,
        "reasons": [r.model_dump(mode="json") for r in decision.reasons],
        "approval": None
        if decision.approval is None
        else {
            "approvers": decision.approval.approvers,
            "timeout_s": int(decision.approval.timeout.total_seconds()),
        },
    }


def _deny_reasons(decision: Decision) -> list[str]:
    return [f"{r.kind}: {r.message}" for r in decision.reasons if r.verdict == "deny"]


def _audit(audit: SigningAudit) -> dict[str, Any]:
    return {"signed": audit.signed, "refused": audit.refused}


def _error_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, SkillError) else f"{type(exc).__name__}: {text}"
