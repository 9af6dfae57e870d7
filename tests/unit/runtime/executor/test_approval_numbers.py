"""Approvals carry a small number for people (`approve 3`) and keep each signed decision."""

from __future__ import annotations

from datetime import timedelta

from runtime.executor.approvals import ApprovalQueue


def ask(queue: ApprovalQueue, needed: int = 1) -> str:
    return queue.request(
        skill="sign_deal", origin="llm", summary={}, needed=needed, timeout=timedelta(seconds=30)
    ).id


def test_numbers_count_up_and_find_takes_a_number_or_an_id() -> None:
    queue = ApprovalQueue()
    first, second = ask(queue), ask(queue)
    assert [a.number for a in queue.pending()] == [1, 2]
    assert queue.find(2).id == second  # type: ignore[union-attr]
    assert queue.find("1").id == first  # type: ignore[union-attr]
    assert queue.find(first).number == 1  # type: ignore[union-attr]
    assert queue.find(" 2 ").id == second  # type: ignore[union-attr]
    assert queue.find(3) is None
    assert queue.find("nope") is None


def test_recent_lists_pending_first_then_the_latest_decided() -> None:
    queue = ApprovalQueue()
    a, b, c = ask(queue), ask(queue), ask(queue)
    queue.reject(a, "op")
    queue.approve(c, "op")
    assert [x.id for x in queue.recent()] == [b, c, a]
    assert [x.id for x in queue.recent(limit=1)] == [b, c]


def test_signed_decisions_are_kept_with_their_approver() -> None:
    queue = ApprovalQueue()
    approval_id = ask(queue, needed=2)
    queue.approve(approval_id, "0xA", "ok", signature="0xsigA")
    queue.approve(approval_id, "0xA", "again", signature="0xother")  # counted once, not re-signed
    done = queue.approve(approval_id, "0xB", signature="0xsigB")
    assert done.signatures == (("0xA", "0xsigA"), ("0xB", "0xsigB"))
    assert done.to_json()["signatures"] == {"0xA": "0xsigA", "0xB": "0xsigB"}
    assert done.to_json()["number"] == 1


def test_pruned_approvals_free_their_numbers() -> None:
    queue = ApprovalQueue(keep=1)
    old = ask(queue)
    queue.reject(old, "op")
    newer = ask(queue)
    queue.reject(newer, "op")
    assert queue.find(1) is None
    assert queue.find(2).id == newer  # type: ignore[union-attr]
