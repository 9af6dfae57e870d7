"""The policy file format: `version: 1` and a list of rules, each selected by its `kind`.

Models are frozen and refuse unknown keys. Validation needs a context (`RuleContext`, passed as
pydantic's validation context by the loader) that says which skills, tokens and agent names exist, so
that a misspelt skill, an unregistered token or an unknown agent name is an error in the file rather
than a rule that silently never matches. What each kind means at evaluation is in policies/engine.py.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from policies.intent import Amount
from policies.units import ADDRESS, TokenRegistry, parse_duration, to_base_units

DEFAULT_SKILLS: frozenset[str] = frozenset(
    [
        "transfer_token",
        "approve_token",
        "sign_deal",
        "open_escrow",
        "release_escrow",
        "refund_escrow",
        "present_credential",
        "issue_credential",
        "send_message",
        "anchor_log",
        "register_agent",
    ]
)
"""The skill catalog's names; a policy naming any other skill is refused unless the caller says so."""

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class RuleContext:
    """What a policy may refer to: skill names, tokens, and agent names -> their DIDs / addresses.

    `names` None means "no resolver": names are then kept as given and match a counterparty's `name`.
    """

    tokens: TokenRegistry = field(default_factory=TokenRegistry)
    skills: frozenset[str] = DEFAULT_SKILLS
    names: Mapping[str, tuple[str, ...]] | None = None


def _context(info: ValidationInfo) -> RuleContext:
    return info.context if isinstance(info.context, RuleContext) else RuleContext()


def _suggest(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _skill(value: str, info: ValidationInfo) -> str:
    known = sorted(_context(info).skills)
    if value not in known:
        raise ValueError(
            f"unknown skill {value!r}: {_suggest(value, known)}(known skills: {', '.join(known)})"
        )
    return value


def _token(value: str, info: ValidationInfo) -> str:
    tokens = _context(info).tokens
    if tokens.find(value) is None:
        known = ", ".join(tokens.symbols()) or "none were supplied"
        raise ValueError(
            f"unknown token {value!r}: {_suggest(value, tokens.symbols())}"
            f"name a token the runtime knows by symbol or 0x address (known: {known})"
        )
    return value


def _party(value: str, info: ValidationInfo) -> str:
    names = _context(info).names
    if value.startswith("did:") or ADDRESS.match(value) or names is None or value in names:
        return value
    if value.startswith("0x"):
        raise ValueError(f"{value!r} is not a 0x address (40 hex digits after 0x)")
    raise ValueError(
        f"unknown agent name {value!r}: {_suggest(value, sorted(names))}"
        f"use a DID, a 0x address or an agent name from agents.yaml (known: {', '.join(sorted(names))})"
    )


def _window(value: str) -> str:
    match = _WINDOW.match(value.replace(" ", ""))
    if match is None or (match.group(3) == "24" and match.group(4) != "00"):
        raise ValueError(f'bad time window {value!r}: write "HH:MM-HH:MM" in UTC, like "06:00-22:00"')
    if match.group(1, 2) == match.group(3, 4):
        raise ValueError(f"time window {value!r} is empty: start and end differ (for always, drop the rule)")
    return value.replace(" ", "")


def _strict_int(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number like 30, got {value!r}")
    return value


Skill = Annotated[str, AfterValidator(_skill)]
TokenRef = Annotated[str, AfterValidator(_token)]
Party = Annotated[str, Field(min_length=1), AfterValidator(_party)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Count = Annotated[int, BeforeValidator(_strict_int), Strict(), Field(ge=1)]


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
        token = _context(info).tokens.find(info.data.get("token") or "")
        if value is not None and token is not None:
            try:
                to_base_units(value, token.decimals)
            except ValueError:
                raise ValueError(
                    f"{token.symbol} has {token.decimals} decimals; {value:f} has more: round it"
                ) from None
        return value

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


class TimeWindow(_Rule):
    """Actions only between two UTC times, end excluded; "22:00-06:00" runs across midnight."""

    kind: Literal["time_window"]
    utc: Annotated[str, AfterValidator(_window)]


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
    | RequireCredential
    | Contracts
    | RateLimit
    | TimeWindow
    | ApprovalRule,
    Field(discriminator="kind"),
]
RULE_KINDS = ("allow_skills", "spend_limit", "counterparties", "require_credential", "contracts",
              "rate_limit", "time_window", "approval")  # fmt: skip


class PolicyFile(BaseModel):
    """A whole policy file as validated data (compile it with policies.engine.compile_policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    rules: tuple[Rule, ...]
