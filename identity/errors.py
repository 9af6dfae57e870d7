"""Errors of the identity package.

Hierarchy:

    IdentityError        base of every identity error (more arrive with credentials and envelopes)
"""


class IdentityError(Exception):
    """Base class of every identity error."""
