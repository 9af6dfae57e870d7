"""The buyer's check of a delivered service output, before it releases anything: the delivery names
this thread's deal, carries an output within the size limit whose hash is the one it states, and the
output validates against the output JSON Schema of the seller's signed card (jsonschema, the dialect
the schema names; pydantic writes 2020-12)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from runtime.negotiation.deals import DealRecord
from runtime.negotiation.terms import canonical, payload_hash

__all__ = ["MAX_OUTPUT", "check_delivery"]

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
