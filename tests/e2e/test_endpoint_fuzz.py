"""A bounded fuzz of every HTTP endpoint an agent or the fleet serves, over real HTTP on loopback:
the A2A endpoint, the operator API, and the console in front of it (with that agent serving).

Requests mix methods (HEAD and OPTIONS included), known and mangled paths, query strings, headers
and bodies: random bytes, JSON-RPC and operator-shaped JSON whose values are swapped for hostile
ones (lone surrogate escapes, 400-digit numbers, 1e400, NaN, NUL, deep nesting, wrong types, signed
envelopes carrying them). Properties: no answer is a 5xx, and afterwards each agent is alive and
does its work (the seller accepts a fresh call for proposals, the operator can pause and resume, the
ledgers verify). Bounded: a fixed seed, at most REQUESTS per endpoint and SECONDS of wall time
(SOVA_FUZZ_REQUESTS raises the count for a longer hunt).
"""

from __future__ import annotations

import json
import os
import random
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
from runtime.a2a.handler import Reply, ScriptedHandler
from runtime.config import AgentsFile
from runtime.fleet.console_fleet import ConsoleFleet
from runtime.fleet.console_server import ConsoleThread, build_app
from runtime.home import Home
from runtime.ledger.verify import verify_ledger
from runtime.operator.token import ensure_token
from tests.support.a2a import make_agent, serving
from tests.support.executor import make_rig
from tests.support.operator import POLICY, serve

pytestmark = pytest.mark.slow

REQUESTS = int(os.environ.get("SOVA_FUZZ_REQUESTS", "250"))
SECONDS = 40.0
BUYER = IdentityKey.generate()
METHODS = ["POST"] * 6 + ["GET"] * 2 + ["HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]
# Raw JSON texts (spliced into bodies as they are): what broke something once, or could.
HOSTILE = [
    '"\\ud800"', '"\\udfff"', '"a\\ud83d"', '"\\ud83d\\ude00"', '"\\\\ud800"', '"\\u0000"', '""',
    '"' + "x" * 3000 + '"',
    "1e400", "-1e400", "1e999999", "NaN", "Infinity", "-0", "9" * 400, "-" + "9" * 80, "0.1", "true", "null",
    "[]", "{}", "[" * 63 + "]" * 63, "[" * 65 + "]" * 65, '"1e400"', '"٣٠"', '"12.1234567"', '"-5"',
    '{"__proto__": 1}', '"did:key:z6Mk\\ud800"', '"../../etc/passwd"', '"%00"', '"<script>x</script>"',
]  # fmt: skip
PATH_JUNK = ["%ED%A0%80", "%00", "..", "%2e%2e", "x" * 300, "%FF%FE", "\u00e9", ";", "a%2Fb", "~"]


class Fuzzer:
    """Random requests from a fixed seed: paths and body templates given, values swapped for HOSTILE."""

    def __init__(self, seed: int, paths: list[str], templates: list[Callable[[], Any]]) -> None:
        self.rng = random.Random(seed)
        self.paths = paths
        self.templates = templates

    def path(self) -> str:
        path = self.rng.choice(self.paths)
        roll = self.rng.random()
        if roll < 0.15:
            path = path.rstrip("/") + "/" + self.rng.choice(PATH_JUNK)
        elif roll < 0.25:
            cut = self.rng.randrange(1, max(2, len(path)))
            path = path[:cut] + self.rng.choice(PATH_JUNK) + path[cut:]
        if self.rng.random() < 0.3:
            key = self.rng.choice(["after", "limit", "x", "token", "after"])
            path += f"?{key}={self.rng.choice(['-1', '0', '1e400', '9' * 50, '%ED%A0%80', '', 'abc', '3'])}"
        return path if path.startswith("/") else "/" + path

    def body(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.1:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randrange(0, 200)))
        if roll < 0.15:
            return b""
        text = json.dumps(self.rng.choice(self.templates)())
        # Swap one to three JSON values (strings, numbers, literals) for hostile raw JSON text.
        for _ in range(self.rng.randrange(1, 4)):
            text = self._swap(text)
        return text.encode("utf-8", "surrogatepass")

    def _swap(self, text: str) -> str:
        # After `:` (an object's value) or `[` (a list's first item): a value starts there, not a key.
        spots = [i for i, c in enumerate(text) if c in ":[" and i + 1 < len(text)]
        if not spots:
            return text
        at = self.rng.choice(spots) + 1
        end = _value_end(text, at)
        return text[:at] + " " + self.rng.choice(HOSTILE) + text[end:]

    def headers(self, base: dict[str, str]) -> dict[str, str | bytes]:
        headers: dict[str, str | bytes] = dict(base)
        ctype = self.rng.choice(
            ["application/json"] * 5
            + ["application/a2a+json", "text/plain", "", "application/json; charset=latin-1"]
        )
        if ctype:
            headers["content-type"] = ctype
        if self.rng.random() < 0.1:
            headers["Last-Event-ID"] = self.rng.choice(["-1", "abc", "9" * 40])
        if self.rng.random() < 0.1:
            headers["A2A-Version"] = self.rng.choice([b"0.3", b"9.9", b"", b"1.0\xe9"])
        return headers


def _value_end(text: str, at: int) -> int:
    """Where the JSON value starting at `text[at:]` (after blanks) ends; nested values end at their
    closing bracket, which is good enough to splice something else in its place."""
    i = at
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == '"':
        j = i + 1
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return min(j + 1, len(text))
    if i < len(text) and text[i] in "[{":
        depth, j, in_string = 0, i, False
        while j < len(text):
            c = text[j]
            if in_string:
                j += 1 if c != "\\" else 2
                in_string = c != '"'
                continue
            if c == '"':
                in_string = True
            elif c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return len(text)
    j = i
    while j < len(text) and text[j] not in ",]}":
        j += 1
    return j


async def hammer(client: httpx.AsyncClient, fuzz: Fuzzer, base_headers: dict[str, str]) -> list[str]:
    """Send up to REQUESTS fuzzed requests (SECONDS at most); the 5xx answers, as lines."""
    deadline = time.monotonic() + SECONDS
    bad: list[str] = []
    for _ in range(REQUESTS):
        if time.monotonic() > deadline:
            break
        method, path = fuzz.rng.choice(METHODS), fuzz.path()
        body = fuzz.body() if method in ("POST", "PUT", "PATCH") else b""
        headers = fuzz.headers(base_headers)
        if method == "GET" and path.split("?")[0].endswith("/events"):
            # A good stream never ends: its status and headers are the answer.
            async with client.stream(method, path, headers=headers) as response:
                status = response.status_code
        else:
            status = (await client.request(method, path, content=body, headers=headers)).status_code
        if status >= 500:
            bad.append(f"{status} {method} {path[:80]} {body[:120]!r}")
    return bad


# --- the A2A endpoint ------------------------------------------------------------------------------


def envelope(to: str, rng: random.Random) -> str:
    """A signed envelope: sometimes well formed, mostly with a field swapped for a hostile value
    (signed all the same, as a peer that means harm would)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "type": rng.choice(["cfp", "propose", "accept", "bogus"]), "thid": uuid.uuid4().hex,
        "from": BUYER.did, "to": to, "iat": now, "exp": now + 60, "nonce": uuid.uuid4().hex,
        "body": {"item": "x", "price": "10"},
    }  # fmt: skip
    if rng.random() < 0.2:
        return sign_envelope(BUYER, type="cfp", thid=payload["thid"], to=to, body=payload["body"])
    text = json.dumps(payload)
    field = rng.choice(list(payload))
    start = text.index(f'"{field}": ') + len(f'"{field}": ')
    text = text[:start] + rng.choice(HOSTILE) + text[_value_end(text, start) :]
    header = {"alg": "EdDSA", "kid": BUYER.verification_method, "typ": "sova-envelope"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(text.encode('utf-8', 'surrogatepass'))}"
    return f"{signing_input}.{b64url(BUYER.sign(signing_input.encode()))}"


def a2a_templates(did: str, rng: random.Random) -> list[Callable[[], Any]]:
    def rpc(method: str, params: Any) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": rng.choice([1, "x", None]), "method": method, "params": params}

    def send() -> dict[str, Any]:
        part = rng.choice([{"text": "hi"}, {"data": {ENVELOPE_KEY: envelope(did, rng)}}, {"data": {"k": 1}}])
        message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [part],
                   "extensions": [NEGOTIATION_EXTENSION]}  # fmt: skip
        return rpc(rng.choice(["SendMessage", "message/send", "SendStreamingMessage"]), {"message": message})

    return [
        send,
        send,
        lambda: rpc(rng.choice(["GetTask", "tasks/get", "CancelTask"]), {"id": "t", "historyLength": 3}),
        lambda: rpc("ListTasks", {"pageSize": 10, "pageToken": "x", "status": "TASK_STATE_WORKING"}),
        lambda: rpc(rng.choice(["GetExtendedAgentCard", "rpc.discover", ""]), {}),
    ]


async def test_a2a_endpoint_answers_any_request_without_5xx_and_keeps_negotiating(tmp_path: Path) -> None:
    seller = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": Reply("propose", {"price": "10"})}),
                        real_ledger=True)  # fmt: skip
    try:
        async with serving(seller) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            rng = random.Random(13)
            paths = ["/", "/", "/", "/.well-known/agent-card.json", "/.well-known/agent.json", "/v1/card"]
            fuzz = Fuzzer(13, paths, a2a_templates(seller.did, rng))
            bad = await hammer(client, fuzz, {"A2A-Version": "1.0"})
            assert bad == [], "\n".join(bad[:10])
            # Alive and still negotiating: a fresh call for proposals gets a signed proposal.
            jws = sign_envelope(BUYER, type="cfp", thid="after-fuzz", to=seller.did, body={"item": "x"})
            message = {"messageId": "m", "role": "ROLE_USER", "parts": [{"data": {ENVELOPE_KEY: jws}}],
                       "extensions": [NEGOTIATION_EXTENSION]}  # fmt: skip
            request = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
            answer = (await client.post("/", json=request, headers={"A2A-Version": "1.0"})).json()
            parts = answer["result"]["message"]["parts"]
            assert parts[0]["data"] == {"sova_status": "accepted"}
            assert len(parts) == 2  # the signed `propose`
        assert seller.real_ledger is not None
        report = verify_ledger(seller.real_ledger.path)
        assert report.ok, report.message()
    finally:
        seller.close()


# --- the operator API and the console in front of it ---------------------------------------------------


def operator_templates(rng: random.Random) -> list[Callable[[], Any]]:
    return [
        lambda: {"text": rng.choice(["status", "budget", "deals", "ledger 5", "help", "approvals", "why?"])},
        lambda: {"reason": "fuzz"},
        lambda: {"signature": "0x" + "ab" * 65, "approver": "0x" + "cd" * 20, "reason": "fuzz"},
        lambda: {"text": ["status"], "reason": {"a": 1}},
    ]


OPERATOR_PATHS = [
    "/v1/status", "/v1/ledger", "/v1/ledger/verify", "/v1/budgets", "/v1/negotiations", "/v1/deals",
    "/v1/approvals", "/v1/approvals/1/approve", "/v1/approvals/x/reject", "/v1/pause", "/v1/resume",
    "/v1/chat", "/v1/events", "/openapi.json", "/docs", "/", "/v2/status",
]  # fmt: skip


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[Any, str, str]]:
    """An agent's operator API (a real executor, ledger and budget) and the console in front of it."""
    home = Home(tmp_path / ".sova")
    token = ensure_token(home)
    with make_rig(tmp_path, POLICY) as rig:
        async with serve(rig, token=token) as api:
            ready = home.ready_file("buyer")
            ready.parent.mkdir(parents=True, exist_ok=True)
            ready.write_text(json.dumps({"pid": os.getpid(), "operator_url": api.url}))
            config = AgentsFile.model_validate(
                {"agents": [{"name": "buyer", "role": "buyer", "policy": "p.yaml"}]}
            )
            app = build_app(ConsoleFleet(config, tmp_path / "agents.yaml", home, token), token)
            console = ConsoleThread(app, "127.0.0.1", 0)
            url = console.start()
            try:
                yield api, url, token
            finally:
                console.stop()


async def test_operator_api_answers_any_request_without_5xx_and_stays_in_control(fleet: Any) -> None:
    api, _, token = fleet
    fuzz = Fuzzer(17, OPERATOR_PATHS, operator_templates(random.Random(17)))
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        bad = await hammer(client, fuzz, {"Authorization": f"Bearer {token}"})
        assert bad == [], "\n".join(bad[:10])
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.post("/v1/pause", json={"reason": "after fuzz"}, headers=auth)).json()["paused"]
        assert api.rig.executor.paused
        assert (await client.post("/v1/resume", headers=auth)).json()["paused"] is False
        assert (await client.get("/v1/status", headers=auth)).status_code == 200
        assert (await client.get("/v1/ledger/verify", headers=auth)).json()["ok"] is True


async def test_console_answers_any_request_without_5xx_and_still_reaches_the_agent(fleet: Any) -> None:
    _, url, token = fleet
    paths = ["/", "/static/app.js", "/static/nothing.css", "/api", "/api/agents", "/api/agents/nobody/status"]
    paths += ["/api/agents/buyer" + p.removeprefix("/v1") for p in OPERATOR_PATHS if p.startswith("/v1/")]
    fuzz = Fuzzer(19, paths, operator_templates(random.Random(19)))
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        bad = await hammer(client, fuzz, {"Authorization": f"Bearer {token}"})
        assert bad == [], "\n".join(bad[:10])
        agents = (await client.get("/api/agents", headers={"Authorization": f"Bearer {token}"})).json()[
            "agents"
        ]
    assert [(a["name"], a["state"]) for a in agents] == [("buyer", "ready")]
    assert agents[0]["error"] is None
