"""The seller's side of a negotiation (`runtime.negotiation.buyer` has the protocol picture and the buyer):
answer a cfp — once its input fits the service's schema and the buyer holds the credentials the service
requires, before anything is signed — with an opening offer and a DID-auth presentation, haggle, then
sign, run the service, deliver and log the settlement through `runtime.negotiation.settlement`. Each
request is an A2A Task on this agent, a view of its deal (runtime/negotiation/tasks.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from identity.envelopes import Envelope
from runtime.a2a.handler import Reply
from runtime.a2a.threads import ThreadState
from runtime.brains.rules import Decider, RuleDecider, Situation, price_text, read_price
from runtime.config import RuleBrain
from runtime.errors import SovaError
from runtime.executor.executor import Executor
from runtime.ledger.sink import LedgerSink
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.offers import Offers
from runtime.negotiation.requirements import buyer_problem
from runtime.negotiation.settlement import SellerSettlement
from runtime.negotiation.tasks import SellerTasks
from runtime.negotiation.terms import canonical, terms_hash


class Seller:
    """The seller's brain, as the NegotiationHandler of its A2A server: sells its `offers` (services),
    haggles from each input's quote with the rule brain, proves its credentials to the buyer, signs the
    agreed Deal, and once funded runs the service and delivers its output (or refunds)."""

    def __init__(
        self,
        *,
        executor: Executor,
        deals: DealStore,
        brain: RuleBrain | Decider,
        offers: Offers,
        ledger: LedgerSink | None = None,
        token: str = "TUSD",
        present: Sequence[str] = ("VerifiedSupplier",),
        deliver: bool = True,
    ) -> None:
        self.executor = executor
        self.deals = deals
        self.brain = brain
        self.decider: Decider = RuleDecider(brain) if isinstance(brain, RuleBrain) else brain
        self.offers = offers
        self.ledger = ledger
        self.token = token
        self.present = tuple(present)
        self.settlement = SellerSettlement(executor, deals, offers, ledger, deliver)
        self.tasks = SellerTasks(deals, ledger)
        """Its deals as A2A Tasks, for the A2A server's GetTask / ListTasks / CancelTask."""

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        """The answer to one buyer message (see the module docstring)."""
        body = envelope.body if isinstance(envelope.body, dict) else {}
        if envelope.type == "cfp":
            return [await self._open(envelope, body)]
        record = self.deals.get(envelope.sender, envelope.thid)
        if record is None:
            return []
        if record.state == "canceled":  # CancelTask ended it: the thread closes at the buyer's next word
            return [] if envelope.type == "reject" else [Reply("reject", {"reason": record.reason[:500]})]
        if envelope.type == "counter":
            return [await self._counter(record, body, thread)]
        if envelope.type == "accept":
            try:
                price = read_price(body)
            except ValueError as exc:
                return [await self._reject(record, str(exc))]
            if not record.price or price != Decimal(record.price):
                return [await self._reject(record, f"accepted {price}, but the offer was {record.price}")]
            await self._agree(record, record.price)
            return []
        if envelope.type == "deal_signature":
            return await self.settlement.on_deal_signature(envelope, record)
        if envelope.type == "funded":
            return await self.settlement.on_funded(envelope, record)
        if envelope.type == "released":
            await self.settlement.on_released(envelope, record)
        elif envelope.type in ("reject", "dispute"):  # the buyer's reject comes before any money: canceled
            state = "canceled" if envelope.type == "reject" else "disputed"
            why = f"the buyer said: {str(body.get('reason', ''))[:300]}"
            record = await self.deals.advance(
                self.ledger, record, state, {"state": state, "reason": why}, reason=why
            )
        return []

    async def _open(self, envelope: Envelope, body: Mapping[str, Any]) -> Reply:
        item, token = str(body.get("item", ""))[:200], str(body.get("token") or self.token)[:64]
        record = self.deals.put(
            DealRecord(peer=envelope.sender, thid=envelope.thid, role="seller", item=item, token=token)
        )
        offer = self.offers.get(item)
        if offer is None:
            return await self._reject(
                record, f"{item!r} is not offered (offered: {', '.join(self.offers.names())})"
            )
        if self.executor.context.tokens.find(token) is None:
            return await self._reject(record, f"payment in {token} is not accepted (use {self.token})")
        data = body.get("input", {})
        try:  # the input is checked before anything is signed (the presentation below is a signature)
            quote = offer.quote(offer.read(data))
            raw = canonical(data)
        except (SovaError, ValueError) as exc:
            return await self._reject(record, str(exc))
        problem = await buyer_problem(self.executor, offer, envelope, body.get("presentation"))
        if problem is not None:
            return await self._reject(record, problem)
        inline, input_hash = self.deals.payloads.keep(raw)
        record = self.deals.update(record.peer, record.thid, quote=price_text(quote), input=inline,
                                   input_hash=input_hash)  # fmt: skip
        opening = await self.decider.decide(self._situation(record, None, 0, 0.0))
        if opening.kind != "counter" or opening.price is None or opening.price <= 0:
            return await self._reject(record, opening.reason or "no offer for this request")
        record = self.deals.update(record.peer, record.thid, price=price_text(opening.price))
        offer_body: dict[str, Any] = {
            "item": item, "token": token, "price": record.price, "input_hash": input_hash,
            "quote": record.quote,
        }  # fmt: skip
        challenge = body.get("challenge")
        if isinstance(challenge, str) and challenge and self.present:
            args = {"challenge": challenge[:512], "domain": envelope.sender, "types": list(self.present)}
            outcome = await self.executor.execute("present_credential", args, f"peer:{envelope.sender}")
            if outcome.ok and outcome.result is not None:
                offer_body["presentation"] = outcome.result["presentation"]
            else:
                offer_body["presentation_error"] = outcome.message()[:300]
        return Reply("propose", offer_body)

    async def _counter(self, record: DealRecord, body: Mapping[str, Any], thread: ThreadState) -> Reply:
        try:
            their = read_price(body)
        except ValueError as exc:
            return await self._reject(record, str(exc))
        offer_no = max(thread.messages - 2, 0)  # cfp, then offers 0, 1, 2, …: this counter is offer n
        elapsed = max(0.0, thread.updated - record.started)
        move = await self.decider.decide(self._situation(record, their, offer_no, elapsed))
        if move.kind == "accept":
            record = await self._agree(record, price_text(their))
            return Reply("accept", {"price": record.price})
        if move.kind == "reject" or move.price is None:
            return await self._reject(record, move.reason)
        record = self.deals.update(record.peer, record.thid, price=price_text(move.price))
        return Reply("counter", {"price": record.price})

    async def _agree(self, record: DealRecord, price: str) -> DealRecord:
        """The deal is agreed at `price`: its termsHash follows (runtime/negotiation/terms.py)."""
        terms = terms_hash(record.item, record.input_hash, price)
        return await self.deals.advance(
            self.ledger, record, "agreed", {"state": "agreed", "price": price, "terms_hash": terms},
            price=price, item=record.item, input_hash=record.input_hash, terms_hash=terms,
        )  # fmt: skip

    def _situation(
        self, record: DealRecord, their: Decimal | None, round_no: int, elapsed: float
    ) -> Situation:
        ours = Decimal(record.price) if record.price else None
        return Situation(
            role="seller", item=record.item, peer=record.peer, thid=record.thid, token=record.token,
            their_price=their, our_price=ours, round_no=round_no, elapsed=elapsed,
            quote=Decimal(record.quote) if record.quote else None,
        )  # fmt: skip

    async def _reject(self, record: DealRecord, why: str) -> Reply:
        record = await self.deals.advance(
            self.ledger, record, "declined", {"state": "declined", "reason": why}, reason=why
        )
        return Reply("reject", {"reason": why[:500]})
