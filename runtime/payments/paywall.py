"""The seller's side of x402: answer `402` with what a call costs, verify a payment before the handler
runs, settle it after the handler succeeded, and return the result with `PAYMENT-RESPONSE`.

    paywall = Paywall(FacilitatorClient(url), ledger)
    response = await paywall.serve(request, offer, body, handler)    # handler(body) -> (status, bytes, type)

- No `PAYMENT-SIGNATURE`: `402` with `PAYMENT-REQUIRED` (and the same object as the JSON body).
- A header that cannot be read, a payment for another offer (asset, payee, amount, network), or one
  the facilitator finds invalid: `402` with the reason; the handler does not run.
- The same authorization presented again while it is being served: refused at once (one payment,
  one call), whatever the facilitator says.
- The handler fails: its error is answered, nothing is settled (the payer keeps the money).
- The settlement fails (or the facilitator is down or slow), or — with a chain client — its
  transaction does not show the Transfer: `402`; the result is not handed over.

Every sale is one `x402_sale` ledger entry: the resource, payer, asset, amount, the settlement
transaction and the SHA-256 of the input and the output; a refusal is an `x402_refused` entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from runtime.payments.errors import BadPaymentHeader, FacilitatorError
from runtime.payments.onchain import transfer_on_chain
from runtime.payments.wire import (
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    PaymentPayload,
    PaymentRequired,
    Requirements,
    ResourceInfo,
    SettleResponse,
    decode_header,
    encode_header,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from runtime.ledger.sink import LedgerSink
    from runtime.payments.facilitator_client import Facilitates
    from wallet.chain import ChainClient

__all__ = ["Charged", "Handler", "Offer", "Paywall"]

Handler = Callable[[bytes], Awaitable[tuple[int, bytes, str]]]
"""The paid work: the request body -> (status, response body, content type); a status ≥ 400 is a failure."""


@dataclass(frozen=True)
class Offer:
    """What one call of a resource costs: the accepts entry and the resource it is for."""

    requirements: Requirements
    resource: ResourceInfo

    def required(self, error: str | None = None) -> PaymentRequired:
        return PaymentRequired(
            x402_version=2, error=error, resource=self.resource, accepts=(self.requirements,)
        )


@dataclass(frozen=True)
class Charged:
    """What came of one paid call, whatever the transport: the handler's answer with the settlement,
    the handler's failure (`settled` None, nothing settled), or a refusal (`refused`: why; the
    handler did not run, or its result is withheld)."""

    status: int = 402
    output: bytes = b""
    content_type: str = "application/json"
    settled: SettleResponse | None = None
    refused: str | None = None


def _sha256(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def _same(a: Requirements, b: Requirements) -> bool:
    return (
        a.scheme == b.scheme
        and a.network == b.network
        and a.asset.lower() == b.asset.lower()
        and a.pay_to.lower() == b.pay_to.lower()
        and int(a.amount) == int(b.amount)
    )


class Paywall:
    """Serves paid calls through one facilitator (a FacilitatorClient over HTTP, or a LocalFacilitator),
    recording every sale in `ledger`."""

    def __init__(
        self, facilitator: Facilitates, ledger: LedgerSink, chain: ChainClient | None = None
    ) -> None:
        self.facilitator = facilitator
        self.ledger = ledger
        self.chain = chain
        """With a chain client, a settlement is believed only when its receipt shows the Transfer."""
        self._serving: set[str] = set()

    def payment_required(self, offer: Offer, error: str | None = None) -> Response:
        """The `402` answer for `offer` (with `error` when a payment was refused)."""
        required = offer.required(error)
        body = required.model_dump(mode="json", by_alias=True, exclude_none=True)
        return JSONResponse(body, status_code=402, headers={PAYMENT_REQUIRED: encode_header(required)})

    async def _refuse(self, offer: Offer, payer: str | None, reason: str, input_hash: str) -> Response:
        await self.ledger.append_async(
            "x402_refused",
            {
                "resource": offer.resource.url,
                "payer": payer,
                "reason": reason[:300],
                "input_sha256": input_hash,
            },
            barrier=False,
        )
        return self.payment_required(offer, reason[:1000])

    async def serve(self, request: Request, offer: Offer, body: bytes, handler: Handler) -> Response:
        """Answer one request for `offer` (see the module docstring)."""
        header = request.headers.get(PAYMENT_SIGNATURE)
        if header is None:
            return self.payment_required(offer)
        input_hash = _sha256(body)
        try:
            payment = decode_header(PAYMENT_SIGNATURE, header, PaymentPayload)
        except BadPaymentHeader as exc:
            return await self._refuse(offer, None, str(exc), input_hash)
        charged = await self.charge(offer, payment, body, handler)
        if charged.refused is not None:
            return self.payment_required(offer, charged.refused[:1000])
        headers = {PAYMENT_RESPONSE: encode_header(charged.settled)} if charged.settled is not None else {}
        return Response(
            charged.output, status_code=charged.status, media_type=charged.content_type, headers=headers
        )

    async def charge(self, offer: Offer, payment: PaymentPayload, body: bytes, handler: Handler) -> Charged:
        """One paid call of `offer` with `payment` (any transport: HTTP here, A2A in a2a_sales.py):
        verified before `handler` runs on `body`, settled only after it succeeded, every outcome in
        the ledger."""
        input_hash = _sha256(body)
        payer = _payer(payment)
        if not _same(payment.accepted, offer.requirements):
            return await self._refused(
                offer, payer, "the payment is not for this offer: pay what the 402 asks", input_hash
            )
        key = json.dumps(payment.payload.get("authorization"), sort_keys=True, default=str)
        if key in self._serving:
            return await self._refused(
                offer, payer, "this payment is already being used for another call", input_hash
            )
        self._serving.add(key)
        try:
            return await self._paid(offer, payment, payer, body, input_hash, handler)
        finally:
            self._serving.discard(key)

    async def _refused(self, offer: Offer, payer: str | None, reason: str, input_hash: str) -> Charged:
        await self._refuse(offer, payer, reason, input_hash)
        return Charged(refused=reason)

    async def _paid(
        self,
        offer: Offer,
        payment: PaymentPayload,
        payer: str | None,
        body: bytes,
        input_hash: str,
        handler: Handler,
    ) -> Charged:
        try:
            verified = await self.facilitator.verify(payment, offer.requirements)
        except FacilitatorError as exc:
            return await self._refused(offer, payer, f"the payment could not be verified: {exc}", input_hash)
        if not verified.is_valid:
            why = f"{verified.invalid_reason}: {verified.invalid_message or 'invalid payment'}"
            return await self._refused(offer, payer, why, input_hash)
        status, output, content_type = await handler(body)
        if status >= 400:
            await self.ledger.append_async(
                "x402_refused",
                {"resource": offer.resource.url, "payer": payer, "reason": f"the handler failed ({status}); "
                 "nothing was settled", "input_sha256": input_hash},
            )  # fmt: skip
            return Charged(status, output, content_type)
        try:
            settled = await self.facilitator.settle(payment, offer.requirements)
        except FacilitatorError as exc:
            return await self._refused(offer, payer, f"the payment could not be settled: {exc}", input_hash)
        if not settled.success:
            why = f"settlement failed: {settled.error_reason}: {settled.error_message or ''}".rstrip(": ")
            return await self._refused(offer, payer, why, input_hash)
        if self.chain is not None:
            missing = await transfer_on_chain(
                self.chain, offer.requirements, payer or "", settled.transaction
            )
            if missing is not None:
                return await self._refused(
                    offer, payer, f"the facilitator's settlement is not on-chain: {missing}", input_hash
                )
        await self.ledger.append_async(
            "x402_sale", _sale(offer, payer, settled.transaction, input_hash, output)
        )
        return Charged(status, output, content_type, settled)


def _sale(offer: Offer, payer: str | None, tx: str, input_hash: str, output: bytes) -> dict[str, Any]:
    req = offer.requirements
    return {
        "resource": offer.resource.url,
        "payer": payer,
        "pay_to": req.pay_to,
        "asset": req.asset,
        "amount": req.amount,
        "network": req.network,
        "transaction": tx,
        "input_sha256": input_hash,
        "output_sha256": _sha256(output),
    }


def _payer(payment: PaymentPayload) -> str | None:
    auth = payment.payload.get("authorization")
    found = auth.get("from") if isinstance(auth, dict) else None
    return found[:64] if isinstance(found, str) else None
