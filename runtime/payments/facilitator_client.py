"""A client of any x402 facilitator (Sova's or another's): `supported`, `verify`, `settle` over HTTP.

A facilitator that is down, slow (past `timeout`) or answers something that is not x402 raises
FacilitatorError with one line; the seller then refuses the payment rather than guessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from runtime.payments.errors import BadPaymentHeader, FacilitatorError
from runtime.payments.wire import (
    FacilitatorRequest,
    PaymentPayload,
    Requirements,
    SettleResponse,
    VerifyResponse,
    parse_object,
)

if TYPE_CHECKING:
    from runtime.payments.facilitator import Facilitator

__all__ = ["Facilitates", "FacilitatorClient", "LocalFacilitator"]

M = TypeVar("M", bound=BaseModel)
MAX_ANSWER = 64 * 1024


class FacilitatorClient:
    """Talks to the facilitator at `url` (its base: `<url>/verify`, `<url>/settle`)."""

    def __init__(self, url: str, *, timeout: float = 30.0, client: httpx.AsyncClient | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._own = client is None

    async def close(self) -> None:
        if self._own:
            await self._client.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None, model: type[M]) -> M:
        where = f"{self.url}{path}"
        try:
            response = await self._client.request(method, where, json=body, timeout=self.timeout)
        except httpx.TimeoutException:
            raise FacilitatorError(
                f"the facilitator at {where} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise FacilitatorError(
                f"the facilitator at {where} cannot be reached ({type(exc).__name__})"
            ) from None
        if len(response.content) > MAX_ANSWER:
            raise FacilitatorError(f"the facilitator at {where} answered over {MAX_ANSWER} bytes")
        try:
            data = response.json()
        except ValueError:
            raise FacilitatorError(
                f"the facilitator at {where} answered {response.status_code} without JSON"
            ) from None
        if response.status_code >= 400 and not (
            isinstance(data, dict) and ("isValid" in data or "success" in data)
        ):
            message = data.get("error") if isinstance(data, dict) else None
            raise FacilitatorError(
                f"the facilitator at {where} refused: {response.status_code} {message or ''}".strip()
            )
        try:
            return parse_object(f"the answer of {where}", data, model)
        except BadPaymentHeader as exc:
            raise FacilitatorError(str(exc)) from None

    async def supported(self) -> dict[str, Any]:
        """The facilitator's `/supported` answer, as JSON."""

        class _Any(BaseModel):
            kinds: list[dict[str, Any]]

        found = await self._call("GET", "/supported", None, _Any)
        return found.model_dump()

    @staticmethod
    def _body(payment: PaymentPayload, req: Requirements) -> dict[str, Any]:
        return {
            "x402Version": 2,
            "paymentPayload": payment.model_dump(mode="json", by_alias=True, exclude_none=True),
            "paymentRequirements": req.wire(),
        }

    async def verify(self, payment: PaymentPayload, req: Requirements) -> VerifyResponse:
        """Whether `payment` meets `req` and would settle now."""
        return await self._call("POST", "/verify", self._body(payment, req), VerifyResponse)

    async def settle(self, payment: PaymentPayload, req: Requirements) -> SettleResponse:
        """Settle `payment` on-chain; the facilitator's answer (check `success`)."""
        return await self._call("POST", "/settle", self._body(payment, req), SettleResponse)


class Facilitates(Protocol):
    """What a seller's paywall needs of a facilitator: verify and settle one payment."""

    async def verify(self, payment: PaymentPayload, req: Requirements) -> VerifyResponse: ...

    async def settle(self, payment: PaymentPayload, req: Requirements) -> SettleResponse: ...


class LocalFacilitator:
    """Sova's facilitator called in-process (a seller that runs its own), with the client's interface."""

    def __init__(self, facilitator: Facilitator) -> None:
        self.facilitator = facilitator

    @staticmethod
    def _request(payment: PaymentPayload, req: Requirements) -> FacilitatorRequest:
        return FacilitatorRequest(x402_version=2, payment_payload=payment, payment_requirements=req)

    async def verify(self, payment: PaymentPayload, req: Requirements) -> VerifyResponse:
        return await self.facilitator.verify(self._request(payment, req))

    async def settle(self, payment: PaymentPayload, req: Requirements) -> SettleResponse:
        return await self.facilitator.settle(self._request(payment, req))
