"""A2A Tasks on the wire: what the server asks of the agent's task keeper, and the ListTasks rules.

A Sova agent keeps no task store of its own: a purchase is a deal, and its A2A Task is a view of the
deal record (runtime/negotiation/tasks.py makes it). This module is the transport side: the `TaskBook`
protocol the JSON-RPC handler calls, and the request checks and paging of `ListTasks`
(A2A 1.0 §3.1.4: page size 1..100, 50 by default; newest status first; an opaque page token).

Every call names the caller (a DID): the keeper answers only with that caller's own tasks, so a
stranger's `GetTask` gets "not found", never another party's task.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Final, Protocol, runtime_checkable

from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import InvalidParamsError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "TaskBook",
    "check_history_length",
    "cut_history",
    "list_page",
    "task_id_of",
]

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 100
_TOKEN_PREFIX: Final = "sova-page:"


@runtime_checkable
class TaskBook(Protocol):
    """The agent's tasks, as the A2A server asks for them (implemented by the Seller)."""

    def thread_task(self, peer: str, thid: str) -> a2a.Task | None:
        """The task of the deal in thread (peer, thid), or None when that thread holds no purchase."""
        ...

    def get_task(self, caller: str, task_id: str) -> a2a.Task | None:
        """Task `task_id` when `caller` is its party, else None."""
        ...

    def caller_tasks(self, caller: str) -> list[a2a.Task]:
        """Every task whose party is `caller`, the most recently updated first."""
        ...

    async def cancel_task(self, caller: str, task_id: str) -> a2a.Task | None:
        """Cancel task `task_id` for `caller`: the canceled task, None when it is not the caller's;
        raises a2a TaskNotCancelableError (with the reason) when its state does not allow it."""
        ...


def task_id_of(peer: str, thid: str) -> str:
    """The id of the task of thread (peer, thid): 32 hex digits of SHA-256 over both, so it is unique
    per agent (two peers may pick the same thid) and needs no column of its own."""
    return hashlib.sha256(f"sova-task\n{peer}\n{thid}".encode("utf-8", "replace")).hexdigest()[:32]


Asking = a2a.GetTaskRequest | a2a.ListTasksRequest | a2a.SendMessageConfiguration
"""A request that may ask for at most `historyLength` messages of history."""


def check_history_length(request: Asking) -> None:
    """InvalidParamsError (-32602) for a negative `historyLength`."""
    if request.HasField("history_length") and request.history_length < 0:
        raise InvalidParamsError(f"historyLength must be 0 or more, not {request.history_length}")


def list_page(tasks: list[a2a.Task], request: a2a.ListTasksRequest) -> a2a.ListTasksResponse:
    """One page of `tasks` (newest first) filtered and cut as `request` asks; InvalidParamsError (-32602)
    for a page size outside 1..100, an unknown status, a page token this server did not make or a
    negative historyLength."""
    check_history_length(request)
    size = request.page_size if request.HasField("page_size") else DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParamsError(f"pageSize must be 1 to {MAX_PAGE_SIZE}, not {size}")
    if request.status not in a2a.TaskState.values():
        raise InvalidParamsError(f"status {request.status} is not a TaskState")
    start = _offset(request.page_token)
    chosen = [
        task for task in tasks
        if (not request.context_id or task.context_id == request.context_id)
        and (request.status == a2a.TASK_STATE_UNSPECIFIED or task.status.state == request.status)
        and (not request.HasField("status_timestamp_after")
             or task.status.timestamp.ToNanoseconds() >= request.status_timestamp_after.ToNanoseconds())
    ]  # fmt: skip
    if start > len(chosen):
        raise InvalidParamsError("pageToken points past the last task: start again without it")
    page = chosen[start : start + size]
    response = a2a.ListTasksResponse(page_size=len(page), total_size=len(chosen))
    if start + size < len(chosen):
        response.next_page_token = _token(start + size)
    for task in page:
        shown = response.tasks.add()
        shown.CopyFrom(task)
        if not request.include_artifacts:
            shown.ClearField("artifacts")
        _cut_history(shown, request)
    return response


def cut_history(task: a2a.Task, request: Asking) -> a2a.Task:
    """`task` with at most `historyLength` messages of history (the newest; unset: all)."""
    _cut_history(task, request)
    return task


def _cut_history(task: a2a.Task, request: Asking) -> None:
    if request.HasField("history_length") and len(task.history) > request.history_length:
        del task.history[: len(task.history) - request.history_length]


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(_TOKEN_PREFIX)
    if not text.startswith(_TOKEN_PREFIX) or not number.isdigit() or len(number) > 9:
        raise InvalidParamsError("pageToken is not one this agent gave: use nextPageToken as it came")
    return int(number)
