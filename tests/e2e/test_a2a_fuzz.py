"""Property-based fuzzing of the A2A endpoint: random bytes, random JSON-RPC shapes, random envelopes.

The loop drives the ASGI app in memory (httpx.ASGITransport) for speed; the last test replays a sample
of the same inputs over real HTTP to a uvicorn server. Properties: every answer is HTTP 200 with a
JSON-RPC 2.0 body, never an internal error; the server keeps serving; junk changes nothing but
`rejected` ledger entries; an envelope is accepted exactly when the state machine says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity import IdentityKey, sign_envelope
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION, AgentProfile, signed_card
from runtime.a2a.handler import ScriptedHandler
from runtime.a2a.server import create_app
from runtime.a2a.threads import MESSAGE_TYPES, OutOfOrder, ThreadState, advance
from tests.support.a2a import Agent, make_agent, serving

# SOVA_FUZZ_EXAMPLES=2000 for a longer hunt (about a minute).
SETTINGS = settings(
    max_examples=int(os.environ.get("SOVA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
METHODS = ["SendMessage", "GetTask", "ListTasks", "CancelTask", "SendStreamingMessage", "message/send",
           "tasks/get", "tasks/cancel", "GetExtendedAgentCard", "", "rpc.discover"]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
parts = st.one_of(
    st.fixed_dictionaries({"text": st.text(max_size=30)}),
    st.fixed_dictionaries({"data": json_values}),
    st.fixed_dictionaries(
        {"data": st.fixed_dictionaries({ENVELOPE_KEY: json_values | st.text(max_size=200)})}
    ),
    st.dictionaries(
        st.sampled_from(["text", "data", "url", "raw", "kind", "mediaType"]), json_values, max_size=3
    ),
)
messages = st.fixed_dictionaries(
    {"messageId": st.text(max_size=8), "role": st.sampled_from(["ROLE_USER", "ROLE_AGENT", "user", 3, None]),
     "parts": st.lists(parts, max_size=3)},
    optional={"extensions": st.lists(st.sampled_from([NEGOTIATION_EXTENSION, "x"]), max_size=2),
              "contextId": json_values, "kind": st.sampled_from(["message", "task"])},
)  # fmt: skip
rpc_shapes = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", None]),
     "method": st.sampled_from(METHODS) | st.text(max_size=10)},
    optional={"id": json_values,
              "params": st.one_of(json_values, st.fixed_dictionaries({"message": messages}))},
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=300),
    rpc_shapes.map(lambda r: json.dumps(r).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, Agent, httpx.AsyncClient]]:
    agent = make_agent(tmp_path, "seller", ScriptedHandler())
    agent.negotiator.log.max_rejected_per_minute = 10**9
    key = agent.key
    card = signed_card(
        AgentProfile(name="seller", url="http://test", did=key.did, wallet="0x" + "ab" * 20), key
    )
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(agent.negotiator, card)),
                               base_url="http://test")  # fmt: skip
    yield loop, agent, client
    loop.run_until_complete(client.aclose())
    loop.close()
    agent.close()


def call(
    loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, body: bytes, version: bool
) -> dict[str, Any]:
    headers = {"content-type": "application/json", **({"A2A-Version": "1.0"} if version else {})}
    response = loop.run_until_complete(client.post("/", content=body, headers=headers))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer.get("jsonrpc") == "2.0"
    assert ("result" in answer) != ("error" in answer)
    if "error" in answer:
        assert isinstance(answer["error"]["code"], int)
        assert answer["error"]["code"] != -32603, answer  # an internal error means something crashed
    return answer


@SETTINGS
@given(body=bodies, version=st.booleans())
def test_random_bodies_get_json_rpc_answers_and_change_no_state(rig: Any, body: bytes, version: bool) -> None:
    loop, agent, client = rig
    call(loop, client, body, version)
    assert agent.negotiator.threads.all() == []
    assert set(agent.ledger.kinds()) <= {"rejected"}
    assert agent.handler.received == []


KEYS = [IdentityKey.generate(), IdentityKey.generate()]
envelopes = st.fixed_dictionaries(
    {"key": st.sampled_from([0, 1]), "type": st.sampled_from([*MESSAGE_TYPES, "bogus"]),
     "thid": st.sampled_from(["a", "b"]), "to_seller": st.booleans(),
     "skew": st.sampled_from([0, 0, 0, -7200, 3600]),
     "body": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
     "mutate": st.sampled_from([None, None, "signature", "payload", "header", "truncate"])},
)  # fmt: skip


def build(spec: dict[str, Any], seller: str) -> str:
    to = seller if spec["to_seller"] else KEYS[1 - spec["key"]].did
    try:
        jws = sign_envelope(KEYS[spec["key"]], type=spec["type"], thid=spec["thid"], to=to, body=spec["body"],
                            now=time.time() + spec["skew"], ttl=60)  # fmt: skip
    except ValueError:  # a body JSON cannot carry exactly (a huge integer): send junk instead
        return "x.y.z"
    head, payload, sig = jws.split(".")
    match spec["mutate"]:
        case "signature":
            return f"{head}.{payload}.{sig[::-1]}"
        case "payload":
            return f"{head}.{payload[:-2]}{'AB' if payload[-2:] != 'AB' else 'CD'}.{sig}"
        case "header":
            return f"{payload}.{payload}.{sig}"
        case "truncate":
            return jws[: len(jws) // 2]
    return jws


@SETTINGS
@given(specs=st.lists(envelopes, min_size=1, max_size=12))
def test_random_envelopes_are_accepted_exactly_when_the_state_machine_allows(
    rig: Any, specs: list[Any]
) -> None:
    loop, agent, client = rig
    model: dict[tuple[str, str], ThreadState] = {
        (t.peer, t.thid): t for t in agent.negotiator.threads.all()
    }  # threads left by earlier examples
    for spec in specs:
        kinds_before = agent.ledger.kinds()
        jws = build(spec, agent.did)
        message = {"messageId": "m", "role": "ROLE_USER", "extensions": [NEGOTIATION_EXTENSION],
                   "parts": [{"data": {ENVELOPE_KEY: jws}}]}  # fmt: skip
        request = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
        answer = call(loop, client, json.dumps(request).encode(), True)
        sender = KEYS[spec["key"]].did
        valid = (spec["mutate"] is None and spec["to_seller"] and spec["skew"] == 0 and jws != "x.y.z"
                 and isinstance(spec["body"], dict))  # fmt: skip
        expected = None
        if valid:
            try:
                expected = advance(model.get((sender, spec["thid"])), peer=sender, thid=spec["thid"],
                                   type=spec["type"], by_us=False)  # fmt: skip
            except OutOfOrder:
                expected = None
        if expected is not None and "result" in answer:
            model[(sender, spec["thid"])] = expected
            assert agent.ledger.kinds() == [*kinds_before, "message_in"]
        else:
            # Refused: either invalid, out of order, or a replay of an identical earlier envelope.
            assert "error" in answer, (spec, answer)
            assert answer["error"]["code"] == -32602
            assert agent.ledger.kinds() == [*kinds_before, "rejected"]
        actual = {(t.peer, t.thid): (t.state, t.offer_by, t.signed) for t in agent.negotiator.threads.all()}
        assert actual == {k: (t.state, t.offer_by, t.signed) for k, t in model.items()}


async def test_the_real_server_survives_a_burst_of_fuzz_and_still_negotiates(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, "seller", ScriptedHandler())
    agent.negotiator.log.max_rejected_per_minute = 10**9
    samples = _samples()
    try:
        async with serving(agent) as server, httpx.AsyncClient() as http:
            for body in samples:
                headers = {"content-type": "application/json", "A2A-Version": "1.0"}
                response = await http.post(server.url + "/", content=body, headers=headers)
                assert response.status_code == 200
                assert response.json()["jsonrpc"] == "2.0"
            ok = sign_envelope(KEYS[0], type="cfp", thid="after", to=agent.did, body={})
            request = {"jsonrpc": "2.0", "id": 2, "method": "SendMessage",
                       "params": {"message": {"messageId": "m", "role": "ROLE_USER",
                                              "parts": [{"data": {ENVELOPE_KEY: ok}}]}}}  # fmt: skip
            answer = (await http.post(server.url + "/", json=request, headers={"A2A-Version": "1.0"})).json()
            assert answer["result"]["message"]["parts"][0]["data"] == {"sova_status": "accepted"}
        assert [t.thid for t in agent.negotiator.threads.all()] == ["after"]
        assert set(agent.ledger.kinds()) <= {"rejected", "message_in"}
    finally:
        agent.close()


def _samples() -> list[bytes]:
    """A fixed-seed sample of junk: random bytes, JSON-RPC shapes with bogus envelopes, deep nesting."""
    rng = random.Random(5)
    out = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200))) for _ in range(20)]
    out += [json.dumps({"jsonrpc": "2.0", "id": i, "method": rng.choice(METHODS),
                        "params": {"message": {"parts": [{"data": {ENVELOPE_KEY: "a.b.c" * i}}]}}}).encode()
            for i in range(20)]  # fmt: skip
    out += [
        b"[" * 100 + b"]" * 100,
        b"{" * 70,
        b'{"jsonrpc": "2.0", "method": "SendMessage", "params": null}',
    ]
    return out
