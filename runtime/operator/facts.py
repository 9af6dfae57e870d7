"""What the operator API and the command chat read and change in one running agent.

`OperatorBackend` wraps the agent's parts (executor, ledger, deal and thread stores, chain balances)
and answers in JSON-ready dicts, so the HTTP routes (runtime/operator/routes.py) and the chat
(runtime/operator/chat.py) say the same thing. Blocking SQLite reads run in worker threads. Deciding
an approval goes through `decide`, which accepts only an operator key's signed decision.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runtime.errors import SovaError
from runtime.executor.approvals import Approval, ApprovalClosed, ApprovalError, UnknownApproval
from runtime.operator.auth import DecisionError, Verdict, operator_name, recover_decision
from runtime.payments.records import x402_rows

if TYPE_CHECKING:
    from runtime.a2a.threads import ThreadStore
    from runtime.executor.executor import Executor
    from runtime.ledger.ledger import Ledger
    from runtime.negotiation.deals import DealStore

log = logging.getLogger(__name__)

MAX_PAGE = 500
BALANCE_TIMEOUT = 3.0
OPEN_DEAL_STATES = ("negotiating", "agreed", "signed", "funded", "delivered")


class OperatorRefusal(SovaError):
    """A request the operator API refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AgentInfo:
    """Who the agent is, as `GET /v1/status` tells it."""

    name: str
    role: str
    did: str
    address: str
    chain_id: int
    brain: str
    url: str = ""
    agent_id: int | None = None
    started_at: float = 0.0


Balances = Callable[[], Awaitable[dict[str, str]]]


class OperatorBackend:
    """One agent seen by its operators. `operators`: {checksum address: key name} of the keys whose
    signed decisions count; `balances`: an async function giving {symbol: amount} (None: no chain)."""

    def __init__(
        self,
        *,
        info: AgentInfo,
        executor: Executor,
        ledger: Ledger,
        operators: Mapping[str, str],
        deals: DealStore | None = None,
        threads: ThreadStore | None = None,
        balances: Balances | None = None,
    ) -> None:
        self.info = info
        self.executor = executor
        self.ledger = ledger
        self.operators = dict(operators)
        self.deals_store = deals
        self.threads = threads
        self._balances = balances
        self.started = time.monotonic()

    # ----------------------------------------------------------------- reading

    async def status(self) -> dict[str, Any]:
        """Who, where, paused or not, balances, deal counts, the ledger's head."""
        info, executor = self.info, self.executor
        deals = await self._deal_records()
        counts = {
            "total": len(deals),
            "released": sum(d.state == "released" for d in deals),
            "refunded": sum(d.state == "refunded" for d in deals),
            "open": sum(d.state in OPEN_DEAL_STATES for d in deals),
        }
        return {
            "name": info.name, "role": info.role, "did": info.did, "address": info.address,
            "agent_id": info.agent_id, "url": info.url, "pid": os.getpid(), "paused": executor.paused,
            "pause_reason": executor.pause_reason, "uptime_s": round(time.monotonic() - self.started, 1),
            "brain": info.brain, "balances": await self.balances(), "deals": counts,
            "ledger_head": self.ledger.last().seq, "pending_approvals": len(executor.approvals.pending()),
        }  # fmt: skip

    async def balances(self) -> dict[str, str]:
        """{symbol: amount in token units}; {} when there is no chain or it does not answer in time."""
        if self._balances is None:
            return {}
        try:
            return await asyncio.wait_for(self._balances(), BALANCE_TIMEOUT)
        except Exception:  # a slow or down chain must not break the status page
            return {}

    async def ledger_page(self, after: int = 0, limit: int = 100) -> dict[str, Any]:
        """Entries after seq `after`, at most `limit` (≤ 500), oldest first, and where to go on."""
        if after < 0 or not 1 <= limit <= MAX_PAGE:
            raise OperatorRefusal(400, f"`after` must be ≥ 0 and `limit` between 1 and {MAX_PAGE}")
        head = self.ledger.last().seq
        last = min(head, after + limit)
        entries = await asyncio.to_thread(self.ledger.entries, after + 1, last) if last > after else []
        return {
            "entries": [entry_json(e) for e in entries],
            "next_after": last if last < head else None,
            "head": head,
        }

    async def verify(self) -> dict[str, Any]:
        """The local ledger's hash chain and signatures, checked as `sova log verify` does (no chain)."""
        from runtime.ledger.verify import verify_ledger

        report = await asyncio.to_thread(
            verify_ledger, self.ledger.path, expected_did=self.info.did, expected_wallet=self.info.address,
            anchors_note="the operator API checks the local file only: `sova log verify` checks anchors",
        )  # fmt: skip
        return {
            "ok": report.ok,
            "checked": report.entries,
            "first_bad": report.first_bad,
            "message": report.message(),
        }

    async def budgets(self) -> dict[str, Any]:
        """Each spend limit of the policy: the limit, what was spent in the last 24 h, what is left."""
        return {"budgets": await asyncio.to_thread(self._budgets)}

    def _budgets(self) -> list[dict[str, Any]]:
        from policies import format_units

        executor = self.executor
        policy, did = executor.policy, executor.context.agent_did
        rows: list[dict[str, Any]] = []
        for token in policy.tokens:
            limits = policy.spend_limits(token.symbol)
            if limits is None:
                continue
            facts = executor.budget.facts_for(did, token)
            with_one = max((Decimal(v) for v in facts.spent_today_with.values()), default=Decimal(0))
            spent = {
                "per_day": str(facts.spent_today),
                "per_counterparty_day": str(with_one),
                "per_action": None,
            }
            for scope in ("per_day", "per_counterparty_day", "per_action"):
                limit = getattr(limits, scope)
                if limit is None:
                    continue
                shown = format_units(limit, token.decimals)
                used = spent[scope]
                left = Decimal(shown) - Decimal(used) if used is not None else Decimal(shown)
                rows.append(
                    {"token": token.symbol, "scope": scope, "limit": shown, "spent": used,
                     "left": str(max(left, Decimal(0)))}
                )  # fmt: skip
        return rows

    async def negotiations(self) -> dict[str, Any]:
        """Negotiation threads still open, most recent first, with the last price this agent offered."""
        return {"negotiations": await asyncio.to_thread(self._negotiations)}

    def _negotiations(self) -> list[dict[str, Any]]:
        if self.threads is None:
            return []
        open_ = sorted((t for t in self.threads.all() if not t.final), key=lambda t: t.updated, reverse=True)
        out = []
        for t in open_:
            record = self.deals_store.get(t.peer, t.thid) if self.deals_store is not None else None
            out.append(
                {"thread": t.thid, "counterparty": t.peer, "role": t.role, "state": t.state,
                 "last_offer": record.price if record is not None and record.price else None,
                 "item": record.item if record is not None else None, "updated": _iso(t.updated)}
            )  # fmt: skip
        return out

    async def deals(self, limit: int = 50) -> dict[str, Any]:
        """The most recently updated deals first; the x402 payments and sales (payments/records.py)."""
        if not 1 <= limit <= MAX_PAGE:
            raise OperatorRefusal(400, f"`limit` must be between 1 and {MAX_PAGE}")
        records, p = (await self._deal_records())[:limit], getattr(self.deals_store, "payloads", None)
        return {"deals": [  # with each deal's input and result (None when not kept)
            {"thread": d.thid, "counterparty": d.peer, "role": d.role, "state": d.state, "item": d.item,
             "token": d.token, "price": d.price, "deal_id": d.deal_id, "deadline": d.deadline,
             "txs": d.txs, "reason": d.reason, "started": _iso(d.started), "updated": _iso(d.updated),
             "input": p and p.load(d.input, d.input_hash), "result": p and p.load(d.output, d.output_hash)}
            for d in records
        ], "x402": await x402_rows(self.ledger.path, self.executor.context.tokens, limit)}  # fmt: skip

    async def _deal_records(self) -> list[Any]:
        return [] if self.deals_store is None else await asyncio.to_thread(self.deals_store.all)

    def approvals(self) -> dict[str, Any]:
        """Pending approvals first, then the recently decided ones."""
        return {"approvals": [a.to_json() for a in self.executor.approvals.recent()]}

    def approval(self, ref: str) -> Approval:
        """The approval with id or number `ref`; 404 when there is none."""
        found = self.executor.approvals.find(ref)
        if found is None:
            raise OperatorRefusal(
                404, f"no approval {ref[:80]!r}: GET /v1/approvals lists them (by id and number)"
            )
        return found

    # ----------------------------------------------------------------- changing

    def decide(
        self, ref: str, decision: Verdict, *, signature: Any, approver: Any = None, reason: Any = ""
    ) -> Approval:
        """Approve or reject approval `ref` (id or number) with an operator key's signed decision.
        OperatorRefusal: 400 bad body or signature, 403 not an operator key, 404 unknown, 409 decided."""
        if not isinstance(reason, str):
            raise OperatorRefusal(400, "`reason` must be a string")
        if approver is not None and not isinstance(approver, str):
            raise OperatorRefusal(400, "`approver` must be the operator's 0x address")
        current = self.approval(ref)
        if current.state != "pending":
            state = current.state.replace("_", " ")
            raise OperatorRefusal(409, f"approval {current.number} ({current.id}) is {state} already")
        try:
            signer = recover_decision(
                signature, self.info.address, current.id, decision, reason, self.info.chain_id
            )
        except DecisionError as exc:
            raise OperatorRefusal(400, str(exc)) from None
        if approver is not None and approver.lower() != signer.lower():
            raise OperatorRefusal(
                403, f"the signature is by {signer}, not by the approver {approver[:60]} named in the body"
            )
        if operator_name(self.operators, signer) is None:
            known = ", ".join(f"{n} ({a})" for a, n in self.operators.items()) or "none"
            raise OperatorRefusal(
                403,
                f"{signer} is not an operator key of agents.yaml (keys.operator / keys.approvers: {known})",
            )
        queue = self.executor.approvals
        try:
            if decision == "approve":
                return queue.approve(current.id, signer, reason, signature=signature)
            return queue.reject(current.id, signer, reason, signature=signature)
        except UnknownApproval as exc:
            raise OperatorRefusal(404, str(exc)) from None
        except ApprovalClosed as exc:
            raise OperatorRefusal(409, str(exc)) from None
        except ApprovalError as exc:
            raise OperatorRefusal(400, str(exc)) from None

    async def pause(self, reason: Any = None) -> dict[str, Any]:
        """Stop signing now (the executor's pause switch: the next signature is refused), then log it."""
        if reason is not None and not isinstance(reason, str):
            raise OperatorRefusal(400, "`reason` must be a string")
        text = " ".join((reason or "").split())[:300] or "paused by the operator"
        self.executor.pause(text)  # first: it holds from this line on, whatever the log does
        await self._note({"action": "pause", "reason": text})
        return {"paused": True, "reason": text}

    async def resume(self) -> dict[str, Any]:
        """Allow signing again (and log it)."""
        self.executor.resume()
        await self._note({"action": "resume"})
        return {"paused": False}

    async def _note(self, data: dict[str, Any]) -> None:
        """An `operator` ledger entry; a ledger that cannot take it does not undo the action."""
        try:
            await self.ledger.append_async("operator", data)
        except Exception:
            log.exception("could not log operator action %s", data.get("action"))


def entry_json(entry: Any) -> dict[str, Any]:
    """A ledger entry as the operator API shows it: {seq, ts, kind, data, hash}."""
    full = entry.to_json()
    return {k: full[k] for k in ("seq", "ts", "kind", "data", "hash")}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else ""
