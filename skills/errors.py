"""Errors of the skills package. Each message is one line: what is wrong and how to fix it.

Hierarchy:

    SkillError               base of every skill error
    ├── SkillNotFound        no skill of that name in the catalog
    ├── InvalidSkillArgs     the arguments fail the skill's schema (`problems`: one line each)
    ├── PlanError            valid arguments that cannot become an Intent (unknown token, no contract, …)
    ├── SkillUnavailable     the context lacks what `run` needs (no chain client, no messenger, …)
    ├── SkillRunError        the effect was attempted and failed (a revert, a refused message, …)
    └── SignatureRefused     the narrow signer refused: not the approved effect, or already used
        └── SigningPaused    the agent is paused: no signature until the operator resumes it
"""

from __future__ import annotations


class SkillError(Exception):
    """Base class of every skill error."""


class SkillNotFound(SkillError):
    """No skill of that name in the catalog."""


class InvalidSkillArgs(SkillError):
    """The arguments do not fit the skill's schema. `problems` holds one line per problem."""

    def __init__(self, skill: str, problems: list[str]) -> None:
        super().__init__(f"{skill}: invalid arguments: " + "; ".join(problems))
        self.skill = skill
        self.problems = problems


class PlanError(SkillError):
    """Valid arguments that cannot be planned into an Intent."""


class SkillUnavailable(SkillError):
    """The skill context lacks something `run` needs."""


class SkillRunError(SkillError):
    """The effect was attempted and failed."""


class SignatureRefused(SkillError):
    """The narrow signer refused to sign: the request is not the approved effect, or it was used up."""


class SigningPaused(SignatureRefused):
    """The agent is paused: the narrow signer makes no signature until it is resumed."""
