"""What the messenger (runtime/a2a_client.py) does with a hostile peer's HTTP answer: a body nested too
deep for the parser or too large to hold is one `unreachable` ProtocolError and a `message_failed`
entry, never a crash, and the thread does not move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from a2a_helpers import make_agent, messenger

from runtime.a2a_client import MAX_ANSWER
from runtime.protocol import ProtocolError


@asynccontextmanager
async def peer_answering(body: bytes) -> AsyncIterator[str]:
    """A raw HTTP server on 127.0.0.1 that answers every request with `body` (JSON content type)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "nested"),
        (b'{"result": "' + b"x" * (MAX_ANSWER + 10) + b'"}', "over"),
    ],
    ids=["deeply_nested", "oversized"],
)
async def test_a_hostile_answer_is_unreachable_not_a_crash(tmp_path: Path, body: bytes, why: str) -> None:
    buyer, seller = make_agent(tmp_path, "buyer"), make_agent(tmp_path, "seller")
    try:
        async with peer_answering(body) as url, messenger(buyer) as m:
            with pytest.raises(ProtocolError, match=why) as raised:
                await m.deliver(url, seller.did, "cfp", "t1", {"item": "compute"})
        assert raised.value.reason == "unreachable"
        assert buyer.ledger_kinds() == ["message_out", "message_failed"]
        assert buyer.negotiator.thread(seller.did, "t1") is None
    finally:
        buyer.close()
        seller.close()
