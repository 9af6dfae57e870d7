"""What the executor writes to the ledger for one action, and what it returns (`Outcome`).

Every action gets an id; its entries share it:

    decision  {action, skill, origin, stage, verdict, reasons, args?, intent?, effects?, approval?}
              stage: unknown_skill | validate | plan | policy | pause | budget
    approval  {action, approval_id, state, needed, approvers, rejected_by, reasons}
    effect    {action, skill, origin, status: done | failed | denied, result? , error?, signed, refused}

A denial writes its decision entry before the executor answers, so the log holds every attempt, also
those that never reached a key. Durability (runtime.ledger.sync): a `decision` that lets the action go
on (allow, escalate) and an `approval` are barriers, fsynced before the skill runs or operators are
asked; a denial and an `effect` are not (nothing leaves the process on their account: a denial stops
the action, and the effect's result is already out, on-chain or in the reply the next barrier covers),
so they reach the disk with the next barrier or within a second.

Data is made JSON-safe for the ledger's canonical form (integers beyond ±2**53 and non-finite floats
become strings, bytes become 0x hex).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from runtime.ledger.sink import LedgerSink
from skills import SkillError

if TYPE_CHECKING:
    from policies import Decision
    from runtime.executor.narrow_signer import SigningAudit

Status = Literal["done", "denied", "failed", "pending"]
"""pending: escalated to the operator, finishing in the background (Executor.execute's
`wait_for_approval=False`)."""
_MAX_DEPTH = 20
_MAX_TEXT = 8192
_SAFE = 2**53 - 1


class LedgerDown(Exception):
    """The ledger refused a write: the executor stops the action there (nothing unlogged runs)."""


@dataclass(frozen=True)
class Outcome:
    """What came of one `Executor.execute`: never an exception for a denial."""

    status: Status
    skill: str
    action_id: str
    result: dict[str, Any] | None = None
    reasons: tuple[str, ...] = ()
    ledger_seqs: tuple[int, ...] = ()
    approval_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def message(self) -> str:
        """One line for a model or a person: the status and the reasons."""
        head = {"done": "done", "denied": "DENIED", "failed": "FAILED", "pending": "PENDING"}[self.status]
        return f"{self.skill} {head}" + (": " + "; ".join(self.reasons) if self.reasons else "")


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as plain JSON the ledger can canonicalize (see the module docstring)."""
    if depth > _MAX_DEPTH:
        return "<too deep>"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_SAFE <= value <= _SAFE else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "…"
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:256]}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in list(value)[:256]]
    return jsonable(repr(value), depth + 1)


class ActionLog:
    """The ledger entries of one action; collects their seqs for the Outcome."""

    def __init__(self, sink: LedgerSink, action_id: str, skill: str, origin: str) -> None:
        self.sink, self.action_id, self.skill, self.origin = sink, action_id, skill, origin
        self.seqs: list[int] = []

    async def write(self, kind: str, data: Mapping[str, Any], *, barrier: bool = True) -> None:
        """Append one entry (fsynced before this returns when `barrier`); LedgerDown when the ledger
        cannot take it."""
        body = jsonable({"action": self.action_id, "skill": self.skill, "origin": self.origin, **data})
        try:
            entry = await self.sink.append_async(kind, body, barrier=barrier)
        except Exception as exc:
            raise LedgerDown(f"the ledger refused a {kind} entry ({type(exc).__name__}: {exc})") from exc
        seq = getattr(entry, "seq", None)
        if isinstance(seq, int):
            self.seqs.append(seq)

    async def deny(self, stage: str, reasons: list[str], **data: Any) -> Outcome:
        """Log a denial at `stage` and answer it (not a barrier: the action stops here)."""
        data = {"stage": stage, "verdict": "deny", "reasons": reasons, **data}
        await self.write("decision", data, barrier=False)
        return self.outcome("denied", reasons=reasons)

    def outcome(
        self,
        status: Status,
        *,
        result: dict[str, Any] | None = None,
        reasons: list[str] | tuple[str, ...] = (),
        approval_id: str | None = None,
    ) -> Outcome:
        return Outcome(
            status, self.skill, self.action_id, result, tuple(reasons), tuple(self.seqs), approval_id
        )


def decision_data(decision: Decision) -> dict[str, Any]:
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


def deny_reasons(decision: Decision) -> list[str]:
    return [f"{r.kind}: {r.message}" for r in decision.reasons if r.verdict == "deny"]


def audit_data(audit: SigningAudit) -> dict[str, Any]:
    return {"signed": audit.signed, "refused": audit.refused}


def error_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, SkillError) else f"{type(exc).__name__}: {text}"
