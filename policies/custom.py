"""Rule kinds a runtime adds to the built-in ones: a pydantic model with a `kind` and an evaluation.

    kinds = RuleKinds()

    @kinds.rule_kind
    class MaxAmountFor(CustomRule):
        '''Denies an intent of `skill` over `max` (in units of the intent's token).'''
        kind: Literal["max_amount_for"]
        skill: str
        max: Amount

        def evaluate(self, intent: Intent, facts: Facts) -> RuleVerdict | None:
            if intent.skill != self.skill or intent.amount is None:
                return None                                  # does not apply
            if intent.amount > self.max:
                return ("deny", f"{intent.amount} is over {self.max}")
            return ("allow", f"{intent.amount} is within {self.max}")

Pass the registry to `load_policy(..., rule_kinds=kinds)` / `parse_policy`: a policy file may then use
`kind: max_amount_for`, validated like any rule (unknown keys refused, amounts in the strict grammar of
`policies.units`, the `RuleContext` given to validators). The engine calls `evaluate` for each intent.

What a custom rule may not change: default deny and deny-beats-allow. Its "allow" never grants a skill
(only `allow_skills` does); it can only add a reason. It cannot escalate. An evaluation that raises,
or answers anything but None or ("allow" | "deny", message), denies (fail closed). This package
imports nothing of the runtime: the runtime hands the registry in.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from functools import reduce
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from policies.decision import Reason
from policies.errors import PolicyError
from policies.intent import Facts, Intent
from policies.rules import RULE_KINDS, PolicyFile, builtin_rule_models

__all__ = ["CustomRule", "RuleKindError", "RuleKinds", "RuleVerdict", "custom_check"]

RuleVerdict = tuple[Literal["allow", "deny"], str]
"""What an evaluation answers when its rule applies: ("deny", why) or ("allow", why)."""

R = TypeVar("R", bound=type[BaseModel])


class RuleKindError(PolicyError):
    """A rule kind that cannot be registered: no `kind` literal, no evaluation, or a name taken."""


class CustomRule(BaseModel):
    """Base of a custom rule kind: frozen, unknown keys refused. Subclasses set `kind: Literal["name"]`
    and implement `evaluate`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def evaluate(self, intent: Intent, facts: Facts) -> RuleVerdict | None:
        """None when the rule does not apply to `intent`, else ("deny" | "allow", one-line reason).
        Pure: read only the intent, the facts and the rule's own fields."""
        raise NotImplementedError


class RuleKinds:
    """Custom rule kinds by name; registering a name twice, or a built-in one, is an error."""

    def __init__(self) -> None:
        self._models: dict[str, type[BaseModel]] = {}
        self._file: type[PolicyFile] | None = None

    def rule_kind(self, model: R) -> R:
        """Class decorator: register `model` (see the module docstring); returned unchanged."""
        kind = _kind_of(model)
        evaluate = getattr(model, "evaluate", None)
        if not callable(evaluate) or evaluate is CustomRule.evaluate:
            raise RuleKindError(
                f"rule kind {kind!r} ({model.__name__}) has no evaluation: define "
                "`def evaluate(self, intent, facts)` returning None or ('allow' | 'deny', why)"
            )
        if kind in RULE_KINDS:
            raise RuleKindError(f"rule kind {kind!r} is built in: give the new one another name")
        if kind in self._models:
            raise RuleKindError(f"rule kind {kind!r} is registered already: give the new one another name")
        self._models[kind] = model
        self._file = None
        return model

    def names(self) -> list[str]:
        """The custom kinds' names, sorted."""
        return sorted(self._models)

    def model(self, kind: str) -> type[BaseModel] | None:
        return self._models.get(kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._models

    def __iter__(self) -> Iterator[type[BaseModel]]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def file_model(self) -> type[PolicyFile]:
        """PolicyFile whose rules may also be these kinds (built once per registry state)."""
        if not self._models:
            return PolicyFile
        if self._file is None:
            models: list[Any] = [*builtin_rule_models(), *self._models.values()]
            union = reduce(lambda a, b: a | b, models)
            rule = Annotated[union, Field(discriminator="kind")]  # type: ignore[valid-type]
            self._file = create_model(  # the built-in PolicyFile, with a wider `rules`
                "PolicyFile", __base__=PolicyFile, rules=(tuple[rule, ...], ...)
            )
        return self._file

    def __repr__(self) -> str:
        return f"RuleKinds({', '.join(self.names())})"


def _kind_of(model: Any) -> str:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise RuleKindError(f"a rule kind is a pydantic model class, not {model!r}")
    field = model.model_fields.get("kind")
    values = typing.get_args(field.annotation) if field is not None else ()
    literal = field is not None and typing.get_origin(field.annotation) is Literal
    if not literal or len(values) != 1 or not isinstance(values[0], str) or not values[0]:
        raise RuleKindError(
            f'rule kind {model.__name__} needs a field `kind: Literal["its_name"]` (one string)'
        )
    name: str = values[0]
    return name


Check = Callable[[Any], Reason | None]


def custom_check(index: int, rule: Any) -> Check:
    """The engine's check for custom rule number `index`: its evaluation, held to what it may answer."""
    kind = str(rule.kind)

    def check(ctx: Any) -> Reason | None:
        try:
            answer = rule.evaluate(ctx.intent, ctx.facts)
        except Exception as exc:  # a custom evaluation failing must never allow
            detail = " ".join(str(exc).split())[:160]
            return Reason(rule=index, kind=kind, verdict="deny",
                          message=f"rule kind {kind} failed: {type(exc).__name__}: {detail}")  # fmt: skip
        if answer is None:
            return None
        if (
            isinstance(answer, tuple)
            and len(answer) == 2
            and answer[0] in ("allow", "deny")
            and isinstance(answer[1], str)
        ):
            return Reason(rule=index, kind=kind, verdict=answer[0], message=answer[1][:300])
        return Reason(
            rule=index, kind=kind, verdict="deny",
            message=f"rule kind {kind} answered {_shown(answer)}: an evaluation answers None or "
            "('allow' | 'deny', why)",
        )  # fmt: skip

    return check


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"
