"""Bad input over real HTTP: every answer is a JSON-RPC error (HTTP 200), never a 500; nothing changes but
one `rejected` ledger entry for a refused envelope (none for junk that is not a message); the server keeps
serving."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from identity import IdentityKey, sign_envelope
from identity.keys import b64url
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION
from runtime.a2a.guard import MAX_BODY
from runtime.a2a.handler import Reply, ScriptedHandler
from tests.support.a2a import Agent, make_agent, serving

BUYER = IdentityKey.generate()
V1 = {"A2A-Version": "1.0"}
LONE = "\ud800"  # an unpaired UTF-16 surrogate: JSON can escape it, but it is no Unicode text
LONE_ID = b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "GetTask", "params": {"id": "x"}}'


@pytest.fixture
async def seller(tmp_path: Path) -> AsyncIterator[tuple[Agent, str]]:
    agent = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": Reply("propose", {"price": "10"})}),
                       real_ledger=True)  # fmt: skip
    async with serving(agent) as server:
        yield agent, server.url + "/"
    agent.close()


def rpc(method: str, params: Any, rid: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def message(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": list(parts),
                        "extensions": [NEGOTIATION_EXTENSION]}}  # fmt: skip


def carrying(jws: Any) -> dict[str, Any]:
    return rpc("SendMessage", message({"data": {ENVELOPE_KEY: jws}}))


def cfp(to: str, thid: str = "t1", type: str = "cfp", **kw: Any) -> str:
    return sign_envelope(BUYER, type=type, thid=thid, to=to, body={"item": "x"}, **kw)


def signed_raw(to: str, **fields: Any) -> str:
    """An envelope signed by BUYER over payload text we write ourselves: `json.dumps` escapes a lone
    surrogate as `\\ud800`, which `sign_envelope` (rightly) refuses to produce, but a peer can."""
    now = int(time.time())
    payload = {"type": "cfp", "thid": "t1", "from": BUYER.did, "to": to, "iat": now, "exp": now + 60,
               "nonce": uuid.uuid4().hex, "body": {"item": "x"}, **fields}  # fmt: skip
    header = {"alg": "EdDSA", "kid": BUYER.verification_method, "typ": "sova-envelope"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}".encode()
    return f"{signing_input.decode()}.{b64url(BUYER.sign(signing_input))}"


def lone_text() -> bytes:
    """A SendMessage whose text part is a lone surrogate (json.dumps escapes it as \\ud800)."""
    return json.dumps(rpc("SendMessage", message({"text": LONE}))).encode()


def snapshot(agent: Agent) -> tuple[list[str], list[Any]]:
    return agent.ledger_kinds(), agent.negotiator.threads.all()


async def still_serves(agent: Agent, url: str) -> None:
    async with httpx.AsyncClient(headers=V1) as http:
        answer = (await http.post(url, json=carrying(cfp(agent.did, thid=uuid.uuid4().hex)))).json()
    assert answer["result"]["message"]["parts"][0]["data"] == {"sova_status": "accepted"}


def answer_is_media_type(kw: dict[str, Any]) -> bool:
    return "json" not in kw and "json" not in str(kw.get("headers", {}).get("content-type", ""))


async def post(url: str, **kw: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(url, **kw)
    # 415 for a body that is not JSON (A2A TCK: -32005 or HTTP 415), 200 for every JSON-RPC error
    assert response.status_code == (415 if answer_is_media_type(kw) else 200), response.text
    answer: dict[str, Any] = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert "result" not in answer
    return answer


JSON = {"content-type": "application/json", **V1}


async def chunks(size: int) -> AsyncIterator[bytes]:
    yield b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"x": "'
    for _ in range(size // 4096):
        yield b"a" * 4096
    yield b'"}}'


JUNK: dict[str, tuple[Callable[[], dict[str, Any]], int]] = {
    "malformed JSON": (lambda: {"content": b'{"jsonrpc": "2.0", "method": ', "headers": JSON}, -32700),
    "unknown method": (lambda: {"json": rpc("FlyToTheMoon", {}), "headers": V1}, -32601),
    "huge body": (lambda: {"content": b"[" + b"1," * MAX_BODY + b"1]", "headers": JSON}, -32600),
    "huge chunked body": (lambda: {"content": chunks(2 * MAX_BODY), "headers": JSON}, -32600),
    "wrong content type": (lambda: {"content": b"{}", "headers": {"content-type": "text/plain"}}, -32005),
    "no content type": (lambda: {"content": b'{"jsonrpc": "2.0"}'}, -32005),
    "deep nesting": (lambda: {"content": b"[" * 5000 + b"]" * 5000, "headers": JSON}, -32600),
    "batch": (lambda: {"json": [rpc("GetTask", {"id": "x"})], "headers": V1}, -32600),
    "not an object": (lambda: {"json": 42, "headers": V1}, -32600),
    "no version header": (lambda: {"json": rpc("SendMessage", message({"text": "hi"}))}, -32009),
    "params not an object": (lambda: {"json": rpc("SendMessage", [1, 2]), "headers": V1}, -32602),
    "no message": (lambda: {"json": rpc("SendMessage", {}), "headers": V1}, -32602),
    "bad role": (lambda: {"json": rpc("SendMessage", {"message": {"role": 7.5}}), "headers": V1}, -32602),
    # Was HTTP 500: Starlette could not encode the id when echoing it back.
    "lone surrogate in the id": (lambda: {"content": LONE_ID, "headers": JSON}, -32600),
    "lone surrogate in a text part": (lambda: {"content": lone_text(), "headers": JSON}, -32600),
}  # fmt: skip


@pytest.mark.parametrize("case", list(JUNK))
async def test_junk_gets_a_json_rpc_error_and_writes_nothing(seller: tuple[Agent, str], case: str) -> None:
    agent, url = seller
    before = snapshot(agent)
    request, code = JUNK[case]
    answer = await post(url, **request())
    assert answer["error"]["code"] == code, answer
    assert snapshot(agent) == before
    await still_serves(agent, url)


ENVELOPES: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "data part without an envelope": (lambda did: rpc("SendMessage", message({"data": {"type": "cfp"}})),
                                      "unsigned"),
    "envelope that is not a string": (lambda did: carrying(12), "unsigned"),
    "two envelopes": (lambda did: rpc("SendMessage", message(*[{"data": {ENVELOPE_KEY: cfp(did)}}] * 2)),
                      "malformed"),
    "garbage envelope": (lambda did: carrying("eyJ.garbage.x"), "malformed"),
    "forged signature": (lambda did: carrying(cfp(did)[:-4] + "AAAA"), "bad_signature"),
    "misaddressed": (lambda did: carrying(cfp(IdentityKey.generate().did)), "wrong_recipient"),
    "expired": (lambda did: carrying(cfp(did, now=time.time() - 7200, ttl=60)), "expired"),
    "issued in the future": (lambda did: carrying(cfp(did, now=time.time() + 3600)), "not_yet_valid"),
    "out of order": (lambda did: carrying(cfp(did, type="funded")), "out_of_order"),
    "unknown type": (lambda did: carrying(cfp(did, type="gimme")), "unknown_type"),
    # Each was -32603 (the `rejected` entry naming the string could not be written).
    "lone surrogate in thid": (lambda did: carrying(signed_raw(did, thid=LONE)), "malformed"),
    "lone surrogate in from": (lambda did: carrying(signed_raw(did, **{"from": LONE})), "malformed"),
    "lone surrogate in to": (lambda did: carrying(signed_raw(did + LONE)), "malformed"),
    "lone surrogate in the body": (lambda did: carrying(signed_raw(did, body={"item": LONE})), "malformed"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ENVELOPES))
async def test_a_refused_envelope_writes_only_rejected(seller: tuple[Agent, str], case: str) -> None:
    agent, url = seller
    kinds, threads = snapshot(agent)
    request, reason = ENVELOPES[case]
    answer = await post(url, json=request(agent.did), headers=V1)
    assert answer["error"]["code"] == -32602
    metadata = answer["error"]["data"][0]["metadata"]
    assert metadata == {"sova_reason": reason}
    assert snapshot(agent) == ([*kinds, "rejected"], threads)
    assert agent.real_ledger is not None
    assert agent.real_ledger.last().data["reason"] == reason
    await still_serves(agent, url)


async def test_a_replayed_envelope_is_refused_and_changes_nothing(seller: tuple[Agent, str]) -> None:
    agent, url = seller
    jws = cfp(agent.did, thid="replay-me")
    await post_ok(url, carrying(jws))
    kinds, threads = snapshot(agent)
    answer = await post(url, json=carrying(jws), headers=V1)
    assert answer["error"]["data"][0]["metadata"] == {"sova_reason": "replayed"}
    assert snapshot(agent) == ([*kinds, "rejected"], threads)


async def post_ok(url: str, request: dict[str, Any]) -> None:
    async with httpx.AsyncClient(headers=V1) as http:
        assert "result" in (await http.post(url, json=request)).json()


async def test_a_plain_text_message_gets_a_polite_answer_not_an_error(seller: tuple[Agent, str]) -> None:
    agent, url = seller
    before = snapshot(agent)
    request = rpc(
        "SendMessage", {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    )
    async with httpx.AsyncClient(headers=V1) as http:
        answer = (await http.post(url, json=request)).json()
    assert NEGOTIATION_EXTENSION in answer["result"]["message"]["parts"][0]["text"]
    assert snapshot(agent) == before


async def test_get_on_the_endpoint_and_other_paths_are_not_500(seller: tuple[Agent, str]) -> None:
    _, url = seller
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 405
        assert (await http.get(url + "nothing-here")).status_code == 404
        assert (await http.post(url + "nothing-here", json={})).status_code == 404
