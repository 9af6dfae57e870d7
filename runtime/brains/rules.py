"""The default brain: deterministic alternating-offers negotiation with time-dependent concession.

Between a target price (hoped for) and a reservation price (the worst still accepted), the offer at
negotiation time t ∈ [0, 1] is  target + (reservation − target) · t^(1/e), where e < 1 concedes
late (Boulware), e = 1 linearly, e > 1 early (conceder) — Faratin, Sierra & Jennings (1998). Time is
the larger of the round fraction and the deadline fraction, so a negotiation ends either way.

A peer's offer is accepted when it is at least as good as the offer we would make next; at the end
without agreement the brain rejects. Prices never cross the reservation price or the policy's cap
(the per-action spend limit for a buyer), so whatever a peer does, the brain cannot be talked into
a price its own config or policy forbids. It needs no network and no model.

The concession curve is the brain's `strategy`: a function t -> the share of the way from target to
reservation conceded at t, both in [0, 1]. `Strategies` holds them by name (the three above built in);
a plugin adds its own (`plugin.strategy("name")`). A curve's answer is clamped to [0, 1], so a curve can
shape when the brain concedes but never move it past its reservation or the policy's cap; a curve that
raises or answers a non-number makes the brain reject (no deal) rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, Literal, Protocol

from policies import parse_amount
from runtime.config import RuleBrain

Role = Literal["buyer", "seller"]
EXPONENTS = {"boulware": Decimal("0.2"), "linear": Decimal(1), "conceder": Decimal(5)}

Curve = Callable[[Decimal], Any]
"""A concession curve: negotiation time t in [0, 1] -> the share conceded, a number in [0, 1]."""


class StrategyError(ValueError):
    """A strategy that cannot be registered or used (one line)."""


def _exponent_curve(exponent: Decimal) -> Curve:
    def curve(t: Decimal) -> Decimal:
        return t ** (1 / exponent) if t > 0 else Decimal(0)

    return curve


class Strategies:
    """Concession curves by name: the built-in boulware, linear and conceder, and any added. An
    explicit object (an agent's plugins add to their own); a name registered twice is an error."""

    def __init__(self) -> None:
        self._curves: dict[str, Curve] = {name: _exponent_curve(e) for name, e in EXPONENTS.items()}

    def add(self, name: str, curve: Curve) -> None:
        """Register `curve` as strategy `name`."""
        if not isinstance(name, str) or not name.isidentifier():
            raise StrategyError(f"strategy name {name!r} must be an identifier like 'tit_for_tat'")
        if not callable(curve):
            raise StrategyError(f"strategy {name!r} is not a function of t: give `def curve(t): ...`")
        if name in self._curves:
            raise StrategyError(f"strategy {name!r} is registered already: give the new one another name")
        self._curves[name] = curve

    def strategy(self, name: str) -> Callable[[Curve], Curve]:
        """Decorator: register the function as strategy `name`; returned unchanged."""

        def register(curve: Curve) -> Curve:
            self.add(name, curve)
            return curve

        return register

    def __getitem__(self, name: str) -> Curve:
        found = self._curves.get(name)
        if found is None:
            raise StrategyError(f"unknown strategy {name!r} (known: {', '.join(self.names())})")
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._curves

    def __iter__(self) -> Iterator[str]:
        return iter(self._curves)

    def names(self) -> list[str]:
        return sorted(self._curves)


def conceded(curve: Curve, t: Decimal, name: str) -> Decimal:
    """`curve(t)` as a Decimal clamped to [0, 1]; StrategyError when it fails or is not a number."""
    try:
        raw = curve(t)
        share = raw if isinstance(raw, Decimal) else Decimal(str(raw))
        if isinstance(raw, bool) or not share.is_finite():
            raise ValueError(f"{raw!r} is not a finite number")
    except Exception as exc:  # plugin code: whatever it raised, on one line
        detail = " ".join(str(exc).split())[:120]
        raise StrategyError(f"strategy {name} failed: {type(exc).__name__}: {detail}") from None
    return min(max(share, Decimal(0)), Decimal(1))


@dataclass(frozen=True)
class Move:
    """What the brain does next: accept the peer's price, counter with ours, or reject."""

    kind: Literal["accept", "counter", "reject"]
    price: Decimal | None = None
    reason: str = ""


class NoDealZone(ValueError):
    """The configuration leaves no price the agent may agree to."""


class ConcessionBrain:
    """One side of one negotiation. Prices are Decimals in token units, rounded to `decimals`."""

    def __init__(
        self,
        config: RuleBrain,
        role: Role,
        *,
        cap: Decimal | None = None,
        decimals: int = 6,
        strategies: Strategies | None = None,
    ) -> None:
        self.role = role
        self.rounds = config.rounds
        self.deadline = config.deadline.total_seconds()
        self.strategy = config.strategy
        self.curve = (strategies or Strategies())[config.strategy]
        self.quantum = Decimal(1).scaleb(-decimals)
        target, reservation = Decimal(config.target), Decimal(config.reservation)
        if cap is not None and role == "buyer":
            # The policy caps what the buyer may pay: never plan past it.
            reservation = min(reservation, cap)
            target = min(target, reservation)
        if (role == "buyer" and target > reservation) or (role == "seller" and target < reservation):
            raise NoDealZone(
                f"{role} target {target} is {'above' if role == 'buyer' else 'below'} its reservation "
                f"{reservation}: swap them in agents.yaml (a buyer hopes low, a seller high)"
            )
        self.target, self.reservation = target, reservation

    def time(self, round_no: int, elapsed: float) -> Decimal:
        """Negotiation time in [0, 1]: the further along of rounds used and deadline spent."""
        by_round = Decimal(min(max(round_no, 0), self.rounds)) / Decimal(self.rounds)
        by_clock = (
            Decimal(str(min(max(elapsed, 0.0), self.deadline) / self.deadline))
            if self.deadline
            else Decimal(1)
        )
        return max(by_round, by_clock)

    def offer(self, round_no: int, elapsed: float = 0.0) -> Decimal:
        """Our price at this point: target at the start, reservation at the end."""
        t = self.time(round_no, elapsed)
        concession = conceded(self.curve, t, self.strategy)
        price = self.target + (self.reservation - self.target) * concession
        # Round in our own favour, and never past the reservation.
        rounding = ROUND_DOWN if self.role == "buyer" else ROUND_UP
        price = price.quantize(self.quantum, rounding=rounding)
        return min(price, self.reservation) if self.role == "buyer" else max(price, self.reservation)

    def acceptable(self, price: Decimal) -> bool:
        """Within our reservation (and so within the policy cap)."""
        return price <= self.reservation if self.role == "buyer" else price >= self.reservation

    def respond(self, their_price: Decimal, round_no: int, elapsed: float = 0.0) -> Move:
        """Answer the peer's offer made in `round_no` (0-based)."""
        if round_no + 1 >= self.rounds:
            # The last round: take it if we may, else there is no deal.
            if self.acceptable(their_price):
                return Move("accept", their_price, f"last round: {their_price} is within our reservation")
            return Move(
                "reject", None, f"no agreement within {self.rounds} rounds (last offer {their_price})"
            )
        ours_next = self.offer(round_no + 1, elapsed)
        as_good = their_price <= ours_next if self.role == "buyer" else their_price >= ours_next
        if self.acceptable(their_price) and as_good:
            return Move(
                "accept", their_price, f"{their_price} is at least as good as our next offer {ours_next}"
            )
        return Move("counter", ours_next, f"counter at {ours_next} ({self._describe()})")

    def _describe(self) -> str:
        return f"{self.role}, target {self.target}, reservation {self.reservation}"


@dataclass(frozen=True)
class Situation:
    """Where one side of a negotiation stands when it must move: what the Buyer and Seller tell a
    Decider. `their_price` is None when we open (the seller's first offer); `round_no` is the number
    of the peer's offer in the thread (the propose is offer 0)."""

    role: Role
    item: str
    peer: str
    thid: str
    token: str
    their_price: Decimal | None
    our_price: Decimal | None
    round_no: int
    elapsed: float
    cap: Decimal | None = None
    quote: Decimal | None = None
    """The service's own price for this input (a seller's list price), when it has one."""


class Decider(Protocol):
    """Decides each move of a negotiation: the rule brain (`RuleDecider`) or the LLM brain
    (runtime/brains/llm.py). The Buyer and Seller still check every move against their caps."""

    async def decide(self, situation: Situation) -> Move:
        """The next move in `situation`: accept their price, counter with ours, or reject."""
        ...


class RuleDecider:
    """The ConcessionBrain as a Decider: opening offer, then `respond`. `strategies`: where its
    config's strategy is found (default: the built-in ones)."""

    def __init__(self, config: RuleBrain, strategies: Strategies | None = None) -> None:
        self.config = config
        self.strategies = strategies or Strategies()

    async def decide(self, situation: Situation) -> Move:
        return self.move(situation)

    def move(self, s: Situation) -> Move:
        """The same, synchronously (the LLM brain's fallback uses it too). A strategy that fails
        rejects: no deal rather than a price nobody chose."""
        config = priced(self.config, s.quote) if s.role == "seller" else self.config
        try:
            brain = ConcessionBrain(config, s.role, cap=s.cap, strategies=self.strategies)
            if s.their_price is None:
                price = brain.offer(0, 0.0)
                return Move("counter", price, f"opening at {price} ({brain._describe()})")
            return brain.respond(s.their_price, s.round_no, s.elapsed)
        except StrategyError as exc:
            return Move("reject", None, str(exc))


def priced(config: RuleBrain, quote: Decimal | None) -> RuleBrain:
    """A seller's rules for a service that quoted `quote` for the input: the quote is the reservation
    (the least it takes), and the target keeps the configured target/reservation ratio above it
    (rounded up to the micro-unit). Without a quote, the configured prices."""
    if quote is None:
        return config
    scaled = quote * Decimal(config.target) / Decimal(config.reservation)  # multiplied first: exact if it can
    target = max(quote, scaled.quantize(Decimal("0.000001"), rounding=ROUND_UP))
    return config.model_copy(update={"target": price_text(target), "reservation": price_text(quote)})


def price_text(price: Decimal) -> str:
    """A price as it goes in a message body: a plain decimal string, no exponent, no trailing zeros."""
    text = format(price.normalize(), "f")
    return text


MAX_PRICE_DIGITS = 40
"""A price with more characters than this is refused unread: no deal needs it."""


def read_price(body: Mapping[str, Any], decimals: int = 6) -> Decimal:
    """The `price` of a message body, in the strict amount grammar (policies.parse_amount: ASCII
    digits, no exponent); ValueError when missing, malformed, not positive, or finer than the token's
    `decimals`."""
    raw = body.get("price")
    if not isinstance(raw, str) or len(raw) > MAX_PRICE_DIGITS:
        raise ValueError(
            f"the offer has no price (a decimal string of at most {MAX_PRICE_DIGITS} characters)"
        )
    try:
        price = parse_amount(raw)
    except ValueError as exc:
        raise ValueError(f"the price is not a plain amount: {exc}") from None
    if price <= 0:
        raise ValueError(f"the price {raw!r} is not a positive amount")
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > decimals:
        raise ValueError(f"the price {raw!r} has more than the token's {decimals} decimals")
    return price
