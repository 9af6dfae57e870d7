"""Intents, decisions, policy rules and the engine (issue 4). Presets live in policies/presets/."""

from policies.errors import PolicyError

__all__ = ["PolicyError"]
