"""What a policy rule may refer to, validated against a `RuleContext`: skills, tokens, parties
(DIDs, 0x addresses, agent names), durations, UTC windows and whole counts.

Each is an annotated type whose validator reads the context pydantic is given (the loader passes it),
so a misspelt skill, an unregistered token or an unknown agent name is an error in the file, with a
"did you mean", rather than a rule that silently never matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, Strict, ValidationInfo

from policies.hosts import host_pattern
from policies.units import ADDRESS, TokenRegistry, parse_duration

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
        "revoke_credential",
        "give_feedback",
        "request_validation",
        "answer_validation",
        "pay_x402",
        "settle_x402",
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


def context_of(info: ValidationInfo) -> RuleContext:
    return info.context if isinstance(info.context, RuleContext) else RuleContext()


def _suggest(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _skill(value: str, info: ValidationInfo) -> str:
    known = sorted(context_of(info).skills)
    if value not in known:
        raise ValueError(
            f"unknown skill {value!r}: {_suggest(value, known)}(known skills: {', '.join(known)})"
        )
    return value


def _token(value: str, info: ValidationInfo) -> str:
    tokens = context_of(info).tokens
    if tokens.find(value) is None:
        known = ", ".join(tokens.symbols()) or "none were supplied"
        raise ValueError(
            f"unknown token {value!r}: {_suggest(value, tokens.symbols())}"
            f"name a token the runtime knows by symbol or 0x address (known: {known})"
        )
    return value


def _party(value: str, info: ValidationInfo) -> str:
    names = context_of(info).names
    if value.startswith("did:") or ADDRESS.match(value) or names is None or value in names:
        return value
    if value.startswith("0x"):
        raise ValueError(f"{value!r} is not a 0x address (40 hex digits after 0x)")
    raise ValueError(
        f"unknown agent name {value!r}: {_suggest(value, sorted(names))}"
        f"use a DID, a 0x address or an agent name from agents.yaml (known: {', '.join(sorted(names))})"
    )


def utc_window(value: str) -> str:
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


ESCROW = "DealEscrow"
"""The one contract an agent may approve by default: it pulls only for deals the agent signed."""


def _spender(value: str, info: ValidationInfo) -> str:
    return value if value == ESCROW else _party(value, info)


Skill = Annotated[str, AfterValidator(_skill)]
TokenRef = Annotated[str, AfterValidator(_token)]
Party = Annotated[str, Field(min_length=1), AfterValidator(_party)]
Spender = Annotated[str, Field(min_length=1), AfterValidator(_spender)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
HostPattern = Annotated[str, Field(min_length=1, max_length=260), AfterValidator(host_pattern)]
Count = Annotated[int, BeforeValidator(_strict_int), Strict(), Field(ge=1)]
