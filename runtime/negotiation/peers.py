"""The agents this agent has met, for the skills' counterparty lookups (the buyer fills it in)."""

from __future__ import annotations

from collections.abc import Iterable

from policies import Counterparty

__all__ = ["PeerBook"]


class PeerBook:
    """A PeerDirectory (skills.context) of the agents met: DID, wallet, name and the credentials they
    presented that verified. Found by DID, 0x address or name."""

    def __init__(self, parties: Iterable[Counterparty] = ()) -> None:
        self._parties: dict[str, Counterparty] = {}
        for party in parties:
            self.remember(party)

    def remember(self, party: Counterparty) -> None:
        """Add or replace what is known of `party` (keyed by its DID, else its address)."""
        key = party.did or (party.address or "").lower()
        self._parties[key] = party

    def lookup(self, ref: str) -> Counterparty | None:
        """The party with this DID, address (any case) or name, or None."""
        found = self._parties.get(ref)
        if found is not None:
            return found
        low = ref.lower()
        for party in self._parties.values():
            if (party.address or "").lower() == low or party.name == ref:
                return party
        return None
