"""The messenger (runtime/a2a/client.py): a hostile peer's HTTP answer (nested too deep for the parser,
too large to hold) is one `unreachable` ProtocolError and a `message_failed` entry, never a crash, and the
thread does not move; a verified card is reused within its TTL and fetched again after it, or after the
peer failed a delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from a2a.server.request_handlers.response_helpers import agent_card_to_dict

from identity import IdentityKey
from runtime.a2a.card import AgentProfile, signed_card
from runtime.a2a.client import MAX_ANSWER, A2AMessenger
from runtime.a2a.protocol import ProtocolError
from tests.support.a2a import make_agent, messenger


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


KEY = IdentityKey.generate()
PROFILE = AgentProfile(name="seller", url="http://seller.test/", did=KEY.did, wallet="0x" + "ab" * 20)


def _card_server(seen: list[str]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "GET":
            return httpx.Response(200, json=agent_card_to_dict(signed_card(PROFILE, KEY)))
        return httpx.Response(503)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_card_is_fetched_once_within_its_ttl_and_again_after(tmp_path: Path) -> None:
    buyer = make_agent(tmp_path, "buyer")
    seen: list[str] = []
    try:
        async with _card_server(seen) as http:
            m = A2AMessenger(buyer.negotiator, http=http, card_ttl=0.3)
            cards = [await m.connect("http://seller.test/") for _ in range(3)]
            assert seen == ["GET"]
            assert {c.did for c in cards} == {KEY.did}
            await asyncio.sleep(0.35)
            await m.connect("http://seller.test/")
            assert seen == ["GET", "GET"]
            await m.connect("http://seller.test/", fresh=True)
            assert seen == ["GET", "GET", "GET"]
            await m.close()
    finally:
        buyer.close()


async def test_a_peer_that_fails_a_delivery_has_its_card_fetched_again(tmp_path: Path) -> None:
    buyer = make_agent(tmp_path, "buyer")
    seen: list[str] = []
    try:
        async with _card_server(seen) as http, peer_answering(b"{}") as url:
            m = A2AMessenger(buyer.negotiator, http=http)
            await m.connect("http://seller.test/")
            m.endpoints[KEY.did] = url  # its messages go to a peer that answers no JSON-RPC result
            with pytest.raises(ProtocolError):
                await m.send(KEY.did, "cfp", "t1", {"item": "compute"})
            await m.connect("http://seller.test/")
            assert seen == ["GET", "GET"]
            await m.close()
    finally:
        buyer.close()
