"""The operator API's JSON routes (`/v1/...`); each docstring's YAML part feeds `/openapi.json`.

Every handler reads the agent through `request.app.state.backend` (an OperatorBackend) and answers
JSON; a refusal is `{"error": "one line"}` with its status. The token check is not here: the
TokenGuard around the whole app (runtime/operator/api.py) runs before any route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.operator.auth import Verdict
from runtime.operator.facts import OperatorRefusal
from runtime.operator.http import Handler, answers, error, int_param, read_json
from runtime.operator.http import backend_of as _backend
from runtime.operator.routes_spend import buy, fetch

__all__ = ["answers", "error", "routes"]


@answers
async def status(request: Request) -> Response:
    """
    summary: "Who the agent is, whether it is paused, balances, deal counts, ledger head."
    responses:
      200: {description: "{name, role, did, address, agent_id, url, pid, paused, pause_reason, uptime_s, brain, balances, deals, ledger_head}"}
    """  # noqa: E501
    return JSONResponse(await _backend(request).status())


@answers
async def ledger(request: Request) -> Response:
    """
    summary: "Ledger entries after `after`, at most `limit` (≤ 500, default 100), oldest first."
    parameters:
      - {name: after, in: query, schema: {type: integer, minimum: 0}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      200: {description: "{entries: [{seq, ts, kind, data, hash}], next_after, head}"}
      400: {description: "bad after or limit"}
    """
    after, limit = int_param(request, "after", 0), int_param(request, "limit", 100)
    return JSONResponse(await _backend(request).ledger_page(after, limit))


@answers
async def ledger_verify(request: Request) -> Response:
    """
    summary: "Check the local ledger's hash chain and signatures (`sova log verify` without anchors)."
    responses:
      200: {description: "{ok, checked, first_bad, message}"}
    """
    return JSONResponse(await _backend(request).verify())


@answers
async def budgets(request: Request) -> Response:
    """
    summary: "Each spend limit of the policy with what was spent in the last 24 h and what is left."
    responses:
      200: {description: "{budgets: [{token, scope, limit, spent, left}]}"}
    """
    return JSONResponse(await _backend(request).budgets())


@answers
async def negotiations(request: Request) -> Response:
    """
    summary: "Open negotiation threads, most recent first."
    responses:
      200: {description: "{negotiations: [{thread, counterparty, role, state, last_offer, updated}]}"}
    """
    return JSONResponse(await _backend(request).negotiations())


@answers
async def deals(request: Request) -> Response:
    """
    summary: "Recent deals first."
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
    responses:
      200: {description: "{deals: [...]}"}
    """
    return JSONResponse(await _backend(request).deals(int_param(request, "limit", 50)))


@answers
async def approvals(request: Request) -> Response:
    """
    summary: "Pending approvals first, then the recently decided ones."
    responses:
      200: {description: "{approvals: [{id, number, skill, origin, state, needed, approvers, rejected_by, reasons, deadline, summary, signatures}]}"}
    """  # noqa: E501
    return JSONResponse(_backend(request).approvals())


# The OpenAPI description of both decision routes; %s is "Approve" or "Reject".
_DECISION_DOC = """
    summary: "%s an approval (by id or number) with an operator key's EIP-712 signed decision."
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}, description: approval id or number}
    requestBody:
      content: {application/json: {schema: {type: object, required: [signature], properties: {signature: {type: string}, approver: {type: string}, reason: {type: string}}}}}
    responses:
      200: {description: the approval}
      400: {description: missing or malformed signature}
      403: {description: not signed by an operator key}
      404: {description: unknown approval}
      409: {description: decided already}
    """  # noqa: E501


def _decision(verdict: Verdict) -> Handler:
    """The POST handler that approves or rejects (by `verdict`) the approval named in the path."""

    async def decide(request: Request) -> Response:
        body = await read_json(request)
        approval = _backend(request).decide(
            request.path_params["ref"], verdict, signature=body.get("signature"),
            approver=body.get("approver"), reason=body.get("reason") or "",
        )  # fmt: skip
        return JSONResponse(approval.to_json())

    decide.__doc__ = _DECISION_DOC % verdict.capitalize()
    decide.__name__ = verdict
    return answers(decide)


approve = _decision("approve")
reject = _decision("reject")


@answers
async def pause(request: Request) -> Response:
    """
    summary: "Stop signing now (takes effect before the next signature)."
    requestBody:
      content: {application/json: {schema: {type: object, properties: {reason: {type: string}}}}}
    responses:
      200: {description: "{paused: true, reason}"}
    """
    body = await read_json(request)
    return JSONResponse(await _backend(request).pause(body.get("reason")))


@answers
async def resume(request: Request) -> Response:
    """
    summary: "Allow signing again."
    responses:
      200: {description: "{paused: false}"}
    """
    return JSONResponse(await _backend(request).resume())


@answers
async def chat(request: Request) -> Response:
    """
    summary: "The command chat (`help` lists the commands); with an LLM brain, free text is explained."
    requestBody:
      content: {application/json: {schema: {type: object, required: [text], properties: {text: {type: string}}}}}
    responses:
      200: {description: "{reply}"}
      400: {description: no text}
    """  # noqa: E501
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise OperatorRefusal(400, 'send {"text": "..."}; `help` lists the commands')
    if len(text) > 2000:
        raise OperatorRefusal(400, "the text is over 2000 characters")
    return JSONResponse({"reply": await request.app.state.chat.reply(text)})


@answers
async def revoke_credential(request: Request) -> Response:
    """
    summary: "Revoke a credential this agent issued (AgentRegistry), through its executor and policy."
    requestBody:
      content: {application/json: {schema: {type: object, required: [credential_id], properties: {credential_id: {type: string}}}}}
    responses:
      200: {description: "{credential_id, tx_hash}: revoked"}
      202: {description: "{credential_id, approval_id}: the policy escalated it to the operator"}
      400: {description: "no credential_id"}
      403: {description: "the policy refused it, or it failed (the reason on one line)"}
    """  # noqa: E501
    body = await read_json(request)
    credential_id = body.get("credential_id")
    if not isinstance(credential_id, str) or not credential_id or len(body) != 1:
        raise OperatorRefusal(400, 'send {"credential_id": "<id of a credential this agent issued>"}')
    backend = _backend(request)
    outcome = await backend.executor.execute(
        "revoke_credential", {"credential_id": credential_id}, "operator", wait_for_approval=False
    )
    if outcome.status == "pending":
        return JSONResponse({"credential_id": credential_id, "approval_id": outcome.approval_id}, 202)
    if not outcome.ok or outcome.result is None:
        raise OperatorRefusal(403, outcome.message())
    return JSONResponse({"credential_id": credential_id, "tx_hash": outcome.result.get("tx_hash", "")})


def routes() -> list[Route]:
    """The JSON routes under /v1 (events, openapi and docs are added by runtime/operator/api.py)."""
    return [
        Route("/v1/status", status, methods=["GET"]),
        Route("/v1/ledger", ledger, methods=["GET"]),
        Route("/v1/ledger/verify", ledger_verify, methods=["GET"]),
        Route("/v1/budgets", budgets, methods=["GET"]),
        Route("/v1/negotiations", negotiations, methods=["GET"]),
        Route("/v1/deals", deals, methods=["GET"]),
        Route("/v1/approvals", approvals, methods=["GET"]),
        Route("/v1/approvals/{ref}/approve", approve, methods=["POST"]),
        Route("/v1/approvals/{ref}/reject", reject, methods=["POST"]),
        Route("/v1/pause", pause, methods=["POST"]),
        Route("/v1/resume", resume, methods=["POST"]),
        Route("/v1/chat", chat, methods=["POST"]),
        Route("/v1/credentials/revoke", revoke_credential, methods=["POST"]),
        Route("/v1/buy", buy, methods=["POST"]),
        Route("/v1/fetch", fetch, methods=["POST"]),
    ]
