"""The buyer's side of x402: fetch a URL, and when it answers `402`, pay through the executor and
retry (DESIGN §13).

    buyer = PaidFetch(executor, ledger)
    result = await buyer.fetch("https://api.example.com/weather", max_amount=Decimal("0.25"))

1. Request the URL. Anything but a `402` is the answer: nothing is paid.
2. Read `PAYMENT-REQUIRED` (or the same object as the JSON body) and choose the cheapest `accepts`
   entry this agent can pay: scheme `exact`, its own chain, a token it knows, at most `max_amount`.
3. Run `pay_x402` through the executor: the policy judges it, the narrow signer signs that one
   authorization, the budget is taken. A denial ends here, with nothing signed.
4. Retry with `PAYMENT-SIGNATURE`. A `2xx` must carry `PAYMENT-RESPONSE` for this payer and network;
   with a chain client the settlement transaction is looked up, and a Transfer of exactly the amount
   from this agent to the payee must be in its receipt (a facilitator or merchant that lies is
   caught: SettlementUnproven).
5. Every step that happened is one `x402_payment` ledger entry: URL, offer, executor action, status,
   settlement transaction and the SHA-256 of the body received. A merchant that took the payment and
   answered an error is recorded so; no result is made up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from policies import TokenRegistry, format_units
from runtime.payments.errors import BadPaymentHeader, NoPayableOffer, PaymentError, SettlementUnproven
from runtime.payments.exact import network_of
from runtime.payments.onchain import transfer_on_chain
from runtime.payments.wire import (
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    PaymentPayload,
    PaymentRequired,
    Requirements,
    SettleResponse,
    decode_header,
    encode_header,
    parse_object,
)

if TYPE_CHECKING:
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink

__all__ = ["MAX_RESPONSE", "FetchResult", "PaidFetch", "choose_offer"]

MAX_RESPONSE = 4 * 1024 * 1024
"""The most of a response body read (bytes); a longer one is refused."""


@dataclass
class FetchResult:
    """What came of one fetch: the final HTTP answer and, when a payment was made, its record."""

    url: str
    status: int
    body: bytes
    content_type: str
    paid: bool = False
    payment: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON for the CLI: status, the payment, and the body as text when it is text."""
        text: str | None
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "url": self.url,
            "status": self.status,
            "content_type": self.content_type,
            "paid": self.paid,
            "payment": self.payment,
            "body": text if text is not None else f"<{len(self.body)} bytes of binary>",
        }


def choose_offer(
    required: PaymentRequired, chain_id: int, tokens: TokenRegistry, max_amount: Decimal | None
) -> Requirements:
    """The cheapest entry of `required` this agent can pay, at most `max_amount` token units;
    NoPayableOffer saying why each one is not."""
    why: list[str] = []
    payable: list[tuple[Decimal, Requirements]] = []
    for entry in required.accepts:
        token = tokens.find(entry.asset) if entry.asset.startswith("0x") else None
        if entry.scheme != "exact":
            why.append(f"scheme {entry.scheme[:32]} (only exact)")
        elif entry.network != network_of(chain_id):
            why.append(f"network {entry.network[:40]} (this agent pays on {network_of(chain_id)})")
        elif token is None:
            why.append(f"asset {entry.asset[:42]} (not a token this agent knows)")
        elif max_amount is not None and (units := _units(entry.amount, token.decimals)) > max_amount:
            why.append(f"{units:f} {token.symbol} (over the maximum of {max_amount:f})")
        else:
            payable.append((_units(entry.amount, token.decimals), entry))
    if not payable:
        detail = "; ".join(why) or "the 402 lists no accepts entry"
        raise NoPayableOffer(f"no offer this agent can pay: {detail}")
    return min(payable, key=lambda found: found[0])[1]


def _units(base: str, decimals: int) -> Decimal:
    return Decimal(format_units(int(base), decimals))


def _required(response: httpx.Response) -> PaymentRequired:
    header = response.headers.get(PAYMENT_REQUIRED)
    if header is not None:
        return decode_header(PAYMENT_REQUIRED, header, PaymentRequired)
    try:
        data = json.loads(response.content)
    except ValueError:
        raise BadPaymentHeader("the 402 has no PAYMENT-REQUIRED header and no x402 JSON body") from None
    return parse_object("the 402 body", data, PaymentRequired)


class PaidFetch:
    """Fetches URLs for one agent, paying x402 `402`s through its executor."""

    def __init__(
        self,
        executor: Executor,
        ledger: LedgerSink,
        *,
        client: httpx.AsyncClient | None = None,
        origin: str = "operator",
        timeout: float = 60.0,
    ) -> None:
        self.executor = executor
        self.ledger = ledger
        self.origin = origin
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._own = client is None

    async def close(self) -> None:
        if self._own:
            await self._client.aclose()

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            async with self._client.stream(method, url, content=body, headers=headers) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE:
                        raise PaymentError(f"{url} answered more than {MAX_RESPONSE} bytes; not read")
                    chunks.append(chunk)
                return httpx.Response(
                    response.status_code, headers=response.headers, content=b"".join(chunks)
                )
        except httpx.HTTPError as exc:
            raise PaymentError(f"{url} cannot be reached ({type(exc).__name__}: {exc})") from None

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        max_amount: Decimal | None = None,
    ) -> FetchResult:
        """Fetch `url`, paying a `402` of at most `max_amount` token units (see the module docstring)."""
        base = dict(headers or {})
        first = await self._send(method, url, body, base)
        if first.status_code != 402:
            return _result(url, first)
        required = _required(first)
        ctx = self.executor.context
        offer = choose_offer(required, ctx.chain_id, ctx.tokens, max_amount)
        token = ctx.tokens.find(offer.asset)
        assert token is not None  # choose_offer takes only known tokens
        price = f"{format_units(int(offer.amount), token.decimals)} {token.symbol}"
        record: dict[str, Any] = {"url": url, "offer": offer.wire(), "price": price, "pay_to": offer.pay_to}
        outcome = await self.executor.execute(
            "pay_x402", {"resource": url, "accepted": offer.standard()}, self.origin
        )
        record["action_id"] = outcome.action_id
        if not outcome.ok or outcome.result is None:
            record.update(status="not_paid", reasons=list(outcome.reasons))
            await self.ledger.append_async("x402_payment", record)
            raise PaymentError(f"payment not made: {outcome.message()}")
        payment = PaymentPayload(
            x402_version=2, resource=required.resource, accepted=offer, payload=outcome.result["payload"]
        )
        second = await self._send(method, url, body, {**base, PAYMENT_SIGNATURE: encode_header(payment)})
        return await self._finish(url, offer, second, record)

    async def _finish(
        self, url: str, offer: Requirements, response: httpx.Response, record: dict[str, Any]
    ) -> FetchResult:
        result = _result(url, response)
        record.update(
            http_status=response.status_code, body_sha256="0x" + hashlib.sha256(response.content).hexdigest()
        )
        header = response.headers.get(PAYMENT_RESPONSE)
        settled: SettleResponse | None = None
        problem: str | None = None
        if header is not None:
            try:
                settled = decode_header(PAYMENT_RESPONSE, header, SettleResponse)
            except BadPaymentHeader as exc:
                problem = str(exc)
        if settled is not None:
            record.update(transaction=settled.transaction, settled=settled.success)
            problem = await self._check_settlement(offer, settled)
        if response.status_code == 402:
            record["status"] = "refused"
            try:
                record["error"] = (_required(response).error or "")[:300]
            except PaymentError:
                record["error"] = "unreadable 402"
        elif response.status_code >= 400:
            record["status"] = "paid_but_failed" if settled is not None and settled.success else "failed"
        elif settled is None or problem is not None:
            record["status"] = "unproven"
        else:
            record["status"] = "paid"
        if problem is not None:
            record["problem"] = problem[:300]
        # Not a barrier: the payment's decision and signature are the executor's entries, which are on
        # disk before anything was sent; this adds the answer and reaches the disk within the flush
        # interval (and the chain keeps the settlement either way).
        await self.ledger.append_async("x402_payment", record, barrier=False)
        result.paid = record["status"] in ("paid", "paid_but_failed")
        result.payment = record
        if record["status"] == "unproven":
            raise SettlementUnproven(
                problem or f"{url} answered {response.status_code} without PAYMENT-RESPONSE"
            )
        return result

    async def _check_settlement(self, offer: Requirements, settled: SettleResponse) -> str | None:
        ctx = self.executor.context
        if not settled.success:
            return f"the settlement failed: {settled.error_reason}"
        if settled.network != offer.network or (settled.payer or "").lower() != ctx.agent_address.lower():
            return "the PAYMENT-RESPONSE is for another payer or network"
        if ctx.chain is None:
            return None
        return await transfer_on_chain(ctx.chain, offer, ctx.agent_address, settled.transaction)


def _result(url: str, response: httpx.Response) -> FetchResult:
    return FetchResult(url, response.status_code, response.content, response.headers.get("content-type", ""))
