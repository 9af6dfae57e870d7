"""The buyer's check of a delivered service output, before it releases anything: the delivery names
this thread's deal, carries an output within the size limit whose hash is the one it states, and the
output validates against the output JSON Schema of the seller's signed card (jsonschema, the dialect
the schema names; pydantic writes 2020-12). Then the buyer's own check, when it has one for the
service (`Accept`, a buy goal's `accept`): anything but True, a raise or no answer in ACCEPT_TIMEOUT
is a refusal, and the deal is disputed like an output off its schema."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from runtime.negotiation.deals import DealRecord
from runtime.negotiation.terms import canonical, payload_hash

__all__ = ["ACCEPT_TIMEOUT", "MAX_OUTPUT", "Accept", "accept_problem", "check_delivery"]

Accept = Callable[[Any, Any], Any]
"""A buyer's own check of a service's output, after the schema check: (input, output) -> True to
release; sync (run on a worker thread) or async."""
ACCEPT_TIMEOUT: Final = 30.0
"""Seconds an accept check may take; past them the output is refused."""

_VALIDATORS: Final = 64
"""Checked schemas kept compiled: checking a schema and building its validator costs ~1 ms, the
validation itself tens of microseconds, and a buyer meets the same few schemas over and over."""

MAX_OUTPUT: Final = 1024 * 1024
"""Bytes of canonical JSON a buyer takes as an output (the A2A guard caps a message's body too)."""


def check_delivery(
    record: DealRecord, body: Mapping[str, Any], schema: Mapping[str, Any] | None, max_bytes: int = MAX_OUTPUT
) -> tuple[Any, bytes]:
    """The delivered output and its canonical bytes; ValueError with one line when it is not one to pay
    for."""
    deal_id = str(body.get("deal_id", ""))
    if deal_id.lower() != record.deal_id.lower():
        raise ValueError(
            f"the delivery names deal {deal_id[:80] or '(none)'}, this thread's deal is {record.deal_id}"
        )
    if "output" not in body:
        raise ValueError("the delivery carries no output")
    output = body["output"]
    raw = canonical(output)
    if len(raw) > max_bytes:
        raise ValueError(f"the output is {len(raw)} bytes, over the {max_bytes} this buyer takes")
    digest, stated = payload_hash(raw), str(body.get("output_hash", ""))
    if stated.lower() != digest:
        raise ValueError(f"the output hashes to {digest}, the delivery says {stated[:80] or '(nothing)'}")
    if not schema:
        raise ValueError(
            f"the seller's card gives no output schema for {record.item!r}: nothing to check against"
        )
    problem = _schema_problem(dict(schema), output)
    if problem is not None:
        raise ValueError(f"the output does not match {record.item}'s output schema: {problem}")
    return output, raw


def _schema_problem(schema: dict[str, Any], output: Any) -> str | None:
    import jsonschema  # loaded on the first delivery, not at the agent's start

    try:
        validator = _validator(canonical(schema))
    except jsonschema.SchemaError as exc:
        return f"the schema itself is invalid ({exc.message[:200]})"
    error = jsonschema.exceptions.best_match(validator.iter_errors(output))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "output"
    return f"{where}: {error.message[:200]}"


@lru_cache(maxsize=_VALIDATORS)
def _validator(schema: bytes) -> Any:
    """The validator of the JSON Schema `schema` (JCS bytes); jsonschema.SchemaError when it is invalid."""
    import jsonschema

    data = json.loads(schema)
    cls = jsonschema.validators.validator_for(data)
    cls.check_schema(data)
    return cls(data)


async def accept_problem(
    check: Accept | None, data: Any, output: Any, limit: float = ACCEPT_TIMEOUT
) -> str | None:
    """Why the buyer's `check` refuses `output` for `data` (one line), or None when it accepts or there
    is no check (`limit`: the seconds it may take). The check is user code: whatever it raises is a
    refusal, never a crash."""
    if check is None:
        return None
    name = getattr(check, "__qualname__", type(check).__name__)
    try:
        if inspect.iscoroutinefunction(check):
            verdict = await asyncio.wait_for(check(data, output), limit)
        else:
            verdict = await asyncio.wait_for(asyncio.to_thread(check, data, output), limit)
            if inspect.isawaitable(verdict):
                verdict = await asyncio.wait_for(verdict, limit)
    except TimeoutError:
        return f"the buyer's accept check {name} gave no answer within {limit:g}s"
    except Exception as exc:  # user code
        detail = " ".join(str(exc).split())[:200]
        return f"the buyer's accept check {name} failed: {type(exc).__name__}: {detail}"
    if verdict is not True:
        return f"the buyer's accept check {name} refused the output (it returned {_shown(verdict)})"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"
