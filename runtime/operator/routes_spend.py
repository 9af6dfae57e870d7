"""The operator API's routes that spend: `POST /v1/buy` (a service from another agent, through the
agent's Purchaser) and `POST /v1/fetch` (a URL, paying a 402 over x402 through the executor)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.operator.facts import OperatorRefusal
from runtime.operator.http import answers, backend_of, read_json

__all__ = ["buy", "fetch"]


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


@answers
async def fetch(request: Request) -> Response:
    """
    summary: "Fetch a URL; a 402 is paid over x402 through the executor (policy, budget, ledger)."
    requestBody:
      content: {application/json: {schema: {type: object, required: [url], properties: {url: {type: string}, method: {type: string}, body: {type: string}, max_amount: {type: string}}}}}
    responses:
      200: {description: "{url, status, paid, payment, body}"}
      400: {description: not paid (refused by policy, no payable offer, bad request)}
      409: {description: a settlement the chain does not show}
    """  # noqa: E501
    from runtime.payments.errors import PaymentError, SettlementUnproven
    from runtime.payments.request import paid_fetch_json

    backend = backend_of(request)
    try:
        return JSONResponse(await paid_fetch_json(backend.executor, backend.ledger, await read_json(request)))
    except SettlementUnproven as exc:
        raise OperatorRefusal(409, str(exc)) from None
    except PaymentError as exc:
        raise OperatorRefusal(400, str(exc)) from None
