"""Checks of a JSON-RPC request that a2a-sdk 1.3 gets wrong, made on the raw body before it parses it
(A2A TCK 1.0 MUST requirements):

- `ListTasks` with a `status` that is not a TaskState name: a2a-sdk drops the unknown enum value and
  lists everything; A2A wants -32602 InvalidParams.
- a v0.3 method (`message/send`, `tasks/get`, …) whose params do not fit the v0.3 model: a2a-sdk answers
  -32600 with the whole pydantic dump in `data` (and logs a traceback); A2A wants -32602, here in one
  line naming the first field that is wrong.

Only bodies that can be such a request are parsed (a cheap byte search first), so the negotiation
messages of the 1.0 path pay nothing.
"""

from __future__ import annotations

import json
from typing import Any, Final

from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter  # the v0.3 models a2a-sdk validates with
from a2a.types import a2a_pb2 as a2a
from pydantic import ValidationError

__all__ = ["request_problem"]

_MARKS: Final = (b'"ListTasks"', b'"message/', b'"tasks/', b'"agent/')


def request_problem(body: bytes) -> tuple[Any, str] | None:
    """(the request's id, one line) when the request must be refused with -32602, else None."""
    if not any(mark in body for mark in _MARKS):
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None  # a2a-sdk answers a parse error
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return None
    method, params, rid = request["method"], request.get("params"), request.get("id")
    if not isinstance(rid, str | int) or isinstance(rid, bool):
        rid = None
    if method == "ListTasks" and isinstance(params, dict) and "status" in params:
        status = params["status"]
        names, numbers = a2a.TaskState.DESCRIPTOR.values_by_name, a2a.TaskState.DESCRIPTOR.values_by_number
        if not (status in names if isinstance(status, str) else type(status) is int and status in numbers):
            return rid, f"Invalid params: status {str(status)[:40]!r} is not a TaskState (TASK_STATE_…)"
    if "/" in method:
        return _v03_problem(method, request, rid)
    return None


def _v03_problem(method: str, request: dict[str, Any], rid: Any) -> tuple[Any, str] | None:
    model = JSONRPC03Adapter.METHOD_TO_MODEL.get(method)
    if model is None:
        return None
    try:
        model.model_validate(request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))[:120] or "params"
        return rid, f"Invalid params: {where}: {str(first.get('msg', 'invalid'))[:160]}"
    return None
