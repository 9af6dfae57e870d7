"""The operator API's JSON routes (`/v1/...`); each docstring's YAML part feeds `/openapi.json`.

Every handler reads the agent through `request.app.state.backend` (an OperatorBackend) and answers
JSON; a refusal is `{"error": "one line"}` with its status. The token check is not here: the
TokenGuard around the whole app (runtime/operator/api.py) runs before any route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity.untrusted_json import loads_untrusted
from runtime.operator.auth import Verdict
from runtime.operator.facts import OperatorBackend, OperatorRefusal

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, message: str) -> JSONResponse:
    """A refusal: `{"error": message}` with `status`."""
    return JSONResponse({"error": message}, status_code=status)


def _backend(request: Request) -> OperatorBackend:
    backend: OperatorBackend = request.app.state.backend
    return backend


def answers(handler: Handler) -> Handler:
    """Turn OperatorRefusal into its status and anything unexpected into a 500, each as one JSON line."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OperatorRefusal as exc:
            return error(exc.status, str(exc))
        except Exception as exc:
            log.exception("operator API %s %s failed", request.method, request.url.path)
            return error(500, f"the agent could not answer ({type(exc).__name__}: {exc})")

    wrapped.__doc__ = handler.__doc__
    wrapped.__name__ = handler.__name__
    return wrapped


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); OperatorRefusal 400/413 when it is not one."""
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise OperatorRefusal(413, f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = loads_untrusted(raw)  # nesting bounded, lone surrogates refused: see identity.untrusted_json
    except ValueError as exc:
        raise OperatorRefusal(400, f"the body is not JSON ({exc}): send a JSON object") from None
    if not isinstance(body, dict):
        raise OperatorRefusal(400, "the body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int) -> int:
    """An integer query parameter; OperatorRefusal 400 when it is not one."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise OperatorRefusal(
            400, f"query parameter `{name}` must be an integer, not {value[:40]!r}"
        ) from None


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
async def buy(request: Request) -> Response:
    """
    summary: "Buy a service from a registered seller; answers once the deal has ended (or the timeout)."
    requestBody:
      content: {application/json: {schema: {type: object, required: [service], properties: {service: {type: string}, input: {}, max_price: {type: string}, seller: {type: string}, timeout: {type: number}}}}}
    responses:
      200: {description: "{state, service, reason, deal_id, thread, seller, price, token, input, output, txs}: state released, or why there is no deal"}
      400: {description: "bad request: not JSON, unknown field, a max price that is not an amount"}
      409: {description: this agent cannot buy}
      422: {description: "the input does not match the service's input schema (nothing was signed)"}
    """  # noqa: E501
    from pydantic import ValidationError

    from runtime.operator.buy_models import BuyRequest
    from runtime.operator.purchase import PurchaseRefused

    purchaser = request.app.state.purchaser
    if purchaser is None:
        raise OperatorRefusal(409, "this agent cannot buy: its operator API was started without a purchaser")
    body = await read_json(request)
    try:
        wanted = BuyRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise OperatorRefusal(400, f"buy request: {where}: {first['msg']}") from None
    try:
        result = await purchaser.buy(wanted)
    except PurchaseRefused as exc:
        raise OperatorRefusal(exc.status, str(exc)) from None
    return JSONResponse(result.model_dump(mode="json"))


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
        Route("/v1/buy", buy, methods=["POST"]),
    ]
