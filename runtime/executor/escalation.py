"""The executor's step 4: an escalated action goes to the approval queue (`ask`), and the operators'
answer is logged as an `approval` entry (`await_approval`), which is a denial unless approved."""

from __future__ import annotations

from typing import Any

from policies import Decision
from runtime.executor.action_log import ActionLog, Outcome
from runtime.executor.approvals import Approval, ApprovalQueue
from skills import Planned


def ask(queue: ApprovalQueue, skill: str, planned: Planned[Any], decision: Decision, origin: str) -> Approval:
    """Step 4, first half: put the escalated action in the approval queue."""
    assert decision.approval is not None
    escalations = [r.message for r in decision.reasons if r.verdict == "escalate"]
    return queue.request(
        skill=skill,
        origin=origin,
        summary={**planned.describe(), "reasons": escalations},
        needed=decision.approval.approvers,
        timeout=decision.approval.timeout,
    )


async def await_approval(queue: ApprovalQueue, record: ActionLog, approval: Approval) -> Outcome | None:
    """Step 4, second half: wait for the operators and log their answer; a denial unless approved."""
    final = await queue.wait(approval.id)
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
        return None
    why = {"rejected": f"rejected by {final.rejected_by}", "timed_out": "no approval in time"}
    reason = f"approval {final.id}: {why.get(final.state, final.state)}"
    return record.outcome("denied", reasons=[reason], approval_id=final.id)
