"""The catalog: an explicit set of skills by name, filled with a decorator (uAgents style).

    catalog = Catalog()

    @catalog.skill
    class Ping(Skill[PingArgs]):
        '''Say hello.'''
        name = "ping"
        ...

`default_catalog()` builds a fresh catalog of Sova's built-in skills; no catalog lives in a module
global. `catalog.only(names)` narrows one to the skills an agent's config lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, overload

from skills.base import Skill
from skills.errors import SkillError, SkillNotFound

S = TypeVar("S", bound=type[Skill[Any]])


class Catalog:
    """Skills by name. Registering a name twice is an error (a silent override would hide a skill)."""

    def __init__(self, skills: Iterable[Skill[Any]] = ()) -> None:
        self._skills: dict[str, Skill[Any]] = {}
        for skill in skills:
            self.add(skill)

    @overload
    def skill(self, cls: S) -> S: ...

    @overload
    def skill(self, cls: None = None) -> Callable[[S], S]: ...

    def skill(self, cls: S | None = None) -> S | Callable[[S], S]:
        """Class decorator: instantiate the Skill subclass and register it (`@catalog.skill` or
        `@catalog.skill()`); the class is returned unchanged."""

        def register(klass: S) -> S:
            self.add(klass())
            return klass

        return register if cls is None else register(cls)

    def add(self, skill: Skill[Any]) -> None:
        """Register a skill instance."""
        name = getattr(skill, "name", None)
        if not isinstance(name, str) or not name:
            raise SkillError(f"{type(skill).__name__} has no `name`: set a class attribute name = '...'")
        if not hasattr(skill, "args_model"):
            raise SkillError(f"skill {name} has no `args_model`: set it to its SkillArgs model")
        if name in self._skills:
            raise SkillError(f"skill {name} is registered already: give the new one another name")
        self._skills[name] = skill

    def get(self, name: str) -> Skill[Any] | None:
        return self._skills.get(name)

    def __getitem__(self, name: str) -> Skill[Any]:
        found = self._skills.get(name)
        if found is None:
            raise SkillNotFound(
                f"unknown skill {name!r} (known: {', '.join(sorted(self._skills)) or 'none'})"
            )
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    def __iter__(self) -> Iterator[Skill[Any]]:
        return iter(self._skills.values())

    def __len__(self) -> int:
        return len(self._skills)

    def names(self) -> list[str]:
        return sorted(self._skills)

    def only(self, names: Iterable[str] | None) -> Catalog:
        """A new catalog with just these skills (None: all of them); SkillNotFound for a name this one
        lacks."""
        return Catalog(self if names is None else (self[name] for name in names))

    def extended(self, other: Iterable[Skill[Any]]) -> Catalog:
        """A new catalog with this one's skills and `other`'s; SkillError when a name is in both."""
        return Catalog([*self, *other])

    def __repr__(self) -> str:
        return f"Catalog({', '.join(self.names())})"


def default_catalog() -> Catalog:
    """A fresh catalog of the built-in skills (the names policies.DEFAULT_SKILLS lists)."""
    from skills.agent_ops import AnchorLog, RegisterAgent, RevokeCredential
    from skills.credentials import IssueCredential, PresentCredential
    from skills.escrow import OpenEscrow, RefundEscrow, ReleaseEscrow, SignDeal
    from skills.feedback import GiveFeedback
    from skills.messaging import SendMessage
    from skills.pay_x402 import PayX402
    from skills.settle_x402 import SettleX402
    from skills.tokens import ApproveToken, TransferToken
    from skills.validation import AnswerValidation, RequestValidation

    catalog = Catalog()
    for cls in (
        TransferToken,
        ApproveToken,
        SignDeal,
        OpenEscrow,
        ReleaseEscrow,
        RefundEscrow,
        PresentCredential,
        IssueCredential,
        SendMessage,
        AnchorLog,
        RegisterAgent,
        RevokeCredential,
        GiveFeedback,
        RequestValidation,
        AnswerValidation,
        PayX402,
        SettleX402,
    ):
        catalog.skill(cls)
    return catalog
