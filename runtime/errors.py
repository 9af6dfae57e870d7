"""Errors of the runtime, and the one place where any Sova error becomes a user answer.

Hierarchy:

    SovaError                    base of everything raised by runtime/
    ├── ConfigError              agents.yaml is invalid (carries one line per problem)
    └── AnvilError               (runtime.chain.anvil) the local node is missing or did not start

Errors of the lower packages (WalletError, IdentityError, PolicyError, …) are turned into one-line
answers here too, by `user_message`, so the CLI and the HTTP edges say the same thing.
"""

from __future__ import annotations


class SovaError(Exception):
    """Base class of runtime errors. Its message is one line a user can act on."""


class ConfigError(SovaError):
    """agents.yaml (or another config file) is invalid. `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n" + "\n".join(problems)
        )
        self.problems = problems


# Exit codes, as DESIGN §1 says: 1 when a check finds a problem, 2 on bad input.
EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 70


class CheckFailed(SovaError):
    """A check ran and found a problem (a tampered ledger, an invalid credential): exit 1."""


def user_message(exc: BaseException) -> tuple[str, int]:
    """The one line a user sees for `exc`, and the exit code. Lower packages' errors are imported
    lazily so that this edge module costs nothing at import time."""
    from identity.errors import IdentityError
    from policies.errors import PolicyError
    from skills.errors import SkillError
    from wallet.errors import WalletError

    problems = getattr(exc, "problems", None)
    if isinstance(problems, list) and problems and isinstance(exc, ConfigError | PolicyError):
        return "\n".join(str(p) for p in problems), EXIT_BAD_INPUT
    if isinstance(exc, CheckFailed):
        return _one_line(exc), EXIT_PROBLEM
    if isinstance(exc, SovaError | WalletError | IdentityError | PolicyError | SkillError):
        return _one_line(exc), EXIT_BAD_INPUT
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}", EXIT_BAD_INPUT
    return (
        f"internal error ({type(exc).__name__}: {_one_line(exc)}); run again with SOVA_DEBUG=1 "
        "for details and report it",
        EXIT_INTERNAL,
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
