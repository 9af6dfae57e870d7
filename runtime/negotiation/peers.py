"""The agents a buyer met: the executor's peers directory, which the policy's `require_credential` reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from identity import InvalidPresentation, RevocationChecker, verify_presentation
from policies import Counterparty, Credential

__all__ = ["PeerBook", "presented_credentials"]


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


async def presented_credentials(
    body: Mapping[str, Any], wanted: str, challenge: str, own_did: str, peer: str,
    trusted: Collection[str], revocation: RevocationChecker | None,
) -> tuple[Credential, ...] | str:  # fmt: skip
    """The credentials `peer` presented in `body` (bound to `challenge` and this agent's DID), holding
    a `wanted` one from a `trusted` issuer; else why not, in one line."""
    vp = body.get("presentation")
    if not isinstance(vp, str | dict):  # a JWT VP (what Sova sends) or an LD-proof VP object
        said = str(body.get("presentation_error") or "it sent none")[:300]
        return f"the seller presented no {wanted} credential ({said})"
    try:
        verified = await verify_presentation(vp, challenge, own_did, trusted, revocation)
    except InvalidPresentation as exc:
        return f"the seller's {wanted} presentation does not verify ({exc.reason}): {exc}"
    if verified.holder_did != peer:
        return f"the presentation is by {verified.holder_did}, not by the seller {peer}"
    if not verified.of_type(wanted):
        return f"the seller presented no {wanted} credential from a trusted issuer"
    return tuple(
        Credential(type=t, issuer=c.issuer)
        for c in verified.credentials
        for t in c.types
        if t != "VerifiableCredential"
    )
