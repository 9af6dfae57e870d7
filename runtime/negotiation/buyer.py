"""Buyer and seller negotiation over the A2A protocol, with either brain (DESIGN §9).

    buyer (drives, `Buyer.buy`)                              seller (`Seller`, a NegotiationHandler)
    cfp {item, token, challenge}  ─────────────────────────>  present_credential (DID-auth: bound to
                                  <── propose {price, terms_hash, presentation}   the buyer's challenge
    checks the presentation: the required credential from a trusted     and DID), its opening offer
    issuer (and the seller's DID <-> wallet binding in AgentRegistry); else `reject`
    Decider.decide           ── counter {price} / accept / reject ──>  Decider.decide
                                  <── counter {price} / accept / reject
    agreed -> runtime/negotiation/settlement.py (sign, fund, deliver, release)

Offers are numbered in the thread (the propose is offer 0); each brain answers the peer's offer n with
its `Situation` (price, round n, elapsed time), so both sides count rounds alike and the round limit
ends every negotiation. Every message the buyer sends goes through its executor (`send_message`), every
signature of either side too; the seller's answers go back as protocol replies. The verified credentials
of a seller are put in the buyer's `PeerBook`, which is the executor's peers directory: the policy's
`require_credential` then judges `sign_deal` and `open_escrow` with them. `Seller` is in
`runtime.negotiation.seller` (exported here too).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from identity import BindingError, InvalidPresentation, new_challenge, verify_presentation
from identity.envelopes import Envelope
from policies import Counterparty, Credential
from runtime.a2a.card import InvalidCard, VerifiedCard
from runtime.a2a.client import A2AMessenger
from runtime.a2a.handler import Reply
from runtime.a2a.threads import ThreadState
from runtime.brains.rules import Decider, Move, RuleDecider, Situation, price_text, read_price
from runtime.chain.registry import Registry
from runtime.config import RuleBrain
from runtime.executor.executor import Executor
from runtime.ledger.sink import LedgerSink
from runtime.negotiation.deals import REFUNDABLE, DealRecord, DealStore
from runtime.negotiation.peers import PeerBook
from runtime.negotiation.replies import first as _first
from runtime.negotiation.replies import peer_said as _peer_said
from runtime.negotiation.seller import Seller
from runtime.negotiation.settlement import (
    BuyerSettlement,
    Send,
    SettlementError,
    outcome_result,
)

__all__ = ["Buyer", "PeerBook", "Seller"]  # PeerBook and Seller: where they were first found

log = logging.getLogger(__name__)

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class Buyer:
    """The buyer's brain: negotiates with a seller (`buy`) and settles what it agreed. Also the handler
    of its own A2A server, for a delivery or a rejection that comes later."""

    def __init__(
        self,
        *,
        executor: Executor,
        messenger: A2AMessenger,
        deals: DealStore,
        brain: RuleBrain | Decider,
        peers: PeerBook,
        cap: Decimal | None = None,
        trusted_issuers: Sequence[str] = (),
        required_credential: str | None = "VerifiedSupplier",
        registry: Registry | None = None,
        ledger: LedgerSink | None = None,
        token: str = "TUSD",
        deal_ttl: int = 3600,
        origin: str = "rules-brain",
    ) -> None:
        self.executor = executor
        self.messenger = messenger
        self.deals = deals
        self.brain = brain
        self.decider: Decider = RuleDecider(brain) if isinstance(brain, RuleBrain) else brain
        self.peers = peers
        self.cap = cap
        self.trusted_issuers = tuple(trusted_issuers)
        self.required_credential = required_credential
        self.registry = registry
        self.ledger = ledger
        self.token = token
        self.origin = origin
        self.settlement = BuyerSettlement(executor, deals, self.ledger, registry, deal_ttl, origin)

    @property
    def did(self) -> str:
        return self.executor.context.agent_did

    async def buy(
        self, seller_url: str, item: str, *, thid: str | None = None, expected_did: str | None = None
    ) -> DealRecord:
        """Negotiate `item` with the seller at `seller_url` and settle it; the deal record as it ends
        (released; funded when the seller delivers later; declined / failed with the reason).
        `expected_did`: the DID AgentRegistry lists at that endpoint, which the card must name. A seller
        that does not answer, or whose card does not hold together, is declined before any message."""
        thid = thid or uuid.uuid4().hex
        try:
            card = await self.messenger.connect(seller_url)
        except InvalidCard as exc:
            record = DealRecord(peer=expected_did or seller_url, thid=thid, role="buyer", item=item,
                                token=self.token)  # fmt: skip
            why = f"the seller at {seller_url} is not dealt with ({exc.reason}): {exc}"
            return await self.settlement.end(self.deals.put(record), "declined", why)
        problem = await self._check_card(card, seller_url, expected_did)
        if problem is not None:  # the card may be a cached one gone stale (another agent on that port)
            try:
                card = await self.messenger.connect(seller_url, fresh=True)
                problem = await self._check_card(card, seller_url, expected_did)
            except InvalidCard as exc:
                problem = f"the seller at {seller_url} is not dealt with ({exc.reason}): {exc}"
        if problem is not None:  # recorded under the registered DID: the card's claim is not trusted
            record = DealRecord(peer=expected_did or card.did, thid=thid, role="buyer", item=item,
                                token=self.token)  # fmt: skip
            return await self.settlement.end(self.deals.put(record), "declined", problem)
        peer, wallet = card.did, card.wallet
        record = self.deals.put(DealRecord(peer=peer, thid=thid, role="buyer", item=item, token=self.token))
        send = self.sender(peer, thid)
        try:
            challenge = new_challenge()
            replies = await send("cfp", {"item": item, "token": self.token, "challenge": challenge})
            propose = _first(replies, "propose")
            if propose is None:
                return await self.settlement.end(
                    record, "declined", _peer_said(replies) or "the seller made no offer"
                )
            body = propose["body"]
            problem = await self._check_supplier(peer, wallet, card.name, challenge, body)
            terms_hash = body.get("terms_hash")
            if problem is None and (not isinstance(terms_hash, str) or not _HASH.match(terms_hash)):
                problem = "the offer has no terms_hash (0x and 64 hex digits)"
            if problem is not None:
                return await self.settlement.decline(record, send, problem)
            assert isinstance(terms_hash, str)
            record = self.deals.update(peer, thid, terms_hash=terms_hash.lower())
            agreed = await self._haggle(record, body, send)
            if agreed is None:
                return self.deals.get(peer, thid) or record
            price = price_text(agreed)
            record = await self.deals.advance(
                self.ledger, record, "agreed", {"state": "agreed", "price": price}, price=price, item=item
            )
            # _check_card verified this very (peer, wallet) binding when the registry is set.
            return await self.settlement.settle(
                record, wallet, send, binding_verified=self.registry is not None
            )
        except (SettlementError, ValueError) as exc:
            current = self.deals.get(peer, thid) or record
            if current.state in REFUNDABLE:
                # The escrow holds the money: the deal stays open for the resumer and the deadline watch.
                await self.deals.advance(self.ledger, current, "interrupted", reason=str(exc))
                return current
            return await self.settlement.end(record, "failed", str(exc))

    def sender(self, peer: str, thid: str) -> Send:
        """Sends this buyer's messages in thread (peer, thid), through the executor."""

        async def send(type_: str, body: dict[str, Any]) -> list[dict[str, Any]]:
            return await self._send(peer, thid, type_, body)

        return send

    async def _check_card(self, card: VerifiedCard, url: str, expected_did: str | None) -> str | None:
        """Why the seller whose card was fetched from `url` is not one to negotiate with: a card naming
        another DID than AgentRegistry lists at that endpoint, or a wallet its DID is not bound to."""
        if expected_did is not None and card.did != expected_did:
            return (
                f"the card at {url} names {card.did}, but AgentRegistry lists {expected_did} at that "
                "endpoint: it claims a DID it does not control"
            )
        if self.registry is None:
            return None
        try:
            await self.registry.verify_binding(card.did, card.wallet)
        except BindingError as exc:
            return f"the seller's DID and wallet are not bound in AgentRegistry: {exc}"
        except Exception as exc:  # fail closed
            return f"the seller's registration could not be checked: {type(exc).__name__}: {exc}"
        return None

    async def _haggle(self, record: DealRecord, offer: Mapping[str, Any], send: Any) -> Decimal | None:
        """Alternating offers until one side accepts (the agreed price) or rejects (None)."""
        loop = _Clock()
        their, round_no, ours = read_price(offer), 0, None
        while True:
            situation = Situation(
                role="buyer", item=record.item, peer=record.peer, thid=record.thid, token=record.token,
                their_price=their, our_price=ours, round_no=round_no, elapsed=loop.elapsed(), cap=self.cap,
            )  # fmt: skip
            move = self._capped(await self.decider.decide(situation), their)
            if move.kind == "accept":
                await send("accept", {"price": price_text(their)})
                return their
            if move.kind == "reject" or move.price is None:
                await self.settlement.decline(record, send, move.reason)
                return None
            ours = move.price
            self.deals.update(record.peer, record.thid, price=price_text(ours))
            replies = await send("counter", {"price": price_text(ours)})
            answer = next((r for r in replies if r.get("type") in ("accept", "counter", "reject")), None)
            if answer is None or answer["type"] == "reject":
                why = _peer_said(replies) or "the seller did not answer the counter-offer"
                await self.settlement.end(record, "declined", why)
                return None
            if answer["type"] == "accept":
                return ours
            their, round_no = read_price(answer.get("body") or {}), round_no + 2

    def _capped(self, move: Move, their: Decimal) -> Move:
        """The brain's move, unless it would pay over the cap (the goal's max price): whatever the
        brain (a model, say) asks, the buyer never agrees to or offers more."""
        if self.cap is None:
            return move
        if move.kind == "accept" and their > self.cap:
            return Move(
                "reject", None, f"refused to accept {their}: over the cap of {self.cap} ({move.reason})"
            )
        if move.kind == "counter" and (move.price is None or move.price > self.cap):
            return Move("reject", None, f"refused to offer {move.price}: over the cap of {self.cap}")
        return move

    async def _check_supplier(
        self, peer: str, wallet: str, name: str, challenge: str, body: Mapping[str, Any]
    ) -> str | None:
        """Why this seller is not one to deal with (None when it is); a verified seller goes in the
        peer book with its credentials. (Its DID <-> wallet binding was checked before the cfp.)"""
        credentials: tuple[Credential, ...] = ()
        wanted = self.required_credential
        if wanted is not None:
            vp = body.get("presentation")
            if not isinstance(vp, str | dict):  # a JWT VP (what Sova sends) or an LD-proof VP object
                said = str(body.get("presentation_error") or "it sent none")[:300]
                return f"the seller presented no {wanted} credential ({said})"
            revocation = self.registry.is_revoked if self.registry is not None else None
            try:
                verified = await verify_presentation(
                    vp, challenge, self.did, self.trusted_issuers, revocation
                )
            except InvalidPresentation as exc:
                return f"the seller's {wanted} presentation does not verify ({exc.reason}): {exc}"
            if verified.holder_did != peer:
                return f"the presentation is by {verified.holder_did}, not by the seller {peer}"
            if not verified.of_type(wanted):
                return f"the seller presented no {wanted} credential from a trusted issuer"
            credentials = tuple(
                Credential(type=t, issuer=c.issuer)
                for c in verified.credentials
                for t in c.types
                if t != "VerifiableCredential"
            )
        self.peers.remember(
            Counterparty(did=peer, address=wallet, name=name or None, credentials=credentials)
        )
        return None

    async def _send(self, peer: str, thid: str, type_: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        args = {"to": peer, "type": type_, "thid": thid, "body": body}
        result = outcome_result(await self.executor.execute("send_message", args, self.origin))
        reply = result.get("reply")
        replies = reply.get("replies") if isinstance(reply, dict) else None
        return [r for r in replies if isinstance(r, dict)] if isinstance(replies, list) else []

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        """Messages the seller sends on its own: a later delivery (checked, then released or disputed)
        or a rejection."""
        if envelope.type == "deliver":
            return await self.settlement.on_deliver(envelope)
        record = self.deals.get(envelope.sender, envelope.thid)
        if envelope.type == "reject" and record is not None:
            body = envelope.body if isinstance(envelope.body, dict) else {}
            await self.settlement.end(
                record, "declined", f"the seller rejected: {str(body.get('reason', ''))[:300]}"
            )
        return []


class _Clock:
    def __init__(self) -> None:
        import time

        self._time = time.monotonic
        self._start = self._time()

    def elapsed(self) -> float:
        return self._time() - self._start
