"""A service's credential requirements on the buyer, checked by the seller before it signs anything.

The buyer puts a presentation in its cfp, bound to the thread id as challenge and the seller's DID as
domain (the thread id is fresh per deal and the envelope is signed by the buyer, so a presentation can
be neither replayed in another thread nor by another agent). Each requirement (type, issuer DIDs) needs
one verified credential of that type from one of those issuers.
"""

from __future__ import annotations

from typing import Any

from identity import InvalidPresentation, verify_presentation
from identity.envelopes import Envelope
from runtime.executor.executor import Executor
from runtime.negotiation.offers import Offer

__all__ = ["buyer_problem"]


async def buyer_problem(executor: Executor, offer: Offer, envelope: Envelope, vp: Any) -> str | None:
    """Why the buyer of `envelope` may not buy `offer` (None: it may, or nothing is required)."""
    if not offer.requires:
        return None
    wanted = " and ".join(kind for kind, _ in offer.requires)
    if not isinstance(vp, str | dict):
        return f"{offer.name} requires the buyer to present {wanted}: it presented none"
    issuers = sorted({did for _, dids in offer.requires for did in dids})
    try:
        verified = await verify_presentation(vp, envelope.thid, executor.context.agent_did, issuers, None)
    except InvalidPresentation as exc:
        return f"the buyer's presentation for {offer.name} does not verify ({exc.reason}): {exc}"
    if verified.holder_did != envelope.sender:
        return f"the presentation is by {verified.holder_did}, not by the buyer {envelope.sender}"
    for kind, dids in offer.requires:
        if not any(c.issuer in dids for c in verified.of_type(kind)):
            return f"{offer.name} requires a {kind} credential from {', '.join(dids) or 'a trusted issuer'}"
    return None
