"""Errors of the runtime, and the one place where any Sova error becomes a user answer.

Hierarchy:

    SovaError                    base of everything raised by runtime/
    ├── ConfigError              agents.yaml is invalid (carries one line per problem)
    └── AnvilError               (runtime.anvil) the local node is missing or did not start

Errors of the lower packages (WalletError, IdentityError, PolicyError, …) are turned into one-line
answers here too, by `user_message`, so the CLI and later the HTTP edge say the same thing.
"""

from __future__ import annotations


class SovaError(Exception):
    """Base class of runtime errors. Its message is one line a user can act on."""
