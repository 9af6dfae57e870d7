"""The policy file format: `version: 1` and a list of rules, each selected by its `kind`.

Models are frozen and refuse unknown keys. Validation needs a context (`RuleContext`, passed as
pydantic's validation context by the loader) that says which skills, tokens and agent names exist, so
that a misspelt skill, an unregistered token or an unknown agent name is an error in the file rather
than a rule that silently never matches (policies/refs.py). What each kind means at evaluation is in
policies/engine.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from policies.intent import Amount
from policies.refs import (
    DEFAULT_SKILLS,
    Count,
    Duration,
    HostPattern,
    Party,
    RuleContext,
    Skill,
    Spender,
    TokenRef,
    context_of,
    utc_window,
)
from policies.trust import MinReputation, MinSettledDeals
from policies.units import to_base_units

__all__ = [
    "DEFAULT_SKILLS", "RULE_KINDS", "AllowSkills", "ApprovalRule", "Contracts", "Counterparties",
    "DealPrice", "Domains", "MinReputation", "MinSettledDeals", "PolicyFile", "RateLimit",
    "RequireCredential", "Rule", "RuleContext", "SpendLimit", "Spenders", "TimeWindow", "When",
    "builtin_rule_models",
]  # fmt: skip


def fits_token(value: Decimal, info: ValidationInfo) -> Decimal:
    """`value` unless it has more decimals than the rule's `token` (validated before it)."""
    token = context_of(info).tokens.find(info.data.get("token") or "")
    if token is not None:
        try:
            to_base_units(value, token.decimals)
        except ValueError:
            raise ValueError(
                f"{token.symbol} has {token.decimals} decimals; {value:f} has more: round it"
            ) from None
    return value


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AllowSkills(_Rule):
    """Grants: the listed skills may run, if no other rule denies or escalates."""

    kind: Literal["allow_skills"]
    skills: tuple[Skill, ...] = Field(min_length=1)


class SpendLimit(_Rule):
    """Limits spending of one token: per action, per rolling 24 h, per counterparty per 24 h."""

    kind: Literal["spend_limit"]
    token: TokenRef
    per_action: Amount | None = None
    per_day: Amount | None = None
    per_counterparty_day: Amount | None = None

    @field_validator("per_action", "per_day", "per_counterparty_day")
    @classmethod
    def _fits_token(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return None if value is None else fits_token(value, info)

    @model_validator(mode="after")
    def _has_a_limit(self) -> SpendLimit:
        if self.per_action is None and self.per_day is None and self.per_counterparty_day is None:
            raise ValueError("no limit given: add per_action, per_day or per_counterparty_day")
        return self


class Counterparties(_Rule):
    """Denies the listed counterparties; a non-empty `allow` also denies everyone not on it."""

    kind: Literal["counterparties"]
    deny: tuple[Party, ...] = ()
    allow: tuple[Party, ...] = ()


class RequireCredential(_Rule):
    """For `for_skills` (default: any intent with a counterparty), the counterparty must have presented
    a verified credential of `type` from one of `issuers`."""

    kind: Literal["require_credential"]
    type: str = Field(min_length=1)
    issuers: tuple[Party, ...] = Field(min_length=1)
    for_skills: tuple[Skill, ...] = ()


class Contracts(_Rule):
    """Contract calls are allowed only to the listed contracts (names or addresses) and methods
    (names or 4-byte selectors)."""

    kind: Literal["contracts"]
    allow: dict[str, tuple[Annotated[str, Field(min_length=1)], ...]] = Field(min_length=1)

    @field_validator("allow")
    @classmethod
    def _methods_listed(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        empty = [name for name, methods in value.items() if not methods]
        if empty:
            raise ValueError(
                f"no methods listed for {', '.join(empty)}: list them, e.g. {{{empty[0]}: [open]}}"
            )
        return value


class RateLimit(_Rule):
    """At most `max` actions per `per` (counted by the runtime, given as facts.actions_last_period)."""

    kind: Literal["rate_limit"]
    max: Count
    per: Duration


class Spenders(_Rule):
    """Who this agent may approve to pull its tokens (an approval's or a permit's spender). Without
    this rule only `DealEscrow` may: its every pull is a deal the agent signed, which holds its
    amount. Any other spender can pull at will, so approving one is a spend of the whole amount."""

    kind: Literal["spenders"]
    allow: tuple[Spender, ...] = Field(min_length=1)


class DealPrice(_Rule):
    """The most one deal may cost the agent as its buyer, in `token`: binds every deal signature and
    escrow open of `for_skills` (default sign_deal, open_escrow), whoever asks for it. An agent adds
    one per token from its buy goals' `max_price`."""

    kind: Literal["deal_price"]
    token: TokenRef
    max: Amount
    for_skills: tuple[Skill, ...] = ("sign_deal", "open_escrow")

    @field_validator("max")
    @classmethod
    def _fits_token(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return fits_token(value, info)


class Domains(_Rule):
    """Intents that pay for a resource (an x402 payment names its URL): its host must match `allow`
    (when non-empty) and not `deny`. A pattern is a host name ("api.example.com"), "*.example.com"
    for its subdomains, or an IP address; ports and schemes are not part of it."""

    kind: Literal["domains"]
    allow: tuple[HostPattern, ...] = ()
    deny: tuple[HostPattern, ...] = ()

    @model_validator(mode="after")
    def _lists_something(self) -> Domains:
        if not self.allow and not self.deny:
            raise ValueError('list hosts to allow or deny, e.g. allow: ["api.example.com", "*.example.org"]')
        return self


class TimeWindow(_Rule):
    """Actions only between two UTC times, end excluded; "22:00-06:00" runs across midnight."""

    kind: Literal["time_window"]
    utc: Annotated[str, AfterValidator(utc_window)]


class When(_Rule):
    """The condition of an approval rule: exactly one of `amount_over` or `new_counterparty: true`."""

    amount_over: Amount | None = None
    token: TokenRef | None = Field(None, description="only spends of this token; default any token")
    new_counterparty: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> When:
        if (self.amount_over is None) == (self.new_counterparty is None):
            raise ValueError(
                'give exactly one condition: {amount_over: "20"} or {new_counterparty: true} '
                "(use two approval rules for both)"
            )
        if self.token is not None and self.amount_over is None:
            raise ValueError("`token` goes with amount_over only")
        return self


class ApprovalRule(_Rule):
    """Escalates matching intents to the operator: `approvers` approvals within `timeout`, else deny."""

    kind: Literal["approval"]
    when: When
    approvers: Count = 1
    timeout: Duration


Rule = Annotated[
    AllowSkills
    | SpendLimit
    | Counterparties
    | Domains
    | RequireCredential
    | Contracts
    | RateLimit
    | TimeWindow
    | ApprovalRule
    | Spenders
    | DealPrice
    | MinReputation
    | MinSettledDeals,
    Field(discriminator="kind"),
]
RULE_KINDS = ("allow_skills", "spend_limit", "counterparties", "require_credential", "contracts",
              "rate_limit", "time_window", "approval", "spenders", "deal_price", "domains", "min_reputation",
              "min_settled_deals")  # fmt: skip


def builtin_rule_models() -> tuple[type[BaseModel], ...]:
    """The built-in rule models, in RULE_KINDS order."""
    return (AllowSkills, SpendLimit, Counterparties, RequireCredential, Contracts, RateLimit, TimeWindow,
            ApprovalRule, Spenders, DealPrice, Domains, MinReputation, MinSettledDeals)  # fmt: skip


class PolicyFile(BaseModel):
    """A whole policy file as validated data (compile it with policies.engine.compile_policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    rules: tuple[Rule, ...]
