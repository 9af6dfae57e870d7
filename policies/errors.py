"""Errors of the policies package.

Hierarchy:

    PolicyError          base of every policy error (bad policy files, unknown rules, budgets)
"""


class PolicyError(Exception):
    """Base class of every policy error."""
