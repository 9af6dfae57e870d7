"""A skill: typed arguments -> `plan` (an Intent and its exact effects, pure) -> `run` (the effect).

    class TransferToken(Skill[TransferArgs]):
        '''Send tokens to another agent.'''            # the description tools show a model
        name = "transfer_token"
        args_model = TransferArgs

        def plan(self, ctx, args) -> Planned[TransferArgs]: ...     # no key, no network write;
            # Planned(intent, args, effects, budget=BudgetUse()): the executor reserves intent.amount
        async def run(self, ctx, planned, signer) -> dict: ...      # signs only planned.effects

Arguments are pydantic models that refuse unknown keys (`SkillArgs`); amounts are decimal strings.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from policies import Intent, parse_amount
from skills.effects import Effect, IdentityEffect, TxEffect, TypedDataEffect
from skills.errors import InvalidSkillArgs

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner


class SkillArgs(BaseModel):
    """Base of skill argument models: frozen, unknown keys refused, no coercion from floats."""

    model_config = ConfigDict(frozen=True, extra="forbid")


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="a 0x wallet or contract address")]
Bytes32 = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="32 bytes as 0x and 64 hex digits")
]
PartyRef = Annotated[
    str, Field(min_length=1, max_length=256, description="the counterparty: a DID, 0x address or agent name")
]
TokenAmount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]+(\.[0-9]+)?$",
            "description": 'a decimal string in token units, like "12.5" (never a float)',
        }
    ),
]

ArgsT = TypeVar("ArgsT", bound=SkillArgs)
E = TypeVar("E", TxEffect, TypedDataEffect, IdentityEffect)


@dataclass(frozen=True)
class BudgetUse:
    """How the executor takes budget for a planned action's `intent.amount` (`Planned.budget`):

    - "spend" (a transfer, an approval of a stranger): reserved before `run`; committed when the money
      moved or may have, released when certainly nothing moved.
    - "hold" (a buyer's deal signature): reserved under `key` until `until` (unix seconds) — as long as
      the signature can move the money; released only when nothing was signed.
    - "consume" (the escrow open that funds a signed deal): judged without the hold `key`, takes it
      (or reserves it anew), commits it when the money moved; after a certain failure it stays held,
      because the signature still stands.
    """

    mode: Literal["spend", "hold", "consume"] = "spend"
    key: str | None = None
    until: float | None = None


@dataclass(frozen=True)
class Planned(Generic[ArgsT]):
    """A planned action: the Intent the policy judges, the validated arguments, the effects the narrow
    signer may sign (in the order `run` makes them) and how its amount takes budget (None: it does
    not; the policy still judges the amount)."""

    intent: Intent
    args: ArgsT
    effects: tuple[Effect, ...] = ()
    budget: BudgetUse | None = None

    def effect(self, kind: type[E], index: int = 0) -> E:
        """Effect number `index`, checked to be a `kind` (a plan/run mismatch is a bug: AssertionError)."""
        found = self.effects[index]
        if not isinstance(found, kind):
            raise AssertionError(
                f"effect {index} of {self.intent.skill} is a {type(found).__name__}, not {kind.__name__}"
            )
        return found

    def describe(self) -> dict[str, Any]:
        """JSON for the ledger and the approval queue."""
        return {
            "intent": self.intent.model_dump(mode="json", exclude_none=True),
            "effects": [e.describe() for e in self.effects],
        }


class Skill(Generic[ArgsT]):
    """Base class of skills; see the module docstring. Subclasses set `name`, `args_model`, and
    implement `plan` and `run`."""

    name: ClassVar[str]
    args_model: type[ArgsT]

    @property
    def description(self) -> str:
        """The class docstring, for tool descriptions and `sova` help."""
        return inspect.cleandoc(type(self).__doc__ or self.name)

    def parse(self, raw: Any) -> ArgsT:
        """Validate raw arguments; InvalidSkillArgs with one line per problem."""
        if not isinstance(raw, dict):
            raise InvalidSkillArgs(self.name, [f"arguments must be a JSON object, not {type(raw).__name__}"])
        try:
            return self.args_model.model_validate(raw)
        except ValidationError as exc:
            raise InvalidSkillArgs(self.name, _problems(exc)) from None

    def plan(self, ctx: SkillContext, args: ArgsT) -> Planned[ArgsT]:
        """The Intent and effects of `args`: pure, no key, no network write."""
        raise NotImplementedError

    async def run(self, ctx: SkillContext, planned: Planned[ArgsT], signer: NarrowSigner) -> dict[str, Any]:
        """Make the planned effects with `signer`; a JSON-ready result."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        if err["type"] == "extra_forbidden":
            out.append(f"{where}: unknown argument: remove it")
        elif err["type"] == "missing":
            out.append(f"{where}: required argument is missing")
        else:
            out.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
    return out
