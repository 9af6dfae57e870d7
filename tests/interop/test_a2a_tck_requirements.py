"""The MUST requirements of the official A2A TCK (a2aproject/a2a-tck, 1.0 line, tests/mandatory/) that
apply to a Sova agent, each checked here over real HTTP on loopback. The TCK is not installable here, so
these are our own tests, named after the requirement; each cites the TCK test it mirrors.

How they differ from the TCK: a Sova Task is a purchase, created by a signed `cfp` envelope (a plain text
message gets an agent message, which A2A allows), and tasks are seen only by their party, who shows
its DID with a caller token (runtime/a2a/caller.py); the TCK's anonymous client would see none.
Not applicable: TLS/certificate checks (loopback HTTP), gRPC and REST bindings (JSON-RPC only),
authentication schemes (the card declares none), push notifications and streaming beyond "not
supported", the extended card (none).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.types import a2a_pb2 as a2a
from google.protobuf.json_format import ParseDict

from identity import IdentityKey, sign_envelope
from runtime.a2a.caller import caller_header
from runtime.a2a.tasks import task_id_of
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.terms import canonical
from tests.support.a2a import Agent, make_agent, serving
from tests.support.tasks import V1, TaskShop, cfp_message, rpc


@dataclass
class Shop:
    agent: Agent
    deals: DealStore
    url: str
    buyer: IdentityKey
    stranger: IdentityKey

    async def call(self, method: str, params: Any, *, caller: IdentityKey | None = None) -> dict[str, Any]:
        return await rpc(self.url, method, params, caller=caller, to=self.agent.did)

    async def buy(self, thid: str | None = None) -> dict[str, Any]:
        """A cfp from the buyer: the Task it created."""
        answer = await self.call(
            "SendMessage", cfp_message(self.buyer, self.agent.did, thid or uuid.uuid4().hex)
        )
        task: dict[str, Any] = answer["result"]["task"]
        return task

    def keep(self, thid: str, state: str, output: Any = None) -> str:
        """A deal put straight into the store (as the real seller would have moved it); its task id."""
        inline, digest = self.deals.payloads.keep(canonical(output)) if output is not None else ("", "")
        record = DealRecord(peer=self.buyer.did, thid=thid, role="seller", state=state, item="wordcount",
                            price="10", output=inline, output_hash=digest)  # fmt: skip
        self.deals.put(record)
        return task_id_of(self.buyer.did, thid)


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    deals = DealStore(tmp_path / "deals.sqlite")
    agent = make_agent(tmp_path, "seller", TaskShop(deals))
    try:
        async with serving(agent) as server:
            yield Shop(agent, deals, server.url + "/", IdentityKey.generate(), IdentityKey.generate())
    finally:
        agent.close()
        deals.close()


def code(answer: dict[str, Any]) -> int:
    assert "result" not in answer, answer
    return int(answer["error"]["code"])


# ------------------------------------------------------------------ SendMessage


async def test_send_message_with_text_gets_an_agent_message(shop: Shop) -> None:
    # TCK tests/mandatory/protocol/test_message_send_method.py::test_message_send_valid_text
    params = {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hello"}]}}
    result = (await shop.call("SendMessage", params))["result"]
    assert result["message"]["role"] == "ROLE_AGENT"
    assert result["message"]["parts"]


async def test_a_purchase_request_creates_a_task_awaiting_the_buyer(shop: Shop) -> None:
    # TCK test_message_send_valid_text (the Task branch)
    task = await shop.buy("thread-1")
    assert task["id"] == task_id_of(shop.buyer.did, "thread-1")
    assert task["contextId"] == "thread-1"
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert {"sova_status": "accepted"} in [p.get("data") for p in task["status"]["message"]["parts"]]


@pytest.mark.parametrize("missing", ["messageId", "role"])
async def test_send_message_without_a_required_field_is_invalid_params(shop: Shop, missing: str) -> None:
    # TCK test_message_send_method.py::test_message_send_invalid_params; json-rpc::test_rejects_invalid_params
    params = cfp_message(shop.buyer, shop.agent.did, "t-missing")
    del params["message"][missing]
    assert code(await shop.call("SendMessage", params)) == -32602


async def test_continuing_a_task_answers_with_the_same_task(shop: Shop) -> None:
    # TCK test_message_send_method.py::test_message_send_continue_task
    task = await shop.buy("t-continue")
    jws = sign_envelope(shop.buyer, type="accept", thid="t-continue", to=shop.agent.did, body={"price": "10"})
    message = {"messageId": "m2", "role": "ROLE_USER", "taskId": task["id"], "contextId": "t-continue",
               "parts": [{"data": {"sova_envelope": jws}}]}  # fmt: skip
    params = {"message": message}
    again = (await shop.call("SendMessage", params))["result"]["task"]
    assert again["id"] == task["id"]
    assert again["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert again["metadata"]["deal_state"] == "agreed"


@pytest.mark.parametrize("text_only", [True, False])
async def test_a_message_naming_an_unknown_task_is_task_not_found(shop: Shop, text_only: bool) -> None:
    # TCK tests/mandatory/quality/test_error_validation_enhanced.py
    #     ::test_nonexistent_resource_error_validation
    if text_only:
        params = {"message": {"messageId": "m3", "role": "ROLE_USER", "taskId": "no-such-task",
                              "parts": [{"text": "and now?"}]}}  # fmt: skip
    else:
        params = cfp_message(shop.buyer, shop.agent.did, "t-unknown", taskId="no-such-task")
    assert code(await shop.call("SendMessage", params, caller=shop.buyer)) == -32001
    assert shop.deals.get(shop.buyer.did, "t-unknown") is None


# ------------------------------------------------------------------ GetTask


async def test_get_task_returns_the_callers_task_with_its_status(shop: Shop) -> None:
    # TCK tests/mandatory/protocol/test_tasks_get_method.py::test_tasks_get_valid
    task = await shop.buy()
    got = (await shop.call("GetTask", {"id": task["id"]}, caller=shop.buyer))["result"]
    assert got["id"] == task["id"]
    assert got["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"


async def test_get_task_with_history_length_returns_at_most_that_history(shop: Shop) -> None:
    # TCK test_tasks_get_method.py::test_tasks_get_with_history_length,
    #     test_state_transitions.py::test_task_history_length
    task = await shop.buy()
    full = (await shop.call("GetTask", {"id": task["id"]}, caller=shop.buyer))["result"]
    one = (await shop.call("GetTask", {"id": task["id"], "historyLength": 1}, caller=shop.buyer))["result"]
    none = (await shop.call("GetTask", {"id": task["id"], "historyLength": 0}, caller=shop.buyer))["result"]
    assert len(full["history"]) == 2
    assert one["history"] == full["history"][-1:]
    assert "history" not in none
    negative = await shop.call("GetTask", {"id": task["id"], "historyLength": -1}, caller=shop.buyer)
    assert code(negative) == -32602


async def test_get_task_of_an_unknown_or_anothers_task_is_task_not_found(shop: Shop) -> None:
    # TCK test_tasks_get_method.py::test_tasks_get_nonexistent
    task = await shop.buy()
    assert code(await shop.call("GetTask", {"id": "no-such-task"}, caller=shop.buyer)) == -32001
    assert code(await shop.call("GetTask", {"id": task["id"]}, caller=shop.stranger)) == -32001
    assert code(await shop.call("GetTask", {"id": task["id"]})) == -32001  # anonymous


async def test_a_forged_caller_token_is_refused_in_one_line(shop: Shop) -> None:
    # TCK tests/mandatory/authentication/test_auth_enforcement.py::test_invalid_credentials_rejected
    task = await shop.buy()
    forged = sign_envelope(shop.stranger, type="a2a_caller", thid="a2a_caller", to=shop.agent.did, body={})
    header, payload, signature = forged.split(".")
    other = sign_envelope(shop.buyer, type="a2a_caller", thid="a2a_caller", to=shop.agent.did, body={})
    request = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": task["id"]}}
    async with httpx.AsyncClient() as http:
        for token in (f"{header}.{other.split('.')[1]}.{signature}", "junk"):
            answer = (
                await http.post(shop.url, json=request, headers={**V1, "Authorization": f"Bearer {token}"})
            ).json()
            assert answer["error"]["code"] == -32600
            assert "\n" not in answer["error"]["message"]
        reused = {**V1, "Authorization": f"Bearer {other}"}
        assert "result" in (await http.post(shop.url, json=request, headers=reused)).json()
        assert (
            "replayed" in (await http.post(shop.url, json=request, headers=reused)).json()["error"]["message"]
        )
    assert payload


# ------------------------------------------------------------------ ListTasks


async def test_list_tasks_shows_the_callers_tasks_newest_first_with_the_required_fields(shop: Shop) -> None:
    # TCK test_tasks_list_method.py::test_list_all_tasks, ::test_list_tasks_validates_required_fields,
    # ::test_list_tasks_sorted_by_timestamp_descending, ::test_total_size_accuracy
    made = [await shop.buy() for _ in range(3)]
    result = (await shop.call("ListTasks", {}, caller=shop.buyer))["result"]
    assert [t["id"] for t in result["tasks"]] == [t["id"] for t in reversed(made)]
    assert (result["totalSize"], result["pageSize"]) == (3, 3)
    for task in result["tasks"]:
        assert task["id"]
        assert task["contextId"]
        assert task["status"]["state"]


async def test_list_tasks_is_empty_when_none_match(shop: Shop) -> None:
    # TCK test_tasks_list_method.py::test_list_tasks_empty_when_none_exist
    await shop.buy()
    for caller in (shop.stranger, None):
        result = (await shop.call("ListTasks", {}, caller=caller))["result"]
        assert result.get("tasks", []) == []
        assert result.get("totalSize", 0) == 0
        assert result.get("nextPageToken", "") == ""


async def test_list_tasks_filters_by_context_status_and_time(shop: Shop) -> None:
    # TCK ::test_filter_by_context_id, ::test_filter_by_status, ::test_filter_by_last_updated_after,
    # ::test_combined_filters
    first = await shop.buy("ctx-a")
    await asyncio.sleep(0.02)
    second = await shop.buy("ctx-b")
    done = shop.keep("ctx-done", "delivered", {"words": 3})
    by_context = (await shop.call("ListTasks", {"contextId": "ctx-a"}, caller=shop.buyer))["result"]
    assert [t["id"] for t in by_context["tasks"]] == [first["id"]]
    by_status = (await shop.call("ListTasks", {"status": "TASK_STATE_COMPLETED"}, caller=shop.buyer))[
        "result"
    ]
    assert [t["id"] for t in by_status["tasks"]] == [done]
    after = {"statusTimestampAfter": second["status"]["timestamp"]}
    recent = (await shop.call("ListTasks", after, caller=shop.buyer))["result"]
    assert first["id"] not in [t["id"] for t in recent["tasks"]]
    assert second["id"] in [t["id"] for t in recent["tasks"]]
    both = {"contextId": "ctx-b", "status": "TASK_STATE_INPUT_REQUIRED"}
    assert [t["id"] for t in (await shop.call("ListTasks", both, caller=shop.buyer))["result"]["tasks"]] == [
        second["id"]
    ]


async def test_list_tasks_pages_50_by_default_and_by_token(shop: Shop) -> None:
    # TCK ::test_default_page_size, ::test_default_page_size_is_50, ::test_custom_page_size,
    # ::test_page_token_navigation, ::test_last_page_detection
    ids = {shop.keep(f"bulk-{n}", "released") for n in range(55)}
    default = (await shop.call("ListTasks", {}, caller=shop.buyer))["result"]
    assert (default["pageSize"], len(default["tasks"]), default["totalSize"]) == (50, 50, 55)
    seen: list[str] = []
    token = ""
    while True:
        params = {"pageSize": 20, **({"pageToken": token} if token else {})}
        page = (await shop.call("ListTasks", params, caller=shop.buyer))["result"]
        seen += [t["id"] for t in page["tasks"]]
        token = page.get("nextPageToken", "")
        if not token:
            assert page["pageSize"] == 15  # the last page, and it says so with no token
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 55


async def test_list_tasks_history_and_artifacts_as_asked(shop: Shop) -> None:
    # TCK ::test_history_length_zero, ::test_history_length_custom, ::test_history_length_exceeds_actual,
    # ::test_artifacts_excluded_by_default, ::test_artifacts_included_when_requested
    shop.keep("with-output", "delivered", {"words": 3})
    plain = (await shop.call("ListTasks", {}, caller=shop.buyer))["result"]["tasks"][0]
    assert "artifacts" not in plain
    assert len(plain["history"]) == 2
    asked = {"includeArtifacts": True, "historyLength": 1}
    full = (await shop.call("ListTasks", asked, caller=shop.buyer))["result"]["tasks"][0]
    assert [p["data"] for p in full["artifacts"][0]["parts"]] == [{"words": 3}]
    assert len(full["history"]) == 1
    none = (await shop.call("ListTasks", {"historyLength": 0}, caller=shop.buyer))["result"]["tasks"][0]
    many = (await shop.call("ListTasks", {"historyLength": 50}, caller=shop.buyer))["result"]["tasks"][0]
    assert not none.get("history")
    assert len(many["history"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"pageToken": "not-a-token-of-ours"},  # TCK ::test_invalid_page_token_error
        {"status": "INVALID_STATUS"},  # TCK ::test_invalid_status_error
        {"pageSize": -1},  # TCK ::test_negative_page_size_error
        {"pageSize": 0},  # TCK ::test_zero_page_size_error
        {"pageSize": 101},  # TCK ::test_out_of_range_page_size_error
        {"historyLength": -1},  # TCK ::test_negative_history_length_error
        {"statusTimestampAfter": "-1"},  # TCK ::test_invalid_timestamp_error
    ],
)
async def test_list_tasks_with_invalid_params_is_invalid_params(shop: Shop, params: dict[str, Any]) -> None:
    answer = await shop.call("ListTasks", params, caller=shop.buyer)
    assert code(answer) == -32602
    assert "\n" not in answer["error"]["message"]


# ------------------------------------------------------------------ CancelTask


async def test_cancel_task_before_signing_cancels_it(shop: Shop) -> None:
    # TCK tests/mandatory/protocol/test_tasks_cancel_method.py::test_tasks_cancel_valid
    task = await shop.buy("t-cancel")
    canceled = (await shop.call("CancelTask", {"id": task["id"]}, caller=shop.buyer))["result"]
    assert canceled["id"] == task["id"]
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    record = shop.deals.get(shop.buyer.did, "t-cancel")
    assert record is not None
    assert record.state == "canceled"


async def test_cancel_task_of_an_unknown_or_anothers_task_is_task_not_found(shop: Shop) -> None:
    # TCK test_tasks_cancel_method.py::test_tasks_cancel_nonexistent
    task = await shop.buy("t-theirs")
    assert code(await shop.call("CancelTask", {"id": "no-such-task"}, caller=shop.buyer)) == -32001
    assert code(await shop.call("CancelTask", {"id": task["id"]}, caller=shop.stranger)) == -32001
    record = shop.deals.get(shop.buyer.did, "t-theirs")
    assert record is not None
    assert record.state == "negotiating"


async def test_cancel_task_once_the_money_may_be_locked_is_not_cancelable(shop: Shop) -> None:
    # TCK tests/optional/quality/test_task_state_quality.py (TaskNotCancelable, -32002)
    task_id = shop.keep("t-funded", "funded")
    answer = await shop.call("CancelTask", {"id": task_id}, caller=shop.buyer)
    assert code(answer) == -32002
    assert "money may be locked" in answer["error"]["message"]


# ------------------------------------------------------------------ JSON-RPC and error codes


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"jsonrpc": "2.0", "method": "GetTask", "id": 1, "params": {',
            -32700,
        ),  # ::test_rejects_malformed_json, ::test_raw_invalid_json
        (
            b'{"jsonrpc": "1.0", "method": "GetTask", "id": 1, "params": {}}',
            -32600,
        ),  # ::test_invalid_jsonrpc_version
        (b'{"jsonrpc": "2.0", "id": 1, "params": {}}', -32600),  # ::test_missing_method_field
        (
            b'{"jsonrpc": "2.0", "method": "NoSuchMethod", "id": 1, "params": {}}',
            -32601,
        ),  # ::test_rejects_unknown_method
        (
            b'{"jsonrpc": "2.0", "method": "GetTask", "id": 1, "params": {"id": 5}}',
            -32602,
        ),  # ::test_rejects_invalid_params
    ],
)
async def test_json_rpc_errors_have_their_standard_codes(shop: Shop, body: bytes, expected: int) -> None:
    # TCK tests/mandatory/jsonrpc/test_json_rpc_compliance.py, test_protocol_violations.py
    async with httpx.AsyncClient() as http:
        answer = (
            await http.post(shop.url, content=body, headers={**V1, "content-type": "application/json"})
        ).json()
    assert answer["error"]["code"] == expected


async def test_push_notifications_and_streaming_are_answered_not_supported(shop: Shop) -> None:
    # TCK test_a2a_error_codes.py::test_push_notification_not_supported_error_32003,
    #     ::test_unsupported_operation_error_32004
    config = {"taskId": "t", "url": "https://example.com/hook"}
    assert code(await shop.call("CreateTaskPushNotificationConfig", config)) == -32003
    task = await shop.buy()
    assert code(await shop.call("SubscribeToTask", {"id": task["id"]}, caller=shop.buyer)) == -32004


async def test_a_body_that_is_not_json_is_content_type_not_supported(shop: Shop) -> None:
    # TCK test_a2a_error_codes.py::test_content_type_not_supported_error_32005 (-32005 or HTTP 415)
    async with httpx.AsyncClient() as http:
        response = await http.post(shop.url, content=b"hello", headers={**V1, "content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == -32005


async def test_v0_3_invalid_params_are_invalid_params_in_one_line(shop: Shop) -> None:
    # issue 13: on the v0.3 path invalid params got -32600 with a pydantic dump
    request = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {"parts": 5}}}
    async with httpx.AsyncClient() as http:
        answer = (await http.post(shop.url, json=request)).json()
    assert answer["error"]["code"] == -32602
    assert "\n" not in answer["error"]["message"]
    assert "data" not in answer["error"] or len(str(answer["error"]["data"])) < 300


# ------------------------------------------------------------------ the agent card


async def test_the_agent_card_is_strict_a2a_1_0_with_its_mandatory_fields(shop: Shop) -> None:
    # TCK tests/mandatory/protocol/test_agent_card.py::test_agent_card_available,
    #     ::test_mandatory_fields_present,
    # ::test_mandatory_field_types; test_agent_card_mandatory.py (all five)
    async with httpx.AsyncClient() as http:
        response = await http.get(shop.url + ".well-known/agent-card.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    card = response.json()
    ParseDict(card, a2a.AgentCard())  # strict: an unknown field (v0.3 `url`, `preferredTransport`) fails
    for name in ("name", "description", "version", "supportedInterfaces", "capabilities", "defaultInputModes",
                 "defaultOutputModes", "skills"):  # fmt: skip
        assert card[name], name
    assert isinstance(card["skills"], list)
    assert isinstance(card["capabilities"], dict)
    identity, negotiation = (e["params"] for e in card["capabilities"]["extensions"])
    assert "a2a_caller" in negotiation["tasks"]  # how a plain client shows its DID to see its tasks
    assert isinstance(identity["chainId"], int)
    assert not isinstance(identity["chainId"], bool)
    async with httpx.AsyncClient() as http:
        again = await http.get(
            shop.url + ".well-known/agent-card.json", headers={"if-none-match": response.headers["etag"]}
        )
    assert again.status_code == 304


async def test_the_v0_3_path_shows_the_callers_task_and_hides_it_from_a_stranger(shop: Shop) -> None:
    # TCK test_a2a_v030_transport_compliance.py::test_required_method_availability (v0.3 `tasks/get`)
    task = await shop.buy("v03")
    request = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": task["id"]}}
    async with httpx.AsyncClient() as http:
        mine = await http.post(shop.url, json=request, headers=caller_header(shop.buyer, shop.agent.did))
        theirs = await http.post(shop.url, json=request, headers=caller_header(shop.stranger, shop.agent.did))
    assert mine.json()["result"]["id"] == task["id"]
    assert theirs.json()["error"]["code"] == -32001
