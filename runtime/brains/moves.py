"""The moves an LLM may make in a negotiation, and their limits (used by runtime/brains/llm.py).

Three decision tools — `counter(price, reason)`, `accept(reason)`, `reject(reason)` — shown to the model
with JSON schemas; the model's calls of them are judged by a `Ballot`, never run as tools. A Ballot holds
the limits of one move (the buyer's ceiling, the seller's floor, the last round, the token's precision)
and takes the first call within them as the move; each other call is refused with a one-line reason
that goes back to the model and into the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from runtime.brains.rules import Move, Situation, price_text
from runtime.executor.action_log import jsonable

DECISIONS = ("counter", "accept", "reject")
MAX_REASON = 300
_REASON = {"type": "string", "description": "why, in one sentence (goes in the ledger)"}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "counter": {
        "title": "counter",
        "type": "object",
        "properties": {
            "price": {"type": "string", "description": 'decimal string, e.g. "10.5"'},
            "reason": _REASON,
        },
        "required": ["price"],
        "additionalProperties": False,
    },
    "accept": {
        "title": "accept",
        "type": "object",
        "properties": {"reason": _REASON},
        "additionalProperties": False,
    },
    "reject": {
        "title": "reject",
        "type": "object",
        "properties": {"reason": _REASON},
        "additionalProperties": False,
    },
}
_DESCRIPTIONS = {
    "counter": "Make our offer at `price` (token units). Ends your turn.",
    "accept": "Accept the peer's current offer at its price. Ends your turn.",
    "reject": "Walk away from this negotiation. Ends your turn.",
}


@dataclass
class Ballot:
    """One move being decided: the limits, each decision call and the move once a valid one is made."""

    situation: Situation
    floor: Decimal | None
    ceiling: Decimal | None
    last_round: bool
    quantum: Decimal
    move: Move | None = None
    steps: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def consider(self, name: str, args: Any) -> str | None:
        """Take the decision `name(args)`: None when it is the move now, else why it is refused."""
        problem = self._problem(name, args)
        entry = {"tool": name, "args": jsonable(args), "verdict": "refused" if problem else "taken"}
        self.calls.append(entry | ({"reason": problem} if problem else {}))
        return problem

    def _problem(self, name: str, args: Any) -> str | None:
        s = self.situation
        if self.move is not None:
            return "a move was already made in this turn"
        if not isinstance(args, dict):
            return "the arguments must be an object"
        allowed = {"price", "reason"} if name == "counter" else {"reason"}
        extra = sorted(set(args) - allowed)
        if extra:
            return f"{', '.join(extra)}: unknown argument (allowed: {', '.join(sorted(allowed))})"
        reason = one_line(args.get("reason", ""))
        if name == "reject":
            self.move = Move("reject", None, f"llm: {reason or 'rejected'}")
            return None
        if name == "accept":
            if s.their_price is None:
                return "there is no offer to accept yet: make the opening offer with counter"
            if not self._within(s.their_price):
                return f"accepting {s.their_price} is outside the limits ({self.limits()})"
            self.move = Move("accept", s.their_price, f"llm: {reason or 'accepted'}")
            return None
        if self.last_round:
            return "this is the last round: accept or reject"
        price = _price(args.get("price"))
        if price is None:
            return f'price {args.get("price")!r} is not a positive decimal string like "10.5"'
        if not self._within(price):
            return f"a price of {price_text(price)} is outside the limits ({self.limits()})"
        # Round in our own favour to the token's precision.
        price = price.quantize(self.quantum, rounding=ROUND_DOWN if s.role == "buyer" else ROUND_UP)
        if not self._within(price):
            return f"a price of {price_text(price)} is outside the limits ({self.limits()})"
        if s.their_price is not None and (
            price >= s.their_price if s.role == "buyer" else price <= s.their_price
        ):
            return (
                f"{price_text(price)} is no better for us than their offer {s.their_price}: accept it instead"
            )
        self.move = Move("counter", price, f"llm: {reason or f'counter at {price}'}")
        return None

    def _within(self, price: Decimal) -> bool:
        if price <= 0:
            return False
        if self.ceiling is not None and price > self.ceiling:
            return False
        return not (self.floor is not None and price < self.floor)

    def limits(self) -> str:
        parts = []
        if self.ceiling is not None:
            parts.append(f"at most {self.ceiling}")
        if self.floor is not None:
            parts.append(f"at least {self.floor}")
        return " and ".join(parts) or "any positive price"


def decision_tools() -> list[BaseTool]:
    """The three decision tools as the model sees them (DecisionMiddleware answers their calls)."""

    async def never(**kwargs: Any) -> str:  # DecisionMiddleware answers these calls itself
        return "REFUSED: decisions are taken by the middleware"

    return [
        StructuredTool.from_function(
            coroutine=never,
            name=name,
            description=_DESCRIPTIONS[name],
            args_schema=_SCHEMAS[name],
            infer_schema=False,
        )
        for name in DECISIONS
    ]


def _price(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)) or len(str(raw)) > 40:
        return None
    try:
        price = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    # Beyond 10^18 token units is nonsense (and too big to round to the token's precision).
    return price if price.is_finite() and 0 < price < Decimal(10) ** 18 else None


def one_line(text: Any) -> str:
    """`text` on one line, cut to MAX_REASON characters (what the ledger keeps of a model's words)."""
    return " ".join(str(text).split())[:MAX_REASON]
