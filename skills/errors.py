"""Errors of the skills package.

Hierarchy:

    SkillError           base of every skill error
"""


class SkillError(Exception):
    """Base class of every skill error."""
