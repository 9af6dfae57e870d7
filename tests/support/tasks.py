"""A seller for the A2A Task tests without a chain: its deals are a real DealStore and its Tasks the real
`SellerTasks`; only the negotiation is scripted (a cfp opens a deal offered at 10, an accept agrees).
The chain tests (tests/chain/test_purchase_tasks.py) run the real Seller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from identity import IdentityKey, sign_envelope
from identity.envelopes import Envelope
from runtime.a2a.caller import caller_header
from runtime.a2a.handler import Reply
from runtime.a2a.threads import ThreadState
from runtime.ledger.sink import LedgerSink, MemorySink
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.tasks import SellerTasks

V1 = {"A2A-Version": "1.0"}


class TaskShop:
    """NegotiationHandler with `tasks`: cfp -> a deal offered at 10 (propose); accept -> agreed."""

    def __init__(self, deals: DealStore, ledger: LedgerSink | None = None) -> None:
        self.deals = deals
        self.ledger = ledger or MemorySink()
        self.tasks = SellerTasks(deals, self.ledger)

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        if envelope.type == "cfp":
            item = str(envelope.body.get("item", "x")) if isinstance(envelope.body, dict) else "x"
            self.deals.put(DealRecord(peer=envelope.sender, thid=envelope.thid, role="seller", item=item,
                                      price="10"))  # fmt: skip
            return [Reply("propose", {"price": "10"})]
        record = self.deals.get(envelope.sender, envelope.thid)
        if record is not None and record.state == "canceled":
            return [Reply("reject", {"reason": record.reason})]
        if envelope.type == "accept" and record is not None:
            await self.deals.advance(self.ledger, record, "agreed", {"state": "agreed"})
        return []


def envelope_message(jws: str, thid: str) -> dict[str, Any]:
    """SendMessage params carrying the signed envelope `jws` in thread `thid`."""
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "contextId": thid,
                        "parts": [{"data": {"sova_envelope": jws}}]}}  # fmt: skip


def cfp_message(
    buyer: IdentityKey, seller_did: str, thid: str, body: dict[str, Any] | None = None, **message: Any
) -> dict[str, Any]:
    """SendMessage params carrying a signed cfp from `buyer` (its body: `body`, by default a request for
    `wordcount`; extra message fields as given)."""
    body = body if body is not None else {"item": "wordcount"}
    jws = sign_envelope(buyer, type="cfp", thid=thid, to=seller_did, body=body)
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "contextId": thid,
                        "parts": [{"data": {"sova_envelope": jws}}], **message}}  # fmt: skip


async def rpc(
    url: str, method: str, params: Any, *, caller: IdentityKey | None = None, to: str = ""
) -> dict[str, Any]:
    """One JSON-RPC 1.0 call (the caller's bearer token when `caller` is given); the answer object."""
    headers = {**V1, **(caller_header(caller, to) if caller is not None else {})}
    request = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json=request, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer
