"""Errors of the policies package.

Hierarchy:

    PolicyError          base of every policy error
    ├── PolicyFileError  a policy file is missing, not YAML or invalid; `problems` has one line each
    │                    (`FILE:LINE: rules[1].per_day: what is wrong: how to fix it`)
    └── BudgetError      the budget database cannot be used, or a reservation is misused

`evaluate` never raises: a policy that says no is a Decision, not an error, and so is a refused
reservation (`Refusal`).
"""


class PolicyError(Exception):
    """Base class of every policy error."""


class PolicyFileError(PolicyError):
    """A policy file cannot be used. `problems` holds one line per problem, each naming the file, the
    line, the path in the file, what is wrong and how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n" + "\n".join(problems)
        )
        self.problems = problems


class BudgetError(PolicyError):
    """The budget database cannot be opened or written, or a reservation was used wrongly."""
