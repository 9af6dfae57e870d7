"""Running a handler: async or sync (off the event loop), within its timeout and output limit."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from identity.jcs import canonicalize
from runtime.services import ServiceContext, ServiceFailed, Services, run_service


class Text(BaseModel):
    text: str


class Count(BaseModel):
    words: int


def context(tmp_path: Path) -> ServiceContext:
    return ServiceContext(agent_name="seller", agent_did="did:key:z6Mk", scratch=tmp_path)


async def test_an_async_handler_output_comes_back_as_data_and_its_canonical_bytes(tmp_path: Path) -> None:
    services = Services()

    @services.service("wc", input=Text, output=Count, price="1")
    async def wc(text: Text, ctx: ServiceContext) -> Count:
        return Count(words=len(text.text.split()))

    service = services.get("wc")
    assert service is not None
    data, raw = await run_service(service, Text(text="a b c"), context(tmp_path))
    assert data == {"words": 3}
    assert raw == canonicalize({"words": 3})


async def test_a_sync_handler_runs_off_the_event_loop_and_may_return_a_dict(tmp_path: Path) -> None:
    services, seen = Services(), []

    @services.service("wc", input=Text, output=Count, price="1")
    def wc(text: Text, ctx: ServiceContext) -> dict[str, int]:
        seen.append(threading.current_thread())
        return {"words": 2}

    service = services.get("wc")
    assert service is not None
    data, _ = await run_service(service, Text(text="a b"), context(tmp_path))
    assert data == {"words": 2}
    assert seen
    assert seen[0] is not threading.main_thread()


@pytest.mark.parametrize(
    ("why", "message"),
    [
        ("raised", "wc failed: RuntimeError: disk full"),
        ("timeout", "wc did not finish within 0.05s"),
        ("invalid", "wc returned an output not matching its schema: words:"),
        ("too_large", "wc's output is 26 bytes, over its limit of 16"),
    ],
)
async def test_a_handler_without_a_deliverable_output_fails_with_one_line(
    tmp_path: Path, why: str, message: str
) -> None:
    services = Services()

    @services.service("wc", input=Text, output=Count, price="1", timeout=0.05, max_output=16)
    async def wc(text: Text, ctx: ServiceContext) -> object:
        if why == "raised":
            raise RuntimeError("disk\nfull")
        if why == "timeout":
            await asyncio.sleep(5)
        if why == "invalid":
            return {"words": "many"}
        return {"words": 10**15}

    service = services.get("wc")
    assert service is not None
    with pytest.raises(ServiceFailed) as caught:
        await run_service(service, Text(text="a"), context(tmp_path))
    assert caught.value.why == why
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)
