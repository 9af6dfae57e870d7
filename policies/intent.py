"""What an action will do (`Intent`) and what the engine may know about the past (`Facts`).

An Intent is built by a skill's `plan` from typed arguments, before any key is touched. Its
`amount` is the value the action takes out of (or commits from) the agent's wallet, in units of
`token` ("25" TUSD): a transfer's, a buyer's deal signature's, an escrow open's, an approval's (what
the spender may pull); an action that only receives leaves `token`/`amount` unset. `spender` names who
an approval lets pull tokens; `spend` is false only for an amount something else already holds.
`resource` is the URL an x402 payment pays for.
`credentials` on the counterparty are the ones it presented and the runtime already verified.

Facts carry the only state `evaluate` reads. They are about the intent's token: `spent_today` is what
the agent spent of it in the last 24 h, `spent_today_with` the same per counterparty (keyed by DID,
0x address or name), `actions_last_period` the actions in the rate-limit period. Missing usage is zero;
`now` defaults to the current UTC time when the facts are made. `reputation` and `settled_deals` are
what ERC-8004's registries say of the intent's counterparty (policies/trust.py); missing means the
runtime could not tell, and a trust rule denies then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from policies.units import normalize_id, parse_amount

Amount = Annotated[Decimal, BeforeValidator(parse_amount)]
"""A decimal amount ≥ 0 in token units; floats are refused."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Credential(_Frozen):
    """A verified credential the counterparty presented: its type and its issuer (DID or address)."""

    type: str = Field(min_length=1)
    issuer: str = Field(min_length=1)


class Counterparty(_Frozen):
    """Who the action is with: at least a DID or an address; `name` is its agent name, if known."""

    did: str | None = Field(None, min_length=1)
    address: str | None = Field(None, min_length=1)
    name: str | None = Field(None, min_length=1)
    credentials: tuple[Credential, ...] = ()

    @model_validator(mode="after")
    def _has_an_id(self) -> Counterparty:
        if self.did is None and self.address is None:
            raise ValueError("a counterparty needs a did or an address")
        return self

    def ids(self) -> tuple[str, ...]:
        """Its DID, address and name as the engine compares them (addresses lower-cased)."""
        did, address, name = self.did, self.address, self.name
        if name is None:
            if address is None:
                return (did,) if did is not None else ()
            return (normalize_id(address),) if did is None else (did, normalize_id(address))
        return tuple(normalize_id(v) for v in (did, address, name) if v is not None)


class Intent(_Frozen):
    """One action as a policy judges it. See the module docstring for what `amount` means."""

    skill: str = Field(min_length=1)
    agent: str = Field(min_length=1, description="the acting agent's DID")
    chain_id: int = Field(ge=0)
    counterparty: Counterparty | None = None
    token: str | None = Field(None, min_length=1, description="a token symbol or its 0x address")
    amount: Amount | None = Field(None, description="decimal string in token units")
    contract: str | None = Field(None, min_length=1, description="contract name or 0x address")
    method: str | None = Field(None, min_length=1, description="contract method name")
    selector: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{8}$", description="4-byte selector")
    typed_data_primary_type: str | None = Field(None, min_length=1)
    spender: str | None = Field(
        None,
        min_length=1,
        description="who the action lets pull the agent's tokens (an approval's spender): a contract name "
        "for the agent's own contracts (DealEscrow), else its 0x address",
    )
    resource: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description="the URL a per-request payment (x402) pays for; the `domains` rule judges its host",
    )
    spend: bool = Field(
        True,
        description="whether `amount` counts against the day and counterparty limits; false only when "
        "something else already holds it (an approval of the agent's own escrow, whose every pull is a "
        "deal signature that holds its amount)",
    )

    @model_validator(mode="after")
    def _amount_has_token(self) -> Intent:
        if self.amount is not None and self.token is None:
            raise ValueError("an amount needs a token: add `token` (a symbol or 0x address)")
        return self


class Reputation(_Frozen):
    """A counterparty's paid feedback as ReputationRegistry sums it: `count` feedbacks averaging
    `value` (0 when there is none)."""

    count: int = Field(0, ge=0)
    value: Decimal = Decimal(0)


class Facts(_Frozen):
    """Usage the engine judges against, for the intent's token; missing usage counts as zero."""

    spent_today: Amount = Decimal(0)
    spent_today_with: Mapping[str, Amount] = Field(default_factory=dict)
    actions_last_period: int = Field(0, ge=0)
    known_counterparties: frozenset[str] = frozenset()
    now: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    reputation: Mapping[str, Reputation] = Field(
        default_factory=dict, description="the counterparty's, by ReputationQuery.key (policies/trust.py)"
    )
    settled_deals: int | None = Field(None, ge=0, description="the counterparty's released deals on record")

    @field_validator("spent_today_with")
    @classmethod
    def _normalize_with(cls, value: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
        return {normalize_id(k): v for k, v in value.items()}

    @field_validator("known_counterparties")
    @classmethod
    def _normalize_known(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(normalize_id(v) for v in value)

    @field_validator("now")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
