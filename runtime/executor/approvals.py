"""The approval queue: escalated actions wait here for operators; no answer in time means deny.

The executor `request`s an approval for an escalated intent and `wait`s for it. Operators (the console,
the operator API) list `pending()` approvals and `approve` or `reject` them by id. An approval needs
`needed` distinct approver ids (the same approver twice counts once); one rejection decides it; at the
deadline it is `timed_out`, which the executor treats as a deny. Approving or rejecting an unknown id,
or one already decided, raises a one-line ApprovalError.

Each approval also gets a small `number` (1, 2, 3 … per queue) so a person can say `approve 3`; `find`
takes either. The operator API checks an operator's EIP-712 signature (runtime/operator/auth.py) before
it calls `approve` / `reject` with the recovered address as the approver id and the signature, which the
approval keeps (`signatures`) so the executor's ledger entry names who decided and proves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from runtime.errors import SovaError

ApprovalState = Literal["pending", "approved", "rejected", "timed_out"]


class ApprovalError(SovaError):
    """An approval cannot be given or refused (unknown id, already decided, bad approver id)."""


class UnknownApproval(ApprovalError):
    """No approval with that id."""


class ApprovalClosed(ApprovalError):
    """The approval was decided already (approved, rejected or timed out)."""


@dataclass(frozen=True)
class Approval:
    """One escalated action waiting for (or decided by) operators. Snapshots: the queue replaces them."""

    id: str
    skill: str
    origin: str
    summary: Mapping[str, Any]
    """The intent, its effects and the policy's reasons, as JSON."""
    needed: int
    deadline: float
    """Unix seconds."""
    state: ApprovalState = "pending"
    approvers: tuple[str, ...] = ()
    rejected_by: str | None = None
    reasons: tuple[str, ...] = field(default=())
    """The approvers' and rejecter's reasons, 'who: why'."""
    number: int = 0
    """A small per-queue number (1, 2, 3 …) for people: `approve 3`."""
    signatures: tuple[tuple[str, str], ...] = ()
    """(approver id, signature) of each signed decision, in the order they came."""

    @property
    def approved(self) -> bool:
        return self.state == "approved"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "skill": self.skill,
            "origin": self.origin,
            "state": self.state,
            "needed": self.needed,
            "approvers": list(self.approvers),
            "rejected_by": self.rejected_by,
            "reasons": list(self.reasons),
            "deadline": datetime.fromtimestamp(self.deadline, UTC).isoformat(),
            "summary": dict(self.summary),
            "signatures": dict(self.signatures),
        }


class ApprovalQueue:
    """Pending and recently decided approvals of one agent (the last `keep` decided ones are kept)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, keep: int = 1000) -> None:
        self._clock = clock
        self._keep = keep
        self._items: OrderedDict[str, Approval] = OrderedDict()
        self._events: dict[str, asyncio.Event] = {}
        self._numbers: dict[int, str] = {}
        self._next_number = 1

    def request(
        self, *, skill: str, origin: str, summary: Mapping[str, Any], needed: int, timeout: timedelta
    ) -> Approval:
        """Open an approval that needs `needed` distinct approvers within `timeout`."""
        if needed < 1:
            raise ApprovalError(f"an approval needs at least 1 approver, not {needed}")
        approval = Approval(
            id=uuid.uuid4().hex,
            skill=skill,
            origin=origin,
            summary=dict(summary),
            needed=needed,
            deadline=self._clock() + timeout.total_seconds(),
            number=self._next_number,
        )
        self._numbers[approval.number] = approval.id
        self._next_number += 1
        self._items[approval.id] = approval
        self._events[approval.id] = asyncio.Event()
        return approval

    def get(self, approval_id: str) -> Approval | None:
        found = self._items.get(approval_id)
        return self._expire(found) if found is not None else None

    def find(self, ref: str | int) -> Approval | None:
        """The approval with id `ref`, or with number `ref` (an int or a string of digits)."""
        text = str(ref).strip()
        if text.isdigit() and len(text) < 10:
            approval_id = self._numbers.get(int(text))
            return self.get(approval_id) if approval_id is not None else None
        return self.get(text)

    def recent(self, limit: int = 50) -> list[Approval]:
        """Pending approvals (oldest first), then up to `limit` decided ones (latest decided first)."""
        current = [self._expire(a) for a in list(self._items.values())]
        decided = [a for a in current if a.state != "pending"]
        return [a for a in current if a.state == "pending"] + decided[::-1][: max(limit, 0)]

    def pending(self) -> list[Approval]:
        """Approvals still waiting, oldest first."""
        return [a for a in (self._expire(a) for a in list(self._items.values())) if a.state == "pending"]

    def approve(self, approval_id: str, approver: str, reason: str = "", *, signature: str = "") -> Approval:
        """Count `approver` for the approval; it is approved once `needed` distinct approvers agreed.
        `signature`: the approver's signed decision, kept with the approval (and logged)."""
        current = self._open(approval_id, approver)
        if approver in current.approvers:
            return current  # the same approver twice counts once
        approvers = (*current.approvers, approver)
        state: ApprovalState = "approved" if len(approvers) >= current.needed else "pending"
        return self._set(
            replace(
                current,
                approvers=approvers,
                state=state,
                reasons=self._why(current, approver, reason),
                signatures=self._signed(current, approver, signature),
            )
        )

    def reject(self, approval_id: str, approver: str, reason: str = "", *, signature: str = "") -> Approval:
        """Reject the approval: one rejection decides it."""
        current = self._open(approval_id, approver)
        return self._set(
            replace(
                current,
                state="rejected",
                rejected_by=approver,
                reasons=self._why(current, approver, reason),
                signatures=self._signed(current, approver, signature),
            )
        )

    async def wait(self, approval_id: str) -> Approval:
        """The approval once decided, or timed out at its deadline."""
        approval = self.get(approval_id)
        if approval is None:
            raise UnknownApproval(f"no approval {approval_id}")
        event = self._events.get(approval_id)
        if approval.state == "pending" and event is not None:
            remaining = approval.deadline - self._clock()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(remaining, 0))
        final = self.get(approval_id)
        assert final is not None
        if final.state == "pending":  # woken at the deadline but the clock says just before it
            final = self._set(replace(final, state="timed_out"))
        return final

    # ----------------------------------------------------------------- internals

    def _open(self, approval_id: str, approver: str) -> Approval:
        if not isinstance(approver, str) or not approver.strip() or len(approver) > 256:
            raise ApprovalError("an approver id is a non-empty string of at most 256 characters")
        found = self.get(approval_id)
        if found is None:
            raise UnknownApproval(
                f"no approval {approval_id}: list the pending ones and use one of their ids"
            )
        if found.state != "pending":
            raise ApprovalClosed(
                f"approval {approval_id} is {found.state.replace('_', ' ')} already: nothing to decide"
            )
        return found

    @staticmethod
    def _signed(current: Approval, approver: str, signature: str) -> tuple[tuple[str, str], ...]:
        return (*current.signatures, (approver, signature)) if signature else current.signatures

    @staticmethod
    def _why(current: Approval, approver: str, reason: str) -> tuple[str, ...]:
        return (*current.reasons, f"{approver}: {reason}" if reason else approver)

    def _expire(self, approval: Approval) -> Approval:
        if approval.state == "pending" and self._clock() >= approval.deadline:
            return self._set(replace(approval, state="timed_out"))
        return approval

    def _set(self, approval: Approval) -> Approval:
        self._items[approval.id] = approval
        if approval.state != "pending":
            event = self._events.pop(approval.id, None)
            if event is not None:
                event.set()
            self._items.move_to_end(approval.id)
            self._prune()
        return approval

    def _prune(self) -> None:
        decided = [k for k, a in self._items.items() if a.state != "pending"]
        for key in decided[: max(0, len(decided) - self._keep)]:
            self._numbers.pop(self._items.pop(key).number, None)
