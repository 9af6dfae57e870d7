"""A purchase as an A2A Task: the seller's deal states mapped to task states, the artifact of a completed
deal, cancel before and after signing, and each buyer seeing only its own tasks. Real SQLite deal store;
the ledger is a list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import InvalidParamsError, TaskNotCancelableError
from google.protobuf.json_format import MessageToDict

from runtime.a2a.tasks import list_page, task_id_of
from runtime.ledger.sink import MemorySink
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.tasks import SellerTasks, deal_task, task_state
from runtime.negotiation.terms import canonical

BUYER, STRANGER = "did:key:z6MkBuyer", "did:key:z6MkStranger"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DealStore]:
    deals = DealStore(tmp_path / "deals.sqlite")
    yield deals
    deals.close()


def seller_deal(state: str, *, thid: str = "t1", price: str = "5", reason: str = "") -> DealRecord:
    return DealRecord(peer=BUYER, thid=thid, role="seller", state=state, item="wordcount", price=price,
                      reason=reason, deal_id="0x" + "11" * 32)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "price", "expected"),
    [
        ("negotiating", "", a2a.TASK_STATE_SUBMITTED),
        ("negotiating", "5", a2a.TASK_STATE_INPUT_REQUIRED),
        ("agreed", "5", a2a.TASK_STATE_INPUT_REQUIRED),
        ("signed", "5", a2a.TASK_STATE_INPUT_REQUIRED),
        ("funded", "5", a2a.TASK_STATE_WORKING),
        ("delivered", "5", a2a.TASK_STATE_COMPLETED),
        ("released", "5", a2a.TASK_STATE_COMPLETED),
        ("declined", "", a2a.TASK_STATE_REJECTED),
        ("canceled", "5", a2a.TASK_STATE_CANCELED),
        ("failed", "5", a2a.TASK_STATE_FAILED),
        ("refunded", "5", a2a.TASK_STATE_FAILED),
        ("disputed", "5", a2a.TASK_STATE_FAILED),
        ("expired", "5", a2a.TASK_STATE_FAILED),
    ],
)
def test_each_seller_deal_state_is_one_task_state(state: str, price: str, expected: int) -> None:
    assert task_state(seller_deal(state, price=price))[0] == expected


def test_a_failed_deal_says_why_in_its_status_message() -> None:
    task = deal_task(seller_deal("refunded", reason="the service failed (timeout): over 5 s"))
    assert task.status.state == a2a.TASK_STATE_FAILED
    assert task.status.message.parts[0].text == "the service failed (timeout): over 5 s"


def test_a_completed_deal_carries_the_output_as_its_artifact() -> None:
    record = seller_deal("delivered")
    task = MessageToDict(deal_task(record, {"words": 3}))
    assert task["id"] == task_id_of(BUYER, "t1")
    assert task["contextId"] == "t1"
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    [artifact] = task["artifacts"]
    assert artifact["name"] == "wordcount"
    assert artifact["parts"] == [{"data": {"words": 3}}]
    assert task["metadata"]["deal_state"] == "delivered"


def test_a_task_that_is_not_completed_has_no_artifact() -> None:
    assert not deal_task(seller_deal("funded"), {"words": 3}).artifacts


def test_task_ids_differ_per_buyer_for_the_same_thid() -> None:
    assert task_id_of(BUYER, "t1") != task_id_of(STRANGER, "t1")
    assert len(task_id_of(BUYER, "t1")) == 32


def test_the_buyer_sees_its_task_and_a_stranger_does_not(store: DealStore) -> None:
    tasks = SellerTasks(store, MemorySink())
    store.put(seller_deal("funded"))
    task_id = task_id_of(BUYER, "t1")
    assert tasks.get_task(BUYER, task_id) is not None
    assert tasks.get_task(STRANGER, task_id) is None
    assert [t.id for t in tasks.caller_tasks(BUYER)] == [task_id]
    assert tasks.caller_tasks(STRANGER) == []


def test_the_task_of_a_delivered_deal_loads_the_kept_output(store: DealStore) -> None:
    inline, digest = store.payloads.keep(canonical({"words": 3}))
    store.put(DealRecord(peer=BUYER, thid="t1", role="seller", state="released", item="wordcount",
                         output=inline, output_hash=digest))  # fmt: skip
    task = SellerTasks(store, None).thread_task(BUYER, "t1")
    assert task is not None
    assert MessageToDict(task.artifacts[0])["parts"] == [{"data": {"words": 3}}]


async def test_cancel_before_the_seller_signs_cancels_the_deal_and_logs_it(store: DealStore) -> None:
    ledger = MemorySink()
    tasks = SellerTasks(store, ledger)
    store.put(seller_deal("agreed"))
    canceled = await tasks.cancel_task(BUYER, task_id_of(BUYER, "t1"))
    assert canceled is not None
    assert canceled.status.state == a2a.TASK_STATE_CANCELED
    record = store.get(BUYER, "t1")
    assert record is not None
    assert record.state == "canceled"
    assert [(k, d["event"]) for k, d in ledger.entries] == [("deal", "canceled")]


@pytest.mark.parametrize("state", ["signed", "funded", "delivered"])
async def test_cancel_once_money_may_be_locked_is_refused_with_the_reason(
    store: DealStore, state: str
) -> None:
    tasks = SellerTasks(store, MemorySink())
    store.put(seller_deal(state))
    with pytest.raises(TaskNotCancelableError, match=r"money may be locked|already over"):
        await tasks.cancel_task(BUYER, task_id_of(BUYER, "t1"))
    record = store.get(BUYER, "t1")
    assert record is not None
    assert record.state == state


async def test_a_stranger_cannot_cancel_a_buyers_task(store: DealStore) -> None:
    tasks = SellerTasks(store, MemorySink())
    store.put(seller_deal("negotiating"))
    assert await tasks.cancel_task(STRANGER, task_id_of(BUYER, "t1")) is None
    record = store.get(BUYER, "t1")
    assert record is not None
    assert record.state == "negotiating"


def tasks_of(count: int) -> list[a2a.Task]:
    return [deal_task(seller_deal("funded", thid=f"t{n}")) for n in range(count)]


def test_list_pages_through_every_task_once() -> None:
    tasks = tasks_of(5)
    first = list_page(tasks, a2a.ListTasksRequest(page_size=2))
    assert (first.page_size, first.total_size, len(first.tasks)) == (2, 5, 2)
    seen = [t.id for t in first.tasks]
    token = first.next_page_token
    while token:
        page = list_page(tasks, a2a.ListTasksRequest(page_size=2, page_token=token))
        seen += [t.id for t in page.tasks]
        token = page.next_page_token
    assert seen == [t.id for t in tasks]


@pytest.mark.parametrize(
    "request_",
    [
        a2a.ListTasksRequest(page_size=0),
        a2a.ListTasksRequest(page_size=-1),
        a2a.ListTasksRequest(page_size=101),
        a2a.ListTasksRequest(page_token="not-ours"),
        a2a.ListTasksRequest(history_length=-1),
    ],
)
def test_list_refuses_bad_paging_with_invalid_params(request_: a2a.ListTasksRequest) -> None:
    with pytest.raises(InvalidParamsError):
        list_page(tasks_of(1), request_)


def test_list_filters_by_status_and_context_and_leaves_out_artifacts_by_default() -> None:
    done = deal_task(seller_deal("delivered", thid="done"), {"words": 1})
    tasks = [done, *tasks_of(2)]
    completed = list_page(tasks, a2a.ListTasksRequest(status=a2a.TASK_STATE_COMPLETED))
    assert [t.id for t in completed.tasks] == [done.id]
    assert not completed.tasks[0].artifacts
    with_artifacts = list_page(tasks, a2a.ListTasksRequest(context_id="done", include_artifacts=True))
    assert [len(t.artifacts) for t in with_artifacts.tasks] == [1]
    none = list_page(tasks, a2a.ListTasksRequest(context_id="nothing"))
    assert (list(none.tasks), none.total_size, none.page_size, none.next_page_token) == ([], 0, 0, "")
