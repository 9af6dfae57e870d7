"""Bad input to the operator API and to the console in front of it, over real HTTP on loopback: a
refusal (4xx, one JSON line) and nothing changed, never a 5xx; HEAD and OPTIONS included.

The console proxies to a serving agent here: its `agent.json` names the operator API this test serves
(in this process, so it counts as alive), with the same fleet token."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from runtime.config import AgentsFile
from runtime.fleet.console_fleet import ConsoleFleet
from runtime.fleet.console_server import ConsoleThread, build_app
from runtime.home import Home
from runtime.operator.token import ensure_token
from tests.support.executor import make_rig
from tests.support.operator import POLICY, Served, serve

LONE = b'"\\ud800"'  # a lone surrogate escape: valid JSON grammar, no Unicode text
DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Served]:
    home = Home(tmp_path / ".sova")
    with make_rig(tmp_path, POLICY) as rig:
        async with serve(rig, token=ensure_token(home)) as served:
            yield served


@pytest.fixture
async def console(api: Served, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The console over a fleet whose agent `buyer` serves `api`; a client holding the token."""
    home = Home(tmp_path / ".sova")
    ready = home.ready_file("buyer")
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.write_text(json.dumps({"pid": os.getpid(), "operator_url": api.url}))
    config = AgentsFile.model_validate({"agents": [{"name": "buyer", "role": "buyer", "policy": "p.yaml"}]})
    fleet = ConsoleFleet(config, tmp_path / "agents.yaml", home, api.token)
    server = ConsoleThread(build_app(fleet, api.token), "127.0.0.1", 0)
    url = server.start()
    # One connection: a request left running on it (a stream answering HEAD) would stall the next.
    limits = httpx.Limits(max_connections=1)
    auth = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=5, limits=limits) as client:
        try:
            yield client
        finally:
            server.stop()


# --- the operator API ----------------------------------------------------------------------------


async def test_head_on_the_event_stream_answers_headers_and_frees_the_connection(api: Served) -> None:
    limits = httpx.Limits(max_connections=1)
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=5, limits=limits) as client:
        head = await client.head("/v1/events")
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert (await client.get("/v1/status")).status_code == 200  # was a read timeout


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1/status", "/v1/ledger", "/v1/approvals", "/docs", "/openapi.json"])
async def test_head_and_options_are_never_5xx(api: Served, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    assert response.status_code == (200 if method == "HEAD" else 405)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/pause", b'{"reason": ' + LONE + b"}"), ("/v1/chat", b'{"text": ' + LONE + b"}"),
     ("/v1/approvals/1/approve", b'{"signature": ' + LONE + b', "approver": "0x00"}')],
    ids=["pause", "chat", "approve"],
)  # fmt: skip
async def test_lone_surrogate_in_a_body_is_400_and_changes_nothing(
    api: Served, path: str, body: bytes
) -> None:
    before = [e.kind for e in api.rig.ledger.entries()]
    response = await api.client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400  # pause was a 500, after pausing without a ledger entry
    assert "lone surrogate" in response.json()["error"]
    assert not api.rig.executor.paused
    assert [e.kind for e in api.rig.ledger.entries()] == before


async def test_deeply_nested_body_is_refused_before_parsing(api: Served) -> None:
    response = await api.client.post("/v1/chat", content=DEEP, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["error"]


# --- the console, with a serving agent behind it -------------------------------------------------


async def test_console_head_on_an_agent_route_is_200_not_502(console: httpx.AsyncClient) -> None:
    head = await console.head("/api/agents/buyer/status")
    assert head.status_code == 200
    assert head.headers["content-type"] == "application/json"
    assert head.content == b""
    assert (await console.get("/api/agents/buyer/status")).json()["name"] == "buyer"


async def test_console_head_on_the_event_stream_frees_the_connection(console: httpx.AsyncClient) -> None:
    head = await console.head("/api/agents/buyer/events")
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert (await console.get("/api/agents")).status_code == 200


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/api/agents", "/api/agents/buyer/status", "/api/agents/buyer/pause"]
)
async def test_console_answers_any_method_without_5xx(
    console: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await console.request(method, path)
    assert response.status_code < 500, (response.status_code, response.text)
    if method == "HEAD" and not path.endswith("pause"):
        assert response.status_code == 200


async def test_console_refuses_a_lone_surrogate_or_deep_nesting_in_a_body(console: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    for body in (b'{"text": ' + LONE + b"}", DEEP):
        response = await console.post("/api/agents/buyer/chat", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"] == "the request body is not JSON: send a JSON object"
    status = (await console.get("/api/agents/buyer/status")).json()
    assert status["paused"] is False


@pytest.mark.parametrize("number", [b"1e400", b"NaN", b"-Infinity"])
async def test_console_refuses_numbers_no_json_encoder_can_send_on(
    console: httpx.AsyncClient, number: bytes
) -> None:
    # The proxy re-encodes the body for the agent; inf and NaN made that a 500.
    body = b'{"reason": ' + number + b"}"
    response = await console.post(
        "/api/agents/buyer/ledger", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    response = await console.post(
        "/api/agents/buyer/pause", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert (await console.get("/api/agents/buyer/status")).json()["paused"] is False


@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_console_pause_or_resume_of_an_unknown_agent_is_404(
    console: httpx.AsyncClient, action: str
) -> None:
    response = await console.post(f"/api/agents/nobody/{action}", json={})
    assert response.status_code == 404  # was 502: both the agent and the chain "failed"
    assert response.json()["error"] == "no agent named 'nobody' in this fleet (agents: buyer)"


async def test_operator_api_refuses_nan_and_out_of_range_numbers(api: Served) -> None:
    for number in (b"NaN", b"1e400"):
        body = b'{"reason": ' + number + b"}"
        response = await api.client.post(
            "/v1/pause", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "not JSON" in response.json()["error"]
    assert not api.rig.executor.paused
