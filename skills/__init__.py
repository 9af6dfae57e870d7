"""Skills: typed args -> Intent (plan) -> effect (run) with a narrow signer; the catalog (issue 4)."""

from skills.errors import SkillError

__all__ = ["SkillError"]
