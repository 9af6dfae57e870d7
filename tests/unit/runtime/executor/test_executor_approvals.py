"""The approval queue: N distinct approvers, one rejection decides, no answer in time = deny."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from runtime.executor.approvals import ApprovalClosed, ApprovalError, ApprovalQueue, UnknownApproval

SUMMARY = {"intent": {"skill": "transfer_token", "amount": "45"}}


def ask(queue: ApprovalQueue, needed: int = 1, seconds: float = 5.0) -> str:
    approval = queue.request(
        skill="transfer_token",
        origin="llm",
        summary=SUMMARY,
        needed=needed,
        timeout=timedelta(seconds=seconds),
    )
    return approval.id


async def test_one_approval_decides_and_wakes_the_waiter() -> None:
    queue = ApprovalQueue()
    approval_id = ask(queue)
    assert [a.id for a in queue.pending()] == [approval_id]
    waiter = asyncio.create_task(queue.wait(approval_id))
    await asyncio.sleep(0)
    queue.approve(approval_id, "operator-1", "fine")
    final = await asyncio.wait_for(waiter, 1)
    assert (final.state, final.approvers, final.reasons) == (
        "approved",
        ("operator-1",),
        ("operator-1: fine",),
    )
    assert queue.pending() == []


async def test_two_approvers_must_be_distinct_the_same_one_twice_counts_once() -> None:
    queue = ApprovalQueue()
    approval_id = ask(queue, needed=2)
    assert queue.approve(approval_id, "alice").state == "pending"
    assert queue.approve(approval_id, "alice").state == "pending"
    assert queue.approve(approval_id, "bob").state == "approved"
    assert (await queue.wait(approval_id)).approvers == ("alice", "bob")


async def test_one_rejection_decides_even_after_an_approval() -> None:
    queue = ApprovalQueue()
    approval_id = ask(queue, needed=2)
    queue.approve(approval_id, "alice")
    rejected = queue.reject(approval_id, "bob", "looks like a stranger")
    assert (rejected.state, rejected.rejected_by) == ("rejected", "bob")
    assert not (await queue.wait(approval_id)).approved


async def test_no_answer_in_time_is_a_timeout_and_late_answers_are_refused() -> None:
    queue = ApprovalQueue()
    approval_id = ask(queue, seconds=0.05)
    final = await asyncio.wait_for(queue.wait(approval_id), 2)
    assert final.state == "timed_out"
    assert not final.approved
    with pytest.raises(ApprovalClosed, match="timed out already"):
        queue.approve(approval_id, "operator")


async def test_a_deadline_passed_before_anyone_waited_is_a_timeout() -> None:
    now = [1000.0]
    queue = ApprovalQueue(clock=lambda: now[0])
    approval_id = ask(queue, seconds=10)
    now[0] += 11
    assert queue.pending() == []
    with pytest.raises(ApprovalClosed):
        queue.approve(approval_id, "operator")
    assert (await queue.wait(approval_id)).state == "timed_out"


def test_unknown_or_decided_ids_and_empty_approvers_raise_clear_errors() -> None:
    queue = ApprovalQueue()
    with pytest.raises(UnknownApproval, match="no approval nope"):
        queue.approve("nope", "operator")
    approval_id = ask(queue)
    with pytest.raises(ApprovalError, match="approver id"):
        queue.approve(approval_id, "  ")
    queue.reject(approval_id, "operator")
    with pytest.raises(ApprovalClosed, match="rejected already"):
        queue.approve(approval_id, "operator")
    with pytest.raises(ApprovalClosed):
        queue.reject(approval_id, "operator")


def test_decided_approvals_are_kept_up_to_a_bound() -> None:
    queue = ApprovalQueue(keep=3)
    ids = [ask(queue) for _ in range(6)]
    for approval_id in ids:
        queue.reject(approval_id, "operator")
    assert [queue.get(i) is not None for i in ids] == [False, False, False, True, True, True]
    assert queue.get(ids[-1]).to_json()["state"] == "rejected"  # type: ignore[union-attr]
