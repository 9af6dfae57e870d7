"""Settlement of an agreed deal (DESIGN §9), every signature and transaction through the executor:

    buyer                                                   seller
    termsHash = keccak256(JCS({input, price, service}))      (runtime/negotiation/terms.py)
    sign_deal (EIP-712 Deal) ── deal_signature {deal, sig} ─>  checks the terms are the agreed ones,
                             <─ deal_signature {sig, id} ───   sign_deal
    checks: the seller's wallet is bound to its DID (AgentRegistry, when given) and the signature
    recovers to that wallet; else `reject`, nothing funded
    approve_token, open_escrow ── funded {deal_id, tx} ───>   checks DealEscrow.stateOf(id) == Open
                             <─ deliver {deal_id, output} ─    runs the service (negotiation/delivery.py)
                             <─ dispute {reason} ─────────    or, when it fails, asks for the refund at once
    output fits the card's schema ? release_escrow ── released {tx} ──>
                                  : dispute {reason} (the deadline then refunds)

`watch_deadlines` (run it on a schedule) calls `refund_escrow` for this agent's open deals as buyer
whose deadline has passed. Each step is written to the agent's ledger: the executor logs decisions and
effects, the protocol the messages, and this module one `deal` entry per outcome (with its reason).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from identity import BindingError
from identity.envelopes import Envelope
from runtime.a2a.handler import Reply
from runtime.chain.registry import Registry
from runtime.errors import SovaError
from runtime.executor.action_log import Outcome
from runtime.executor.executor import Executor
from runtime.ledger.sink import LedgerSink
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.delivery import serve
from runtime.negotiation.feedback import leave_feedback
from runtime.negotiation.offers import Offers
from runtime.negotiation.replies import first as _first
from runtime.negotiation.replies import peer_said as _peer_said
from runtime.negotiation.results import Accept, accept_problem, check_delivery
from runtime.negotiation.terms import terms_hash

log = logging.getLogger(__name__)

Send = Callable[[str, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
"""Sends one message (type, body) in the deal's thread; the peer's replies ({type, body, …})."""
ESCROW_NONE, ESCROW_OPEN, ESCROW_RELEASED, ESCROW_REFUNDED = 0, 1, 2, 3
"""DealEscrow.stateOf values."""
_FUNDABLE = ("signed", "funded", "delivered")
"""A seller's deal states in which a `funded` is taken (after `signed`, only a buyer's re-sent one)."""
MIN_DEADLINE = 60
"""A seller signs no deal whose deadline is less than this many seconds away."""


class SettlementError(SovaError):
    """A settlement step could not be taken (a message that did not get through, a denied action)."""


async def chain_now(executor: Executor) -> int:
    """The latest block's timestamp (what DealEscrow compares deadlines with); the clock without a chain."""
    chain = executor.context.chain
    if chain is None:
        return int(time.time())
    block = await chain.rpc.request("eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


async def escrow_state(executor: Executor, deal_id: str) -> int:
    """DealEscrow.stateOf(deal_id); -1 when it cannot be read."""
    try:
        escrow = executor.context.contract("DealEscrow")
        return int(await escrow.call("stateOf", bytes.fromhex(deal_id[2:])))
    except Exception:  # read only to learn whether a refund already happened: unknown is -1
        return -1


def outcome_result(outcome: Outcome) -> dict[str, Any]:
    """The result of a done action; SettlementError with its reasons otherwise."""
    if outcome.status != "done" or outcome.result is None:
        raise SettlementError(outcome.message())
    return outcome.result


def seller_signature_problem(
    executor: Executor, terms: Mapping[str, Any], signature: Any, wallet: str
) -> str | None:
    """Why `signature` is not `wallet`'s EIP-712 signature of the Deal `terms` (None when it is)."""
    from skills.escrow import DealTerms, build_deal
    from wallet.typed_data import deal_typed_data, recover_typed_data_signer

    ctx = executor.context
    if not isinstance(signature, str) or not signature.startswith("0x") or len(signature) != 132:
        return "the seller's deal signature is not a 65-byte 0x hex string"
    try:
        deal = build_deal(ctx, DealTerms.model_validate(dict(terms)))  # a ValidationError is a ValueError
        message = deal_typed_data(deal, ctx.chain_id, ctx.contract("DealEscrow").address)
        signer = recover_typed_data_signer(message, bytes.fromhex(signature[2:]))
    except (KeyError, ValueError, InvalidOperation, SovaError) as exc:
        return f"the seller's deal signature cannot be checked: {exc}"
    if signer.lower() != wallet.lower():
        return f"the seller's deal signature recovers to {signer}, not to its registered wallet {wallet}"
    return None


_FUNDING_LOCKS: weakref.WeakKeyDictionary[Executor, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def funding_lock(executor: Executor, token: str) -> asyncio.Lock:
    """The lock one agent (its executor) holds from approving `token` to opening the escrow that spends
    the allowance: every Buyer and purchase of the agent shares it, whichever object settles."""
    locks = _FUNDING_LOCKS.setdefault(executor, {})
    return locks.setdefault(token.lower(), asyncio.Lock())


@dataclass
class BuyerSettlement:
    """The buyer's side: sign, check the seller's signature, fund, check the delivery, release."""

    executor: Executor
    deals: DealStore
    ledger: LedgerSink | None = None
    registry: Registry | None = None
    deal_ttl: int = 3600
    origin: str = "rules-brain"
    schemas: Callable[[DealRecord], Mapping[str, Any] | None] | None = None
    """The output JSON Schema a deal's delivery is checked against (from the seller's signed card)."""
    accept: Mapping[str, Accept] = field(default_factory=dict)
    """The buyer's own checks of an output that fits the schema, by service (results.py `Accept`)."""

    async def settle(
        self, record: DealRecord, seller_wallet: str, send: Send, *, binding_verified: bool = False
    ) -> DealRecord:
        """Take an agreed deal (`record.price`, `record.terms_hash`) through signing, funding and, when
        the seller delivers at once, release. The record as it ends (released, funded, declined, …).
        `binding_verified`: this deal already checked `record.peer` <-> `seller_wallet` in AgentRegistry
        (the buyer's card check); a wallet can never be re-bound to another DID there, so the check is
        not repeated before funding (3 RPC calls a deal)."""
        ctx = self.executor.context
        token = ctx.token(_token_ref(record))
        terms: dict[str, Any] = {
            "buyer": ctx.agent_address, "seller": seller_wallet, "token": token.address,
            "amount": record.price, "terms_hash": record.terms_hash,
            "deadline": await chain_now(self.executor) + self.deal_ttl,
            "nonce": secrets.randbits(52),  # JSON-safe: JCS refuses integers beyond 2**53
        }  # fmt: skip
        record = self.deals.update(record.peer, record.thid, deal=terms, deadline=terms["deadline"])
        mine = await self.executor.execute("sign_deal", terms, self.origin)
        if not mine.ok or mine.result is None:
            return await self.decline(record, send, f"this agent may not sign the deal: {mine.message()}")
        replies = await send("deal_signature", {"deal": terms, "signature": mine.result["signature"]})
        theirs = _first(replies, "deal_signature")
        if theirs is None:
            why = _peer_said(replies) or "the seller did not sign the deal"
            return await self.end(record, "declined", why)
        problem = await self._check_seller(
            record, terms, theirs["body"].get("signature"), bound=binding_verified
        )
        if problem is not None:
            return await self.decline(record, send, problem)
        deal_id = mine.result["deal_id"]
        record = await self.deals.advance(
            self.ledger, record, "signed", {"state": "signed", "deal_id": deal_id}, deal_id=deal_id
        )
        args = {"deal": terms, "buyer_signature": mine.result["signature"],
                "seller_signature": theirs["body"]["signature"]}  # fmt: skip
        try:
            # One allowance per token serves all of this agent's deals: an approve of a concurrent
            # deal between our approve and our open would replace ours and make the open revert.
            async with funding_lock(self.executor, token.address):
                approved = outcome_result(
                    await self.executor.execute(
                        "approve_token", {"token": token.address, "amount": record.price}, self.origin
                    )
                )
                opened = outcome_result(await self.executor.execute("open_escrow", args, self.origin))
        except SettlementError as exc:
            return await self.decline(record, send, f"the escrow could not be opened: {exc}")
        record = await self.deals.advance(
            self.ledger,
            record,
            "funded",
            {
                "state": "funded",
                "txs": {"approve": approved.get("tx_hash", ""), "open": opened.get("tx_hash", "")},
            },
            deal_id=record.deal_id,
            tx=opened.get("tx_hash", ""),
        )
        return await self.ask_delivery(record, send)

    async def ask_delivery(self, record: DealRecord, send: Send) -> DealRecord:
        """Tell the seller the escrow is open (`funded`); check and release what it delivers."""
        replies = await send("funded", {"deal_id": record.deal_id, "tx": record.txs.get("open", "")})
        delivery = _first(replies, "deliver")
        if delivery is None:
            failed = _first(replies, "dispute")
            if failed is not None:  # the service failed: the seller refunds, or the deadline does
                why = f"the seller said: {str(failed['body'].get('reason', ''))[:300]}"
                refunded = await escrow_state(self.executor, record.deal_id) == ESCROW_REFUNDED
                return await self.end(record, "refunded" if refunded else "disputed", why)
            return record  # the seller delivers later (on_deliver), or the deadline refunds
        record, answer = await self.accept_delivery(record, delivery["body"])
        await send(answer.type, answer.body)
        return self.deals.get(record.peer, record.thid) or record

    async def accept_delivery(self, record: DealRecord, body: Mapping[str, Any]) -> tuple[DealRecord, Reply]:
        """Check a delivered output (runtime/negotiation/results.py: the card's schema, then the buyer's
        `accept` check): keep it and release the escrow (`released`), or dispute it (no release; the
        deadline refunds)."""
        schema = self.schemas(record) if self.schemas is not None else None
        try:
            output, raw = check_delivery(record, body, schema)
        except ValueError as exc:
            return await self._dispute(record, str(exc))
        if (check := self.accept.get(record.item)) is not None:
            data = self.deals.payloads.load(record.input, record.input_hash)
            if refused := await accept_problem(check, data, output):
                return await self._dispute(record, refused)
        inline, digest = self.deals.payloads.keep(raw)
        record = self.deals.update(
            record.peer, record.thid, state="delivered", output=inline, output_hash=digest
        )
        released = await self.executor.execute("release_escrow", {"deal": record.deal}, self.origin)
        if not released.ok or released.result is None:
            why = f"the escrow could not be released: {released.message()}"
            record = await self.deals.advance(
                self.ledger, record, "release_failed", {"reason": why}, reason=why
            )
            return record, Reply("dispute", {"reason": why})
        tx = str(released.result.get("tx_hash", ""))
        record = await self.deals.advance(
            self.ledger, record, "released", {"state": "released", "txs": {"release": tx}},
            deal_id=record.deal_id, tx=tx, output_hash=digest,
        )  # fmt: skip
        await leave_feedback(self.executor, self.registry, record, self.origin)
        return record, Reply("released", {"deal_id": record.deal_id, "tx": tx})

    async def on_deliver(self, envelope: Envelope) -> list[Reply]:
        """A delivery that came later, to this agent's server: its answer."""
        record = self.deals.get(envelope.sender, envelope.thid)
        if record is None or record.role != "buyer" or record.state != "funded":
            return []
        body = envelope.body if isinstance(envelope.body, dict) else {}
        return [(await self.accept_delivery(record, body))[1]]

    async def _check_seller(
        self, record: DealRecord, terms: Mapping[str, Any], signature: Any, *, bound: bool = False
    ) -> str | None:
        wallet = str(terms["seller"])
        if self.registry is not None and not bound:
            try:
                await self.registry.verify_binding(record.peer, wallet)
            except BindingError as exc:
                return f"the seller's wallet is not bound to its DID: {exc}"
            except Exception as exc:  # the check fails closed
                return f"the seller's registration could not be checked: {type(exc).__name__}: {exc}"
        return seller_signature_problem(self.executor, terms, signature, wallet)

    async def _dispute(self, record: DealRecord, why: str) -> tuple[DealRecord, Reply]:
        record = await self.deals.advance(
            self.ledger, record, "disputed", {"state": "disputed", "reason": why}, reason=why
        )
        return record, Reply("dispute", {"reason": why})

    async def decline(self, record: DealRecord, send: Send, why: str) -> DealRecord:
        """Tell the peer the deal is off (best effort) and record it as declined."""
        try:
            await send("reject", {"reason": why[:500]})
        except SettlementError as exc:
            log.warning("could not tell %s the deal is off: %s", record.peer, exc)
        return await self.end(record, "declined", why)

    async def end(self, record: DealRecord, state: str, why: str) -> DealRecord:
        """Record the deal's final state and why, in the deal store and the ledger."""
        record = await self.deals.advance(
            self.ledger, record, state, {"state": state, "reason": why}, reason=why
        )
        return record


@dataclass
class SellerSettlement:
    """The seller's side: sign the agreed Deal, deliver once the escrow holds the price."""

    executor: Executor
    deals: DealStore
    offers: Offers
    ledger: LedgerSink | None = None
    deliver: bool = True
    """False: never deliver (a seller that takes the order and vanishes; tests of the refund path)."""

    async def on_deal_signature(self, envelope: Envelope, record: DealRecord) -> list[Reply]:
        """The buyer's signed Deal: the seller's signature, or `reject` when the terms are not the
        agreed ones or signing is denied."""
        body = envelope.body if isinstance(envelope.body, dict) else {}
        terms = body.get("deal")
        problem = self._terms_problem(record, terms) if isinstance(terms, dict) else "no deal terms"
        if problem is None:
            assert isinstance(terms, dict)
            outcome = await self.executor.execute("sign_deal", terms, f"peer:{envelope.sender}")
            if outcome.ok and outcome.result is not None:
                deal_id = outcome.result["deal_id"]
                record = await self.deals.advance(
                    self.ledger,
                    record,
                    "signed",
                    {
                        "state": "signed",
                        "deal": terms,
                        "deal_id": deal_id,
                        "deadline": int(terms["deadline"]),
                    },
                    deal_id=deal_id,
                )
                return [Reply("deal_signature", {"signature": outcome.result["signature"],
                                                 "deal_id": record.deal_id})]  # fmt: skip
            problem = f"signing is denied: {outcome.message()}"
        record = await self.deals.advance(
            self.ledger, record, "declined", {"state": "declined", "reason": problem}, reason=problem
        )
        return [Reply("reject", {"reason": problem[:500]})]

    async def on_funded(self, envelope: Envelope, record: DealRecord) -> list[Reply]:
        """The buyer says the escrow is open: check it on-chain, then run the service and deliver. A
        `funded` again for a deal already funded or delivered (a buyer that restarted and lost the
        delivery) is answered with the output kept, once the chain still says Open."""
        body = envelope.body if isinstance(envelope.body, dict) else {}
        deal_id = str(body.get("deal_id", ""))
        if record.state not in _FUNDABLE or deal_id.lower() != record.deal_id.lower():
            why = f"funded names deal {deal_id[:80]}, the signed one is {record.deal_id}"
            await self.deals.advance(self.ledger, record, "not_delivered", reason=why)
            return []
        try:
            escrow = self.executor.context.contract("DealEscrow")
            state = int(await escrow.call("stateOf", bytes.fromhex(deal_id[2:])))
        except Exception as exc:
            state, why = -1, f"the escrow could not be read: {type(exc).__name__}: {exc}"
        else:
            why = f"DealEscrow.stateOf({deal_id}) is {state}, not Open"
        if state != ESCROW_OPEN:
            await self.deals.advance(self.ledger, record, "not_delivered", reason=why)
            return []
        record = await self.deals.advance(
            self.ledger,
            record,
            "funded",
            {"state": "funded", "txs": {"open": str(body.get("tx"))}},
            deal_id=deal_id,
        )
        if not self.deliver:
            return []
        return await serve(self.executor, self.deals, self.offers, self.ledger, record)

    async def on_released(self, envelope: Envelope, record: DealRecord) -> None:
        """The buyer released the escrow."""
        body = envelope.body if isinstance(envelope.body, dict) else {}
        tx = str(body.get("tx"))
        record = await self.deals.advance(
            self.ledger, record, "released", {"state": "released", "txs": {"release": tx}},
            deal_id=record.deal_id, tx=tx,
        )  # fmt: skip

    def _terms_problem(self, record: DealRecord, terms: Mapping[str, Any]) -> str | None:
        ctx = self.executor.context
        if record.state != "agreed":
            return f"no agreed deal in this thread (it is {record.state})"
        try:
            if str(terms["seller"]).lower() != ctx.agent_address.lower():
                return f"the deal pays {terms['seller']}, not this seller's wallet {ctx.agent_address}"
            if Decimal(str(terms["amount"])) != Decimal(record.price):
                return f"the deal's amount {terms['amount']} is not the agreed price {record.price}"
            if str(terms["terms_hash"]).lower() != terms_hash(record.item, record.input_hash, record.price):
                return "the deal's termsHash is not the hash of this service, input and price"
            if ctx.token(str(terms["token"])).key != ctx.token(_token_ref(record)).key:
                return f"the deal is in {terms['token']}, the offer was in {_token_ref(record)}"
            if int(terms["deadline"]) < time.time() + MIN_DEADLINE:
                return f"the deal's deadline is less than {MIN_DEADLINE}s away"
        except (KeyError, ValueError, InvalidOperation, SovaError) as exc:
            return f"the deal terms do not read: {exc}"
        return None


async def watch_deadlines(
    executor: Executor, deals: DealStore, ledger: LedgerSink | None = None, *, now: int | None = None
) -> list[DealRecord]:
    """Refund (through the executor) every open escrow of this agent as buyer whose deadline is past;
    the records refunded. A refund that fails is logged and tried again on the next call."""
    moment = now if now is not None else await chain_now(executor)
    refunded: list[DealRecord] = []
    for record in deals.refundable(moment):
        outcome = await executor.execute("refund_escrow", {"deal": record.deal}, "scheduler")
        if not outcome.ok or outcome.result is None:
            await deals.advance(ledger, record, "refund_failed", reason=outcome.message())
            continue
        tx = str(outcome.result.get("tx_hash", ""))
        record = await deals.advance(
            ledger,
            record,
            "refunded",
            {
                "state": "refunded",
                "txs": {"refund": tx},
                "reason": f"deadline {record.deadline} passed before release",
            },
            deal_id=record.deal_id,
            tx=tx,
        )
        refunded.append(record)
    return refunded


def _token_ref(record: DealRecord) -> str:
    return record.token
