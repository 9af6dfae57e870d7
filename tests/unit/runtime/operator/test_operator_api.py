"""The operator API over real HTTP on loopback, around a real executor, ledger and budget: the token on
every route, signed approvals (N distinct operator keys), pause before the next signature, timeouts,
ledger paging, SSE and the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from runtime.operator.api import OperatorServer, all_routes
from skills import default_catalog
from tests.support.executor import Rig, SlowSign, deal, make_rig
from tests.support.operator import (
    ALICE,
    OPERATOR,
    POLICY,
    SHORT_TIMEOUT,
    STRANGER,
    TWO_APPROVERS,
    Served,
    next_pending,
    serve,
)

SKILLS = ["sign_deal", "send_message", "transfer_token", "slow_sign"]


def rig_for(tmp_path: Path, policy: str) -> Iterator[Rig]:
    catalog = default_catalog()
    catalog.skill(SlowSign)
    text = policy.replace(
        "skills: [sign_deal, send_message, transfer_token]", f"skills: [{', '.join(SKILLS)}]"
    )
    with make_rig(tmp_path, text, catalog=catalog, skills=SKILLS) as rig:
        yield rig


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Served]:
    for rig in rig_for(tmp_path, POLICY):
        async with serve(rig) as served:
            yield served


def every_route(*, with_params: bool = False) -> list[tuple[str, str]]:
    """(method, path) of each route of the app's table; path parameters filled in unless `with_params`."""
    out = []
    for route in all_routes():
        assert isinstance(route, Route)
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                out.append((method, route.path if with_params else route.path.replace("{ref}", "1")))
    return out


# ----------------------------------------------------------------- the token


async def test_every_route_refuses_a_missing_or_wrong_token(api: Served) -> None:
    routes = every_route()
    assert len(routes) >= 15  # the route table is what is iterated: a new route is covered too
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as anonymous:
        for method, path in [*routes, ("GET", "/nowhere"), ("POST", "/v1/nowhere")]:
            for headers in ({}, {"Authorization": "Bearer " + "x" * 43}, {"Authorization": api.token}):
                response = await anonymous.request(method, path, headers=headers, json={"text": "status"})
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert "operator token" in response.json()["error"]
    assert not api.rig.executor.paused  # the refused POST /v1/pause did nothing


async def test_the_token_in_a_cookie_or_the_query_does_not_work(api: Served) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as anonymous:
        by_query = await anonymous.get("/v1/status", params={"token": api.token, "access_token": api.token})
        anonymous.cookies.set("token", api.token)
        anonymous.cookies.set("Authorization", f"Bearer {api.token}")
        by_cookie = await anonymous.post("/v1/pause")
    assert (by_query.status_code, by_cookie.status_code) == (401, 401)
    assert not api.rig.executor.paused


async def test_unknown_routes_with_the_token_are_404_json(api: Served) -> None:
    response = await api.client.get("/v1/nowhere")
    assert response.status_code == 404
    assert "see /openapi.json" in response.json()["error"]
    wrong_method = await api.client.get("/v1/pause")
    assert wrong_method.status_code == 405


async def test_the_server_binds_loopback_only(api: Served) -> None:
    assert api.url.startswith("http://127.0.0.1:")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("0.0.0.0", 0))  # the socket the server must refuse
    try:
        with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
            OperatorServer(object(), sock)  # type: ignore[arg-type]
    finally:
        sock.close()


# ----------------------------------------------------------------- reading


async def test_status_says_who_what_and_whether_paused(api: Served) -> None:
    status = (await api.client.get("/v1/status")).json()
    expected = {
        "name", "role", "did", "address", "agent_id", "url", "pid", "paused", "pause_reason", "uptime_s",
        "brain", "balances", "deals", "ledger_head",
    }  # fmt: skip
    assert expected <= set(status)
    assert (status["did"], status["address"]) == (api.rig.key.did, api.rig.signer.address)
    assert status["paused"] is False
    assert status["deals"] == {"total": 0, "released": 0, "refunded": 0, "open": 0}


async def test_ledger_pages_follow_next_after_to_the_head(api: Served) -> None:
    for i in range(11):
        await api.rig.ledger.append_async("note", {"i": i})  # entries 2..12
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = (await api.client.get("/v1/ledger", params={"after": after, "limit": 5})).json()
        assert page["head"] == 12
        seen += [e["seq"] for e in page["entries"]]
        assert set(page["entries"][0]) == {"seq", "ts", "kind", "data", "hash"}
        after = page["next_after"]
    assert seen == list(range(1, 13))
    tail = (await api.client.get("/v1/ledger", params={"after": 10})).json()
    assert ([e["data"]["i"] for e in tail["entries"]], tail["next_after"]) == ([9, 10], None)
    for params in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}):
        bad = await api.client.get("/v1/ledger", params=params)
        assert bad.status_code == 400, params
        assert "\n" not in bad.json()["error"]


async def test_ledger_verify_reports_the_chain(api: Served) -> None:
    await api.rig.ledger.append_async("note", {"i": 1})
    result = (await api.client.get("/v1/ledger/verify")).json()
    assert (result["ok"], result["checked"], result["first_bad"]) == (True, 2, None)
    assert "valid" in result["message"]


async def test_budgets_show_limit_spent_and_left(api: Served) -> None:
    from policies import TokenInfo

    executor = api.rig.executor
    token = executor.policy.tokens.find("TUSD")
    assert isinstance(token, TokenInfo)
    limits = executor.policy.spend_limits("TUSD")
    assert limits is not None
    held = executor.budget.reserve(executor.context.agent_did, token, "0xabc", 30 * 10**6, limits)
    executor.budget.commit(held)  # type: ignore[arg-type]
    rows = {r["scope"]: r for r in (await api.client.get("/v1/budgets")).json()["budgets"]}
    assert rows["per_day"] == {
        "token": "TUSD",
        "scope": "per_day",
        "limit": "100",
        "spent": "30",
        "left": "70",
    }
    assert (rows["per_counterparty_day"]["spent"], rows["per_counterparty_day"]["left"]) == ("30", "50")
    assert (rows["per_action"]["spent"], rows["per_action"]["left"]) == (None, "50")


async def test_openapi_lists_every_route_and_docs_render(api: Served) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    documented = {(m.upper(), p) for p, methods in schema["paths"].items() for m in methods}
    assert documented == set(every_route(with_params=True))
    for methods in schema["paths"].values():
        for spec in methods.values():
            assert spec["summary"]
            assert spec["responses"]
    page = await api.client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "/v1/approvals/{ref}/approve" in page.text
    assert "<script" not in page.text


async def test_events_stream_new_ledger_entries_and_replay_from_after(api: Served) -> None:
    async def first_events(params: dict[str, Any], count: int, write: bool) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with api.client.stream("GET", "/v1/events", params=params) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            if write:
                await api.rig.ledger.append_async("note", {"live": True})
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    assert event == "ledger"
                    got.append(json.loads(line[6:]))
                    if len(got) == count:
                        return got
        raise AssertionError("the stream ended")

    live = await asyncio.wait_for(first_events({}, 1, write=True), 5)
    assert (live[0]["kind"], live[0]["data"], live[0]["seq"]) == ("note", {"live": True}, 2)
    replay = await asyncio.wait_for(first_events({"after": 0}, 2, write=False), 5)
    assert [e["seq"] for e in replay] == [1, 2]
    assert (await api.client.get("/v1/events", params={"after": "x"})).status_code == 400


# ----------------------------------------------------------------- approvals


async def test_an_operator_signed_approval_lets_the_action_run_and_is_logged(api: Served) -> None:
    rig = api.rig
    task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
    [pending] = await next_pending(rig.executor.approvals)
    listed = (await api.client.get("/v1/approvals")).json()["approvals"]
    assert [(a["id"], a["number"], a["state"]) for a in listed] == [(pending.id, 1, "pending")]
    response = await api.decide(1, "approve", reason="known seller")
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["approvers"]) == ("approved", [OPERATOR.address])
    outcome = await task
    assert outcome.status == "done"
    assert rig.signer.signatures == 1
    [entry] = rig.entries("approval")
    assert entry["approvers"] == [OPERATOR.address]
    [signed] = entry["signatures"]
    assert signed["approver"] == OPERATOR.address
    assert signed["signature"] == api.sign(pending, "approve", "known seller")
    assert entry["reasons"] == [f"{OPERATOR.address}: known seller"]


async def test_a_signed_rejection_denies_the_action(api: Served) -> None:
    rig = api.rig
    task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
    [pending] = await next_pending(rig.executor.approvals)
    response = await api.decide(pending.id, "reject", signer=ALICE, reason="too much")
    assert response.json()["rejected_by"] == ALICE.address
    outcome = await task
    assert outcome.status == "denied"
    assert f"rejected by {ALICE.address}" in outcome.reasons[0]
    assert rig.signer.signatures == 0
    assert rig.entries("approval")[0]["signatures"][0]["approver"] == ALICE.address


async def test_bad_decisions_are_refused_with_their_status(api: Served) -> None:
    rig = api.rig
    task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
    [pending] = await next_pending(rig.executor.approvals)
    post = api.client.post
    unsigned = await post("/v1/approvals/1/approve", json={"reason": "x"})
    malformed = await post("/v1/approvals/1/approve", json={"signature": "0x1234"})
    not_json = await post("/v1/approvals/1/approve", content=b"{nope")
    stranger = await api.decide(1, "approve", signer=STRANGER)
    mismatch = await api.decide(1, "approve", approver=ALICE.address)
    # a signature of another reason than the one sent recovers to some other key: not an operator
    swapped = await post(
        "/v1/approvals/1/approve", json={"signature": api.sign(pending, "approve", "ok"), "reason": "ok!"}
    )
    # a signature to approve does not reject
    crossed = await post("/v1/approvals/1/reject", json={"signature": api.sign(pending, "approve")})
    unknown = await api.client.post("/v1/approvals/99/approve", json={"signature": "0x" + "11" * 65})
    unknown_id = await post("/v1/approvals/" + "f" * 32 + "/reject", json={})
    expected = [
        (unsigned, 400, "needs `signature`"), (malformed, 400, "130 hex digits"), (not_json, 400, "not JSON"),
        (stranger, 403, "not an operator key"), (mismatch, 403, "not by the approver"),
        (swapped, 403, "not an operator key"), (crossed, 403, "not an operator key"),
        (unknown, 404, "no approval '99'"), (unknown_id, 404, "no approval"),
    ]  # fmt: skip
    for response, status, text in expected:
        assert response.status_code == status, (response.text, text)
        assert text in response.json()["error"]
        assert "\n" not in response.json()["error"]
    assert rig.executor.approvals.get(pending.id).state == "pending"  # type: ignore[union-attr]
    assert (await api.decide(1, "approve")).status_code == 200
    assert (await task).status == "done"
    again = await api.decide(1, "approve")
    late_reject = await api.decide(1, "reject")
    for response in (again, late_reject):
        assert response.status_code == 409
        assert "approved already" in response.json()["error"]


async def test_two_approvers_need_two_distinct_operator_keys(tmp_path: Path) -> None:
    for rig in rig_for(tmp_path, TWO_APPROVERS):
        async with serve(rig) as api:
            task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
            await next_pending(rig.executor.approvals)
            first = await api.decide(1, "approve")
            same_again = await api.decide(1, "approve")
            stranger = await api.decide(1, "approve", signer=STRANGER)
            assert [r.status_code for r in (first, same_again, stranger)] == [200, 200, 403]
            assert (same_again.json()["state"], same_again.json()["approvers"]) == (
                "pending",
                [OPERATOR.address],
            )
            await asyncio.sleep(0.05)
            assert not task.done()
            assert rig.signer.signatures == 0
            second = await api.decide(1, "approve", signer=ALICE)
            assert second.json()["state"] == "approved"
            assert (await task).status == "done"
            assert rig.entries("approval")[0]["approvers"] == [OPERATOR.address, ALICE.address]


async def test_no_decision_in_time_is_a_deny_and_late_decisions_are_409(tmp_path: Path) -> None:
    for rig in rig_for(tmp_path, SHORT_TIMEOUT):
        async with serve(rig) as api:
            task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
            await next_pending(rig.executor.approvals)
            outcome = await asyncio.wait_for(task, 5)
            assert outcome.status == "denied"
            assert "no approval in time" in outcome.reasons[0]
            [listed] = (await api.client.get("/v1/approvals")).json()["approvals"]
            assert listed["state"] == "timed_out"
            late = await api.decide(1, "approve")
            assert late.status_code == 409
            assert "timed out already" in late.json()["error"]
            assert rig.signer.signatures == 0


# ----------------------------------------------------------------- pause


async def test_pause_then_an_approval_signs_nothing(api: Served) -> None:
    rig = api.rig
    task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
    await next_pending(rig.executor.approvals)
    paused = await api.client.post("/v1/pause", json={"reason": "incident 7"})
    assert paused.json() == {"paused": True, "reason": "incident 7"}
    assert (await api.decide(1, "approve")).status_code == 200
    outcome = await task
    assert (outcome.status, rig.signer.signatures) == ("denied", 0)
    assert "paused (incident 7)" in outcome.reasons[0]
    small = await rig.executor.execute("sign_deal", deal(rig, "5", nonce=2), "llm")
    assert (small.status, rig.signer.signatures) == ("denied", 0)
    status = (await api.client.get("/v1/status")).json()
    assert (status["paused"], status["pause_reason"]) == (True, "incident 7")
    assert rig.entries("operator") == [{"action": "pause", "reason": "incident 7"}]
    assert (await api.client.post("/v1/resume")).json() == {"paused": False}
    again = await rig.executor.execute("sign_deal", deal(rig, "5", nonce=3), "llm")
    assert (again.status, rig.signer.signatures) == ("done", 1)


async def test_pause_refuses_a_signature_already_in_flight(api: Served) -> None:
    rig = api.rig
    slow = rig.executor.catalog["slow_sign"]
    assert isinstance(slow, SlowSign)
    slow.gate, slow.started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(rig.executor.execute("slow_sign", deal(rig, "5"), "rules-brain"))
    await asyncio.wait_for(slow.started.wait(), 2)  # planned, allowed, running: about to sign
    assert (await api.client.post("/v1/pause", json={})).json()["paused"] is True
    slow.gate.set()
    outcome = await task
    assert (outcome.status, rig.signer.signatures) == ("denied", 0)
    assert "paused" in rig.entries("effect")[0]["refused"][0]


async def test_pause_with_a_bad_body_is_refused(api: Served) -> None:
    for body in ([1], {"reason": 5}):
        response = await api.client.post("/v1/pause", json=body)
        assert response.status_code == 400
    huge = await api.client.post("/v1/pause", content=b"{" + b" " * 70_000 + b"}")
    assert huge.status_code == 413
    assert not api.rig.executor.paused
