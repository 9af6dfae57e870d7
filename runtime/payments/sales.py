"""An agent's services sold per call over x402 (DESIGN §12, §13): `POST /x402/services/{name}` with the
service's JSON input answers `402` with the price (fixed, or derived from that input), runs the handler
only once the payment is verified, settles it, and returns the output (canonical JSON) with
`PAYMENT-RESPONSE`; `GET /x402/services` lists what is sold and for how much.

The shop is anything with `get(name)` and `names()` whose offerings `read` an input, `quote` it in
token units and `run` it (runtime.services.offering.Shop is one; this layer does not import it).
A service that requires a credential of its buyer is not sold here: an HTTP payer presents none
(buy it through a negotiated deal). Every sale is in the seller's ledger (`x402_sale`: payment,
settlement transaction, SHA-256 of input and output), through the paywall.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity.untrusted_json import loads_untrusted
from policies import TokenInfo, format_units, to_base_units
from runtime.payments.exact import network_of
from runtime.payments.facilitator_app import TooLarge, read_body
from runtime.payments.paywall import Handler, Offer, Paywall
from runtime.payments.wire import Requirements, ResourceInfo

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["MAX_TIMEOUT", "SaleOffering", "SaleShop", "Seller", "quote_call", "sales_app", "service_handler"]

MAX_TIMEOUT = 300
"""The `maxTimeoutSeconds` offered: how long a payer's authorization should stay valid."""


class SaleOffering(Protocol):
    """One service as sold: its name, buyer credential requirements, input reader, price, handler."""

    @property
    def name(self) -> str: ...

    @property
    def requires(self) -> tuple[Any, ...]: ...

    def read(self, data: Any) -> Any: ...

    def quote(self, value: Any) -> Decimal: ...

    async def run(self, value: Any) -> tuple[Any, bytes]: ...


class SaleShop(Protocol):
    """The services an agent sells."""

    def get(self, name: str) -> SaleOffering | None: ...

    def names(self) -> list[str]: ...


@dataclass(frozen=True)
class Seller:
    """Who is paid, in what, on which chain, and the base URL the resources are named under."""

    pay_to: str
    token: TokenInfo
    chain_id: int
    base_url: str
    token_name: str = "Test USD"
    token_version: str = "1"

    def offer(self, service: str, amount: int) -> Offer:
        """The x402 offer of one call of `service` for `amount` base units."""
        requirements = Requirements(
            scheme="exact",
            network=network_of(self.chain_id),
            asset=self.token.address,
            amount=str(amount),
            pay_to=self.pay_to,
            max_timeout_seconds=MAX_TIMEOUT,
            extra={"name": self.token_name, "version": self.token_version},
        )
        url = f"{self.base_url.rstrip('/')}/x402/services/{service}"
        return Offer(
            requirements,
            ResourceInfo(url=url, description=f"one call of {service}", mime_type="application/json"),
        )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def quote_call(offering: SaleOffering, body: bytes, token: TokenInfo) -> tuple[Any, int] | str:
    """The validated input of one call and its price in base units, or the one line saying why there is
    none (the input is the buyer's problem: HTTP 400, A2A -32602)."""
    name = offering.name
    try:
        value = offering.read(loads_untrusted(body) if body.strip() else {})
    except Exception as exc:  # BadServiceInput, JSON errors: the input is the buyer's problem
        return f"bad input for {name}: {' '.join(str(exc).split())[:300]}"
    try:
        amount = to_base_units(offering.quote(value), token.decimals)
    except Exception as exc:
        return f"{name} cannot price this input: {' '.join(str(exc).split())[:200]}"
    if amount <= 0:
        return f"{name} prices this input at {format_units(amount, token.decimals)}: nothing to sell"
    return value, amount


def service_handler(offering: SaleOffering, value: Any) -> Handler:
    """The paid work of one call: `offering` run on `value`; a failure is a 500, never settled."""

    async def handler(_: bytes) -> tuple[int, bytes, str]:
        try:
            _, raw = await offering.run(value)
        except Exception as exc:  # ServiceFailed: reported, never settled
            return 500, bytes(JSONResponse({"error": str(exc)[:500]}).body), "application/json"
        return 200, raw, "application/json"

    return handler


def sales_app(shop: SaleShop, seller: Seller, paywall: Paywall) -> Starlette:
    """The Starlette app selling `shop`'s services for `seller` through `paywall`."""

    async def listing(request: Request) -> Response:
        items = []
        for name in shop.names():
            found = shop.get(name)
            if found is not None and not found.requires:
                items.append({"name": name, "url": seller.offer(name, 0).resource.url})
        return JSONResponse(
            {"network": network_of(seller.chain_id), "asset": seller.token.address, "services": items}
        )

    async def sell(request: Request) -> Response:
        name = request.path_params["name"]
        offering = shop.get(name)
        if offering is None:
            return _error(404, f"no service {name[:64]!r} here: GET /x402/services lists them")
        if offering.requires:
            return _error(403, f"{name} needs a credential of its buyer: buy it through a negotiated deal")
        try:
            body = await read_body(request)
        except TooLarge:
            return _error(413, "the input is too large")
        priced = quote_call(offering, body, seller.token)
        if isinstance(priced, str):
            return _error(400, priced)
        value, amount = priced
        offer = seller.offer(name, amount)
        return await paywall.serve(request, offer, body, service_handler(offering, value))

    return Starlette(
        routes=[
            Route("/x402/services", listing, methods=["GET"]),
            Route("/x402/services/{name}", sell, methods=["POST"]),
        ]
    )
