"""A purchase asked of a running buyer agent (`POST /v1/buy`, the chat's `buy`, the LLM's `buy_service`).

    Purchaser.buy(BuyRequest)
      max price: a usable amount, and not over the agent's policy cap (deal_price rules of its token):
        it can only lower that cap, never raise it                       else a BuyResult "no deal"
      sellers: the one named (agent name of this fleet, or DID), else AgentRegistry's by service tag
      each seller's signed card: the input must match the service's input JSON Schema (checked here,
        before the cfp, so bad input is refused before any signature)  else PurchaseRefused (422)
      Buyer.buy (the agent's own Buyer path: executor, policy, budgets, ledger), with the cap above
      then waits (up to the request's timeout) for the deal to end: released, refunded, declined ...

The agent's keys never leave its process: this object runs inside it and reaches signatures only
through the Buyer, whose every signature goes through the executor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policies.units import parse_amount
from runtime.errors import SovaError
from runtime.operator.buy_models import DEAL_ENDS, BuyRequest, BuyResult, max_price_problem

if TYPE_CHECKING:
    from policies import Policy
    from runtime.a2a.client import A2AMessenger
    from runtime.chain.registry import AgentRecord, Registry
    from runtime.negotiation.buyer import Buyer
    from runtime.negotiation.deals import DealRecord, DealStore

__all__ = [
    "MakeBuyer",
    "PurchaseRefused",
    "Purchaser",
    "find_sellers",
    "input_problem",
    "policy_cap",
    "result_of",
]

log = logging.getLogger(__name__)

MakeBuyer = Callable[[Decimal | None, str], "Buyer"]
"""Builds the agent's Buyer for one purchase: (cap or None, token symbol) -> Buyer."""
POLL = 0.25


class PurchaseRefused(SovaError):
    """A purchase refused before anything was sent or signed; `status` is the HTTP status (400, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def policy_cap(policy: Policy, token: str) -> Decimal | None:
    """The lowest `deal_price` max of `policy` for `token` (a symbol): the most one deal may cost."""
    from policies.rules import DealPrice

    wanted = policy.tokens.find(token)
    caps = [
        Decimal(rule.max)
        for rule in policy.rules
        if isinstance(rule, DealPrice) and (found := policy.tokens.find(rule.token)) is not None
        and wanted is not None and found.key == wanted.key
    ]  # fmt: skip
    return min(caps) if caps else None


def input_problem(schema: Mapping[str, Any], data: Any, service: str) -> str | None:
    """Why `data` does not match `service`'s input JSON Schema (one line), or None when it does."""
    import jsonschema

    if not schema:
        return None
    try:
        cls = jsonschema.validators.validator_for(dict(schema))
        cls.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        return f"the seller's input schema for {service} is invalid ({exc.message[:200]})"
    error = jsonschema.exceptions.best_match(cls(dict(schema)).iter_errors(data))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "input"
    return (f"the input does not match {service}'s input schema: {where}: {error.message[:200]} "
            f"(schema: {json.dumps(dict(schema), sort_keys=True)[:300]})")  # fmt: skip


async def find_sellers(registry: Registry, tag: str, own_wallet: str) -> list[AgentRecord]:
    """The registered agents with `tag` and an endpoint, other than this agent: best paid feedback
    first, unrated ones last, ties oldest first (runtime.chain.trust.rank_sellers); oldest first
    when the chain has no ReputationRegistry."""
    from runtime.chain.trust import rank_sellers

    ids = await registry.contract.call("agentsWithTag", tag)
    found: list[AgentRecord] = []
    for agent_id in ids:
        record = await registry.record(int(agent_id))
        if record.endpoint and record.wallet.lower() != own_wallet.lower():
            found.append(record)
    return found if registry.reputation is None else await rank_sellers(found, registry.reputation)


def result_of(record: DealRecord, deals: DealStore, names: Mapping[str, str]) -> BuyResult:
    """The BuyResult of a buyer's deal record, its input and output loaded from `deals`; the seller
    named by `names` ({agent name: DID}) when it is one of the fleet."""
    name = next((n for n, did in names.items() if did == record.peer), "")
    reason = record.reason if record.state != "released" else ""
    if record.state not in DEAL_ENDS:
        reason = f"the deal is still {record.state} (it goes on: see `sova deals show`)"
    return BuyResult(
        state=record.state, service=record.item, reason=reason, deal_id=record.deal_id,
        thread=record.thid, seller=f"{name} ({record.peer})" if name else record.peer,
        price=record.price, token=record.token,
        input=deals.payloads.load(record.input, record.input_hash),
        output=deals.payloads.load(record.output, record.output_hash), txs=dict(record.txs),
    )  # fmt: skip


class Purchaser:
    """Buys services for one agent: finds sellers, checks the input, lets the agent's Buyer negotiate
    and settle, waits for the end. `names`: {agent name: DID} of the fleet (for `seller: NAME`)."""

    def __init__(
        self, *, make_buyer: MakeBuyer, policy: Policy, registry: Registry, messenger: A2AMessenger,
        deals: DealStore, own_wallet: str, names: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.make_buyer = make_buyer
        self.policy = policy
        self.registry = registry
        self.messenger = messenger
        self.deals = deals
        self.own_wallet = own_wallet
        self.names = dict(names or {})
        self._running: set[asyncio.Future[DealRecord]] = set()

    async def buy(self, request: BuyRequest, token: str = "TUSD") -> BuyResult:
        """Buy as `request` says; PurchaseRefused (nothing sent, nothing signed) for bad input."""
        problem = max_price_problem(request.max_price)
        if problem is not None:
            raise PurchaseRefused(400, problem)
        cap = policy_cap(self.policy, token)
        wanted = parse_amount(request.max_price) if request.max_price is not None else None
        if wanted is not None and cap is not None and wanted > cap:
            why = (f"the max price {wanted:f} {token} is over this agent's policy cap of {cap:f} {token} "
                   "a deal (its deal_price rule): a max price can only lower that cap")  # fmt: skip
            return self._none(request, why)
        if wanted is not None:
            cap = wanted if cap is None else min(cap, wanted)
        checked = await self._checked_sellers(request)
        if isinstance(checked, str):
            return self._none(request, checked)
        deadline = time.monotonic() + request.timeout
        result = self._none(request, "no seller made a deal")
        for seller in checked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            result = await self._deal(request, seller, cap, token, remaining)
            if result.ok or result.deal_id:  # money moved or a deal was signed: do not go on to another
                break
        return result

    async def _checked_sellers(self, request: BuyRequest) -> list[AgentRecord] | str:
        """The sellers whose signed card lists the service, or why there is none; PurchaseRefused (422)
        when the input does not match the service's input schema."""
        sellers = await self._sellers(request)
        if isinstance(sellers, str):
            return sellers
        checked = []
        for seller in sellers:
            card = await self._card(seller)
            spec = card.services.get(request.service) if card is not None else None
            if spec is None:
                continue
            problem = input_problem(spec.input_schema, request.input, request.service)
            if problem is not None:
                raise PurchaseRefused(422, problem)
            checked.append(seller)
        return checked or f"no registered seller of {request.service!r} answers with a card listing it"

    async def for_model(self, args: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | str]:
        """`buy` for a model's `buy_service` call (runtime/brains/buying.py): its arguments are
        untrusted; (released?, the result) or (False, why it was refused)."""
        from pydantic import ValidationError

        try:
            request = BuyRequest.model_validate(dict(args))
        except ValidationError as exc:
            first = exc.errors()[0]
            return False, f"{'.'.join(str(p) for p in first['loc']) or 'arguments'}: {first['msg']}"
        try:
            result = await self.buy(request)
        except PurchaseRefused as exc:
            return False, str(exc)
        return result.ok, result.model_dump(mode="json")

    async def _deal(self, request: BuyRequest, seller: AgentRecord, cap: Decimal | None, token: str,
                    wait: float) -> BuyResult:  # fmt: skip
        try:
            buyer, thid = self.make_buyer(cap, token), uuid.uuid4().hex
        except SovaError as exc:  # e.g. the LLM brain's model cannot be made
            return self._none(request, f"this agent cannot negotiate: {exc}")
        # The deal runs as its own task: a timeout here ends the wait, never a settlement half-way.
        task = asyncio.ensure_future(
            buyer.buy(
                seller.endpoint, request.service, input=request.input, thid=thid, expected_did=seller.did
            )
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        done, _ = await asyncio.wait({task}, timeout=wait)
        if not done:
            record = self.deals.get(seller.did, thid)
            if record is None:
                return self._none(request, f"{seller.did} did not answer within {request.timeout:g} s")
            return self.result(record)
        try:
            record = task.result()
        except Exception as exc:  # the Buyer records what it can; say the rest in one line
            log.exception("buy %s from %s failed", request.service, seller.endpoint)
            return self._none(request, f"the purchase failed ({type(exc).__name__}: {str(exc)[:200]})")
        record = await self._ended(record, time.monotonic() + wait)
        return self.result(record)

    async def _ended(self, record: DealRecord, deadline: float) -> DealRecord:
        """`record` once it has ended (or as it is at `deadline`)."""
        while record.state not in DEAL_ENDS and time.monotonic() < deadline:
            await asyncio.sleep(POLL)
            record = self.deals.get(record.peer, record.thid) or record
        return record

    def result(self, record: DealRecord) -> BuyResult:
        """The BuyResult of a deal record (its input and output loaded from the deal store)."""
        return result_of(record, self.deals, self.names)

    async def _sellers(self, request: BuyRequest) -> list[AgentRecord] | str:
        """The sellers to try, or why there is none."""
        try:
            if request.seller is None:
                found = await find_sellers(self.registry, request.service, self.own_wallet)
                return found or f"no seller is registered with service {request.service!r} in AgentRegistry"
            did = request.seller if request.seller.startswith("did:") else self.names.get(request.seller)
            if did is None:
                known = ", ".join(sorted(self.names)) or "none"
                raise PurchaseRefused(400, f"seller {request.seller!r} is neither a DID nor an agent of this "
                                      f"fleet (agents: {known})")  # fmt: skip
            record = await self.registry.by_did(did)
        except PurchaseRefused:
            raise
        except Exception as exc:  # the chain may be unreachable for a moment
            return f"cannot read AgentRegistry ({type(exc).__name__}: {str(exc)[:200]})"
        if record is None or not record.endpoint:
            return f"seller {request.seller} is not registered with an endpoint in AgentRegistry"
        return [record]

    async def _card(self, seller: AgentRecord) -> Any:
        from runtime.a2a.card import InvalidCard

        try:
            return await self.messenger.connect(seller.endpoint)
        except InvalidCard as exc:
            log.info("seller %s at %s: no usable card (%s)", seller.did, seller.endpoint, exc)
            return None

    @staticmethod
    def _none(request: BuyRequest, reason: str) -> BuyResult:
        return BuyResult(state="no deal", service=request.service, reason=reason, input=request.input)
