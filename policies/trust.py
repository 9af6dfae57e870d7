"""Trust rule kinds: judge a counterparty by what ERC-8004's registries say of it, never by its word.

- `min_reputation`: the counterparty's paid feedback (ReputationRegistry `getSummary`, where only a
  client that paid the agent in a settled deal can rate it) must average at least `min` over at least
  `min_count` feedbacks — optionally only feedback from `clients` (wallets) and/or with tag1 `tag`.
- `min_settled_deals`: at least `min` released deals of the counterparty as seller are on record.

Both apply to the intents of `for_skills` (default: a buyer's `sign_deal` and `open_escrow`). The
engine stays pure: the runtime reads the numbers before evaluation and hands them in as
`Facts.reputation` (keyed by `ReputationQuery.key`) and `Facts.settled_deals`; what a policy needs
for an intent is `Policy.trust_need(intent)`. A number the runtime could not read is missing, and a
rule whose number is missing denies (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from policies.refs import Count, Skill, context_of
from policies.units import ADDRESS, normalize_id

__all__ = ["TRUST_SKILLS", "MinReputation", "MinSettledDeals", "ReputationQuery", "TrustNeed"]

TRUST_SKILLS = ("sign_deal", "open_escrow")
"""The skills a trust rule binds by default: a buyer committing to a deal."""


def _client(value: str, info: ValidationInfo) -> str:
    """A client whose feedback counts: a 0x address, or an agent name that stands for one."""
    if ADDRESS.match(value):
        return value
    names = context_of(info).names
    if value.startswith("did:") or value.startswith("0x"):
        raise ValueError(
            f"{value[:60]!r} is not a wallet: feedback is counted by the client's wallet, so give "
            "its 0x address (40 hex digits) or its agent name"
        )
    if names is None:
        raise ValueError(f"{value!r}: agent names cannot be resolved here; give the client's 0x address")
    if value not in names:
        known = ", ".join(sorted(names))
        raise ValueError(f"unknown agent name {value!r}: use a 0x address or an agent name (known: {known})")
    if not any(ADDRESS.match(v) for v in names[value]):
        raise ValueError(f"agent {value!r} has no wallet address yet: give its 0x address")
    return value


def _signed_decimal(value: object) -> object:
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise ValueError(f'write the value as a decimal string like "80", not {value!r}')
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f'{str(value)[:40]!r} is not a number: write it like "80" or "4.5"') from None
    if not number.is_finite():
        raise ValueError(f'{value!r} is not a finite number: write it like "80"')
    return number


Client = Annotated[str, Field(min_length=1), AfterValidator(_client)]
Score = Annotated[Decimal, BeforeValidator(_signed_decimal)]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MinReputation(_Rule):
    """The counterparty's paid feedback averages at least `min` over at least `min_count` feedbacks
    (only those of `clients` and tag1 `tag` when given)."""

    kind: Literal["min_reputation"]
    min: Score
    min_count: Count = 1
    clients: tuple[Client, ...] = ()
    tag: str = Field("", max_length=64)
    for_skills: tuple[Skill, ...] = TRUST_SKILLS


class MinSettledDeals(_Rule):
    """At least `min` released deals of the counterparty as seller are on record."""

    kind: Literal["min_settled_deals"]
    min: Count
    for_skills: tuple[Skill, ...] = TRUST_SKILLS


@dataclass(frozen=True)
class ReputationQuery:
    """One `getSummary` the runtime reads for a rule: over `clients` (wallets, lower-case, sorted;
    empty: every client) and tag1 `tag` ("" any)."""

    clients: tuple[str, ...] = ()
    tag: str = ""

    @property
    def key(self) -> str:
        """Its key in `Facts.reputation`."""
        return ",".join(self.clients) + "|" + self.tag

    @classmethod
    def of(cls, clients: tuple[str, ...], tag: str) -> ReputationQuery:
        return cls(tuple(sorted({normalize_id(c) for c in clients})), tag)


@dataclass(frozen=True)
class TrustNeed:
    """What the runtime must read about an intent's counterparty before evaluation."""

    reputation: tuple[ReputationQuery, ...] = ()
    settled_deals: bool = False

    def __bool__(self) -> bool:
        return bool(self.reputation) or self.settled_deals
