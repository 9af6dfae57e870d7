"""The engine's answer: a verdict, every reason behind it, and for an escalation the approval needed.

`explain(decision)` turns a decision into the lines `sova policy check` prints.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.units import format_duration

Verdict = Literal["allow", "deny", "escalate"]
"""deny beats escalate beats allow."""


class Reason(BaseModel):
    """Why one rule (or the engine itself, `rule` None) decided what it did about an intent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: int | None = Field(description="index in the policy's `rules`; None for the engine's own checks")
    kind: str = Field(description="the rule kind, or 'default' / 'intent' for the engine's own checks")
    verdict: Verdict
    message: str


class Approval(BaseModel):
    """What an escalated intent needs: this many operator approvals within `timeout` (else: deny)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approvers: int = Field(ge=1)
    timeout: timedelta


class Decision(BaseModel):
    """The verdict on one intent, all its reasons in rule order, and the approval an escalation needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    reasons: tuple[Reason, ...]
    approval: Approval | None = None

    @property
    def allowed(self) -> bool:
        """True only for a plain allow (an escalation is not allowed until approved)."""
        return self.verdict == "allow"


def explain(decision: Decision) -> list[str]:
    """Human lines for a decision: the verdict first, then one line per reason, deciding ones first."""
    head = decision.verdict.upper()
    if decision.verdict == "escalate" and decision.approval is not None:
        approval = decision.approval
        who = "1 approver" if approval.approvers == 1 else f"{approval.approvers} approvers"
        head += f": needs {who} within {format_duration(approval.timeout)} (no answer = deny)"
    order = {"deny": 0, "escalate": 1, "allow": 2}
    reasons = sorted(decision.reasons, key=lambda r: order[r.verdict])
    lines = [head]
    for reason in reasons:
        where = f"rules[{reason.rule}] {reason.kind}" if reason.rule is not None else reason.kind
        lines.append(f"  {reason.verdict:<8} {where}: {reason.message}")
    return lines
