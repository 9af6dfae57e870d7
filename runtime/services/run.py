"""Running a service's handler: off the event loop when it is sync, within its timeout, and its output
checked against the output model and the size limit before anything leaves the agent.

The output is returned as canonical JSON (RFC 8785, identity/jcs): the very bytes the seller hashes
into its ledger and delivers, and the buyer hashes again.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.services.errors import ServiceFailed
from runtime.services.service import Service, ServiceContext

__all__ = ["run_service"]


async def run_service(service: Service, value: BaseModel, context: ServiceContext) -> tuple[Any, bytes]:
    """The handler's output for `value` as (JSON data, its canonical bytes). ServiceFailed (`why`:
    raised, timeout, invalid, too_large) with one line when there is no output to deliver."""
    from identity.jcs import canonicalize

    try:
        result = await asyncio.wait_for(_call(service, value, context), timeout=service.timeout)
    except TimeoutError:
        raise ServiceFailed(
            f"{service.name} did not finish within {service.timeout:g}s", why="timeout"
        ) from None
    except Exception as exc:  # a handler is user code: any failure is the service's, reported as such
        detail = " ".join(str(exc).split())[:200]
        raise ServiceFailed(f"{service.name} failed: {type(exc).__name__}: {detail}", why="raised") from None
    try:
        output = result if isinstance(result, service.output) else service.output.model_validate(result)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "output"
        raise ServiceFailed(
            f"{service.name} returned an output not matching its schema: {where}: {first['msg']}",
            why="invalid",
        ) from None
    data = output.model_dump(mode="json")
    try:
        raw = canonicalize(data)
    except (TypeError, ValueError) as exc:  # e.g. an integer JSON cannot carry exactly (over 2**53)
        raise ServiceFailed(f"{service.name}'s output is not plain JSON: {exc}", why="invalid") from None
    if len(raw) > service.max_output:
        raise ServiceFailed(
            f"{service.name}'s output is {len(raw)} bytes, over its limit of {service.max_output}",
            why="too_large",
        )
    return data, raw


async def _call(service: Service, value: BaseModel, context: ServiceContext) -> Any:
    if inspect.iscoroutinefunction(service.handler):
        return await service.handler(value, context)
    # A sync handler may block (CPU, files, a subprocess): a worker thread keeps the agent answering.
    # A timed-out thread cannot be killed; its result is dropped.
    result = await asyncio.to_thread(service.handler, value, context)
    if inspect.isawaitable(result):
        return await result
    return result
