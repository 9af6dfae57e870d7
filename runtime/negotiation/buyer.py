"""Buyer and seller negotiation over the A2A protocol, with either brain (DESIGN §9).

    buyer (drives, `Buyer.buy`)                              seller (`Seller`, a NegotiationHandler)
    cfp {item, token, challenge, input[, presentation]} ──>  checks the input against the service's
                                                             schema and the buyer's presentation (if the
                                                             service requires one) before signing anything;
                                                             present_credential (DID-auth: bound to
                             <── propose {price, input_hash, quote, presentation}   the buyer's challenge
    checks the presentation: the required credential from a trusted     and DID), its opening offer
    issuer (and the seller's DID <-> wallet binding in AgentRegistry); else `reject`
    Decider.decide           ── counter {price} / accept / reject ──>  Decider.decide
                                  <── counter {price} / accept / reject
    agreed -> termsHash (runtime/negotiation/terms.py) -> runtime/negotiation/settlement.py (sign, fund,
    the seller runs the service and delivers its output, the buyer checks it and releases)

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
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from identity import BindingError, new_challenge
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
from runtime.negotiation.peers import PeerBook, presented_credentials
from runtime.negotiation.replies import first as _first
from runtime.negotiation.replies import peer_said as _peer_said
from runtime.negotiation.results import Accept
from runtime.negotiation.seller import Seller
from runtime.negotiation.settlement import BuyerSettlement, Send, SettlementError, outcome_result
from runtime.negotiation.terms import canonical, terms_hash

__all__ = ["Buyer", "PeerBook", "Seller"]  # PeerBook and Seller: where they were first found

log = logging.getLogger(__name__)


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
        accept: Mapping[str, Accept] | None = None,
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
        self.settlement = BuyerSettlement(
            executor, deals, self.ledger, registry, deal_ttl, origin, self.output_schema, dict(accept or {})
        )

    @property
    def did(self) -> str:
        return self.executor.context.agent_did

    async def buy(
        self, seller_url: str, item: str, *, input: Any = None,
        thid: str | None = None, expected_did: str | None = None,
    ) -> DealRecord:  # fmt: skip
        """Buy service `item` on `input` (JSON; None: {}) from the seller at `seller_url`; the deal record
        as it ends (released, its output kept; funded when the seller delivers later; declined / failed
        with the reason).
        `expected_did`: the DID AgentRegistry lists at that endpoint, which the card must name. A seller
        that does not answer, or whose card does not hold together, is declined before any message."""
        thid = thid or uuid.uuid4().hex
        card = await self._card(seller_url, item, thid, expected_did)
        if isinstance(card, DealRecord):
            return card
        return await self._negotiate(card, item, input, thid)

    async def _card(
        self, seller_url: str, item: str, thid: str, expected_did: str | None
    ) -> VerifiedCard | DealRecord:
        """The seller's verified card, or the deal declined (recorded) when it is not one to deal with."""
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
        return card

    async def _negotiate(self, card: VerifiedCard, item: str, data: Any, thid: str) -> DealRecord:
        """cfp, offers and settlement with the seller of `card` (see `buy`)."""
        peer, wallet = card.did, card.wallet
        record = self.deals.put(DealRecord(peer=peer, thid=thid, role="buyer", item=item, token=self.token))
        service = card.services.get(item)
        if service is None:
            return await self.settlement.end(
                record, "declined", f"the seller's card lists no service {item!r}"
            )
        data = {} if data is None else data
        try:
            inline, input_hash = self.deals.payloads.keep(canonical(data))
        except ValueError as exc:
            return await self.settlement.end(record, "declined", f"the input is not plain JSON: {exc}")
        record = self.deals.update(peer, thid, input=inline, input_hash=input_hash)
        send = self.sender(peer, thid)
        try:
            challenge = new_challenge()
            cfp = {"item": item, "token": self.token, "challenge": challenge, "input": data}
            await self._present(cfp, service.requires, peer, thid)
            replies = await send("cfp", cfp)
            propose = _first(replies, "propose")
            if propose is None:
                return await self.settlement.end(
                    record, "declined", _peer_said(replies) or "the seller made no offer"
                )
            body = propose["body"]
            problem = await self._check_supplier(peer, wallet, card.name, challenge, body)
            if problem is None and str(body.get("input_hash", "")).lower() != input_hash:
                problem = f"the offer is for another input (input_hash {str(body.get('input_hash'))[:80]})"
            if problem is not None:
                return await self.settlement.decline(record, send, problem)
            agreed = await self._haggle(record, body, send)
            if agreed is None:
                return self.deals.get(peer, thid) or record
            price, terms = price_text(agreed), terms_hash(item, input_hash, agreed)
            record = await self.deals.advance(
                self.ledger, record, "agreed", {"state": "agreed", "price": price, "terms_hash": terms},
                price=price, item=item, input_hash=input_hash, terms_hash=terms,
            )  # fmt: skip
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

    async def _present(self, cfp: dict[str, Any], requires: Sequence[Mapping[str, Any]], peer: str,
                       thid: str) -> None:  # fmt: skip
        """Add to `cfp` the presentation the service requires of the buyer, bound to the thread
        (challenge) and the seller (domain); without it the seller declines with the reason."""
        types = [str(r.get("type")) for r in requires if r.get("type")]
        if not types:
            return
        args = {"challenge": thid, "domain": peer, "types": types}
        outcome = await self.executor.execute("present_credential", args, self.origin)
        if outcome.ok and outcome.result is not None:
            cfp["presentation"] = outcome.result["presentation"]

    def output_schema(self, record: DealRecord) -> Mapping[str, Any] | None:
        """The output schema of `record`'s service, from the seller's signed card (None: unknown)."""
        card = self.messenger.card_of(record.peer)
        spec = card.services.get(record.item) if card is not None else None
        return spec.output_schema if spec is not None else None

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
        if self.required_credential is not None:
            revocation = self.registry.is_revoked if self.registry is not None else None
            found = await presented_credentials(
                body, self.required_credential, challenge, self.did, peer, self.trusted_issuers, revocation
            )
            if isinstance(found, str):
                return found
            credentials = found
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
