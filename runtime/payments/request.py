"""One paid fetch asked for over the operator API (`POST /v1/fetch`, `sova fetch`): the request body
checked, the fetch run through the agent's executor and ledger, the answer as JSON.

    {"url": "https://…", "method": "GET", "body": "…", "max_amount": "0.5"}

`max_amount` is in token units of the offer's token (a decimal string); `body` is text, sent as is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies import parse_amount
from runtime.payments.buyer import PaidFetch
from runtime.payments.errors import PaymentError

if TYPE_CHECKING:
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink

__all__ = ["FetchRequest", "paid_fetch_json", "parse_request"]


class FetchRequest(BaseModel):
    """What to fetch, and the most one payment may cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")
    method: Literal["GET", "POST"] = "GET"
    body: str | None = Field(None, max_length=64 * 1024)
    max_amount: str | None = Field(None, max_length=80)


def parse_request(data: dict[str, Any]) -> tuple[FetchRequest, Decimal | None]:
    """The request and its maximum as a Decimal; PaymentError with one line when either is wrong."""
    try:
        request = FetchRequest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        raise PaymentError(f"{where}: {err['msg']}") from None
    if request.max_amount is None:
        return request, None
    try:
        return request, parse_amount(request.max_amount)
    except ValueError as exc:
        raise PaymentError(f"max_amount: {exc}") from None


async def paid_fetch_json(executor: Executor, ledger: LedgerSink, data: dict[str, Any]) -> dict[str, Any]:
    """Run one paid fetch for the operator; its summary (status, payment, body)."""
    request, maximum = parse_request(data)
    fetcher = PaidFetch(executor, ledger, origin="operator")
    try:
        result = await fetcher.fetch(
            request.url,
            method=request.method,
            body=request.body.encode() if request.body is not None else None,
            max_amount=maximum,
        )
    finally:
        await fetcher.close()
    return result.summary()
