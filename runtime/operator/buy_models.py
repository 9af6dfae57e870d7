"""What a purchase asks for and how it ended, as the operator API's `POST /v1/buy` and its clients
(`sova buy`, `runtime.operator.buying.SovaClient`) exchange it. Plain pydantic models, no I/O."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policies.units import amount_problem, parse_amount

__all__ = ["DEAL_ENDS", "BuyRequest", "BuyResult", "max_price_problem", "parse_input"]

DEAL_ENDS = frozenset({"released", "refunded", "declined", "failed", "expired", "disputed", "interrupted"})
"""Deal states a purchase waits for: the deal is over for the buyer (released: paid for a result)."""
MAX_TIMEOUT = 600.0


class BuyRequest(BaseModel):
    """Buy `service` on `input` from a registered seller (or the one named: agent name or DID), at most
    `max_price` (it can only lower the agent's policy caps), waiting at most `timeout` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=200)
    input: Any = Field(default_factory=dict)
    max_price: str | None = None
    seller: str | None = Field(default=None, min_length=1, max_length=300)
    timeout: float = Field(default=180.0, gt=0, le=MAX_TIMEOUT)


class BuyResult(BaseModel):
    """How one purchase ended. `state` "released" means paid for a checked `output`; any other state
    means no deal (`reason` says why in one line; "no deal" when none was started)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    state: str
    service: str
    reason: str = ""
    deal_id: str = ""
    thread: str = ""
    seller: str = ""
    price: str = ""
    token: str = "TUSD"
    input: Any = None
    output: Any = None
    txs: dict[str, str] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the deal was released: paid, with a result that passed the checks."""
        return self.state == "released"

    def line(self) -> str:
        """One line for a log or a terminal."""
        if self.ok:
            output = json.dumps(self.output, sort_keys=True)
            deal = self.deal_id or self.thread
            paid = f"{self.price} {self.token}"
            return f"deal {deal} {self.service} from {self.seller}: {paid}, released; result {output}"
        return f"no deal for {self.service}: {self.reason or self.state}"


def max_price_problem(value: str | None) -> str | None:
    """Why `value` is not a usable max price (None when it is one, or absent)."""
    if value is None:
        return None
    try:
        price = parse_amount(value)
    except ValueError:
        return f"--max-price: {amount_problem(value)}"
    if price <= 0:
        return f"--max-price must be over 0, not {value!r}"
    return None


def parse_input(text: str) -> Any:
    """The JSON of `--input`; ValueError with one line saying where it does not parse."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--input is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
            """write e.g. '{"text": "a b c"}'"""
        ) from None
