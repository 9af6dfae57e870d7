"""A purchase is an A2A Task: the seller's view of each deal it sells, as A2A 1.0 shows a Task.

The Task is not stored on its own: it is computed from the seller's `DealRecord`, so a task state change
is the deal step itself (`DealStore.advance` writes the record and its ledger event together) and the
two can never disagree. The task's id is `task_id_of(buyer DID, thid)` (runtime/a2a/tasks.py), its
context id the negotiation's thid.

    deal state (seller)                      task state        status message says
    negotiating, no offer made yet           submitted         the request is in
    negotiating (an offer is out)            input-required    the offer: accept, counter or reject
    agreed                                   input-required    send your deal signature
    signed                                   input-required    lock the price in escrow, send funded
    funded                                   working           the service runs
    delivered, released                      completed         the output is the task's artifact
    declined (by this seller)                rejected          why
    canceled (CancelTask, or the buyer's reject before money)   canceled   why
    failed, refunded (the service had no output), disputed, expired     failed   why

`signed` is the state where the money gets locked: an x402 payment extension would show it as
input-required with the payment status in the status message's metadata (`payment-required`), as the
A2A x402 extension does; the mapping is this one table.

CancelTask is taken while the seller has not signed the deal (negotiating, agreed): nothing can be
locked yet, the deal becomes `canceled` and the buyer's next message in the thread gets a `reject`.
Once the seller has signed, the buyer may lock the money at any moment, so a cancel is refused with that
reason: a signed deal ends by delivery and release, or by the refund (at once when the service fails,
at the deadline otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import TaskNotCancelableError
from google.protobuf.json_format import ParseDict  # type: ignore[import-untyped, unused-ignore]

from runtime.a2a.tasks import task_id_of
from runtime.ledger.sink import LedgerSink
from runtime.negotiation.deals import DealRecord, DealStore

__all__ = ["CANCELABLE", "SellerTasks", "deal_task", "task_state"]

CANCELABLE: Final = ("negotiating", "agreed")
"""Deal states a CancelTask ends: the seller has not signed, so no money can be locked."""
_FIXED: Final[dict[str, int]] = {
    "agreed": a2a.TASK_STATE_INPUT_REQUIRED, "signed": a2a.TASK_STATE_INPUT_REQUIRED,
    "funded": a2a.TASK_STATE_WORKING, "delivered": a2a.TASK_STATE_COMPLETED,
    "released": a2a.TASK_STATE_COMPLETED, "declined": a2a.TASK_STATE_REJECTED,
    "canceled": a2a.TASK_STATE_CANCELED, "failed": a2a.TASK_STATE_FAILED,
    "refunded": a2a.TASK_STATE_FAILED, "disputed": a2a.TASK_STATE_FAILED, "expired": a2a.TASK_STATE_FAILED,
}  # fmt: skip
_SAYS: Final[dict[str, Callable[[DealRecord], str]]] = {
    "agreed": lambda r: f"agreed at {r.price} {r.token}: send your deal signature",
    "signed": lambda r: (
        f"signed at {r.price} {r.token}: lock it in the escrow (deal {r.deal_id}), send funded"
    ),
    "funded": lambda r: f"the price is locked in the escrow: {r.item} is running",
    "delivered": lambda r: f"{r.item} delivered: release the payment",
    "released": lambda r: f"{r.item} delivered and paid",
}


def task_state(record: DealRecord) -> tuple[int, str]:
    """(A2A TaskState, one line) of a seller's deal (the table in the module docstring)."""
    if record.state == "negotiating":
        if not record.price:
            return a2a.TASK_STATE_SUBMITTED, f"the request for {record.item} is in"
        return (
            a2a.TASK_STATE_INPUT_REQUIRED,
            f"offer: {record.price} {record.token}; accept, counter or reject",
        )
    state = _FIXED.get(record.state, a2a.TASK_STATE_WORKING)
    says = _SAYS.get(record.state)
    if says is not None:
        return state, says(record)
    return state, record.reason or f"the deal is {record.state}"


def deal_task(record: DealRecord, output: object = None) -> a2a.Task:
    """The A2A Task of a seller's deal; `output` (the service's output, JSON) becomes its artifact once
    the task is completed. Its history: the buyer's request (service and input hash), then the status."""
    task_id = task_id_of(record.peer, record.thid)
    state, line = task_state(record)
    task = a2a.Task(id=task_id, context_id=record.thid)
    task.status.state = state  # type: ignore[assignment]
    task.status.timestamp.FromDatetime(datetime.fromtimestamp(record.updated, UTC))
    status = task.status.message
    status.message_id, status.context_id, status.task_id = f"{task_id}-{record.state}", record.thid, task_id
    status.role = a2a.ROLE_AGENT
    status.parts.add().text = line
    request = task.history.add()
    request.message_id, request.context_id, request.task_id = f"{task_id}-request", record.thid, task_id
    request.role = a2a.ROLE_USER
    asked = request.parts.add().data.struct_value
    asked.update({"service": record.item, "input_hash": record.input_hash, "token": record.token})
    task.history.add().CopyFrom(status)
    meta = {"deal_state": record.state, "service": record.item, "price": record.price,
            "deal_id": record.deal_id, "terms_hash": record.terms_hash}  # fmt: skip
    task.metadata.update({k: v for k, v in meta.items() if v})
    if state == a2a.TASK_STATE_COMPLETED and output is not None:
        artifact = task.artifacts.add(artifact_id=record.output_hash or f"{task_id}-output", name=record.item)
        artifact.description = f"the output of {record.item} for deal {record.deal_id}"
        ParseDict(output, artifact.parts.add().data)
        artifact.metadata.update({"output_hash": record.output_hash, "deal_id": record.deal_id})
    return task


class SellerTasks:
    """The seller's deals as A2A Tasks (the `TaskBook` its A2A server asks): each buyer sees its own."""

    def __init__(self, deals: DealStore, ledger: LedgerSink | None) -> None:
        self.deals = deals
        self.ledger = ledger

    def _task(self, record: DealRecord) -> a2a.Task:
        output = None
        if record.state in ("delivered", "released") and record.output_hash:
            output = self.deals.payloads.load(record.output, record.output_hash)
        return deal_task(record, output)

    def _record(self, caller: str, task_id: str) -> DealRecord | None:
        for record in self.deals.with_peer(caller, "seller"):
            if task_id_of(record.peer, record.thid) == task_id:
                return record
        return None

    def thread_task(self, peer: str, thid: str) -> a2a.Task | None:
        """The task of the deal in thread (peer, thid) when this agent sells in it."""
        record = self.deals.get(peer, thid)
        return self._task(record) if record is not None and record.role == "seller" else None

    def get_task(self, caller: str, task_id: str) -> a2a.Task | None:
        """Task `task_id` when `caller` is its buyer."""
        record = self._record(caller, task_id)
        return None if record is None else self._task(record)

    def caller_tasks(self, caller: str) -> list[a2a.Task]:
        """The tasks whose buyer is `caller`, most recently updated first."""
        return [self._task(r) for r in self.deals.with_peer(caller, "seller")]

    async def cancel_task(self, caller: str, task_id: str) -> a2a.Task | None:
        """Cancel (see the module docstring); a task already canceled is answered as it is."""
        record = self._record(caller, task_id)
        if record is None:
            return None
        if record.state == "canceled":
            return self._task(record)
        if record.state not in CANCELABLE:
            state, _ = task_state(record)
            if state in (a2a.TASK_STATE_INPUT_REQUIRED, a2a.TASK_STATE_WORKING):
                why = (
                    f"the deal is {record.state}: the money may be locked, so it ends by delivery and "
                    "release, or by the refund (at once if the service fails, else at the deadline)"
                )
            else:
                why = f"the task is already over ({a2a.TaskState.Name(state)}: {record.state})"
            raise TaskNotCancelableError(why)
        why = "canceled by the buyer (CancelTask) before the deal was signed"
        record = await self.deals.advance(
            self.ledger, record, "canceled", {"state": "canceled", "reason": why}, reason=why
        )
        return self._task(record)
