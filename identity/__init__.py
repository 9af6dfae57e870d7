"""DIDs, identity keys, verifiable credentials and presentations, signed envelopes (issue 3)."""

from identity.errors import IdentityError

__all__ = ["IdentityError"]
