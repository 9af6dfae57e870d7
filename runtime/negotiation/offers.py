"""What the seller's negotiation needs of the services it sells, as a protocol: runtime/services
implements it (`runtime.services.offering.Shop`), and the agent hands it to the `Seller`. The two
layers sit side by side and do not import each other.

Refusals are SovaErrors whose message is one line for the buyer: `read` and `quote` refuse an input,
`run` fails with a `why` attribute (raised, timeout, invalid, too_large) when there is no output.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["Offer", "Offers", "Requirement"]

Requirement = tuple[str, tuple[str, ...]]
"""A credential the buyer must present: (type, the DIDs of the issuers accepted)."""


class Offer(Protocol):
    """One service on sale."""

    @property
    def name(self) -> str: ...

    @property
    def requires(self) -> Sequence[Requirement]: ...

    def read(self, data: Any) -> Any:
        """The input, validated; SovaError (one line) when it does not fit the schema or the size limit."""
        ...

    def quote(self, value: Any) -> Decimal:
        """The service's price for the validated input, in token units; SovaError when it has none."""
        ...

    async def run(self, value: Any) -> tuple[Any, bytes]:
        """(output JSON, its canonical bytes); SovaError with `why` when there is no output to deliver."""
        ...


class Offers(Protocol):
    """The services an agent sells, by name."""

    def get(self, name: str) -> Offer | None: ...

    def names(self) -> list[str]: ...
