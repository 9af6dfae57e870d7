"""An agent's services sold per call over A2A through the x402 A2A extension (a2a-x402 v0.2, standalone
flow; runtime/a2a/x402_ext.py has the keys): the same shop, price and paywall as the HTTP sales
(sales.py), so verification before the handler, settlement after it, and the ledger's `x402_sale` are
the same code.

- A message naming the extension with one data part `{"service": NAME, "input": {...}}` gets a new Task
  `input-required`, its status message's metadata `x402.payment.status: payment-required` and
  `x402.payment.required` (the x402 PaymentRequired for that input's price).
- A message with that `taskId` and `payment-submitted` + `x402.payment.payload` pays it: the Task is
  `completed` with the output as an artifact and `x402.payment.receipts`; a payment the paywall
  refuses leaves it `input-required` with `payment-failed`, `x402.payment.error` and the requirements
  again; a failed service is `failed` with nothing settled. `payment-rejected` cancels it.
- Tasks live in memory (the newest `MAX_TASKS`); the ledger keeps every sale and refusal.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError
from google.protobuf.json_format import (  # type: ignore[import-untyped, unused-ignore]
    MessageToDict,
    ParseDict,
)

from identity.untrusted_json import loads_untrusted
from runtime.a2a.x402_ext import ERROR, PAYLOAD, RECEIPTS, REQUIRED, STATUS, X402_EXTENSION
from runtime.payments.errors import BadPaymentHeader
from runtime.payments.paywall import Offer, Paywall
from runtime.payments.sales import SaleOffering, SaleShop, Seller, quote_call, service_handler
from runtime.payments.wire import PaymentPayload, parse_object

__all__ = ["MAX_TASKS", "A2ASales"]

MAX_TASKS = 1000
"""The x402 tasks kept (the oldest are forgotten first)."""
_MAX_INPUT = 64 * 1024


@dataclass
class _Sale:
    """One task: what is sold, at what offer, and its Task as last answered."""

    offering: SaleOffering
    value: Any
    body: bytes
    offer: Offer
    task: a2a.Task
    busy: bool = False
    receipts: list[dict[str, Any]] = field(default_factory=list)


class A2ASales:
    """`PaidTasks` for one agent: its shop sold for `seller` through `paywall`."""

    def __init__(self, shop: SaleShop, seller: Seller, paywall: Paywall) -> None:
        self.shop = shop
        self.seller = seller
        self.paywall = paywall
        self._sales: OrderedDict[str, _Sale] = OrderedDict()

    def get_task(self, task_id: str) -> a2a.Task | None:
        """A copy of task `task_id`, or None."""
        sale = self._sales.get(task_id)
        return _copy(sale.task) if sale is not None else None

    async def on_message(self, message: a2a.Message) -> a2a.Task:
        """A purchase, a payment or a rejection (see the module docstring)."""
        if not message.task_id:
            return self._new(message)
        sale = self._sales.get(message.task_id)
        if sale is None:
            raise TaskNotFoundError(f"task not found: {message.task_id[:80]!r} is no x402 task here")
        status = _text(message.metadata, STATUS)
        if sale.task.status.state != a2a.TASK_STATE_INPUT_REQUIRED or sale.busy:
            raise InvalidParamsError("this task takes no payment now: GetTask shows its state")
        if status == "payment-rejected":
            _status(sale.task, a2a.TASK_STATE_CANCELED, "the buyer rejected the payment", {STATUS: status})
            return _copy(sale.task)
        if status != "payment-submitted" or PAYLOAD not in message.metadata.fields:
            raise InvalidParamsError(
                f'pay with metadata {{"{STATUS}": "payment-submitted", "{PAYLOAD}": <PaymentPayload>}}'
            )
        try:
            payment = parse_object(PAYLOAD, MessageToDict(message.metadata)[PAYLOAD], PaymentPayload)
        except BadPaymentHeader as exc:
            return self._failed(sale, str(exc))
        sale.busy = True  # one payment at a time per task
        try:
            charged = await self.paywall.charge(
                sale.offer, payment, sale.body, service_handler(sale.offering, sale.value)
            )
        finally:
            sale.busy = False
        if charged.refused is not None:
            return self._failed(sale, charged.refused)
        if charged.settled is None:
            said = charged.output[:300].decode("utf-8", "replace")
            why = f"{sale.offering.name} failed: {said}; nothing was paid"
            _status(
                sale.task, a2a.TASK_STATE_FAILED, why, {STATUS: "payment-failed", ERROR: "service_failed"}
            )
            return _copy(sale.task)
        sale.receipts.append(charged.settled.model_dump(mode="json", by_alias=True, exclude_none=True))
        artifact = sale.task.artifacts.add(artifact_id=f"{sale.task.id}-output", name=sale.offering.name)
        ParseDict(loads_untrusted(charged.output), artifact.parts.add().data)
        meta = {STATUS: "payment-completed", RECEIPTS: sale.receipts}
        _status(sale.task, a2a.TASK_STATE_COMPLETED, f"paid and done: {sale.offering.name}", meta)
        return _copy(sale.task)

    def _new(self, message: a2a.Message) -> a2a.Task:
        service, data = _request(message)
        offering = self.shop.get(service)
        if offering is None:
            raise InvalidParamsError(f"no service {service[:64]!r} is sold per call here")
        if offering.requires:
            raise InvalidParamsError(f"{service} needs a credential of its buyer: buy it through a deal")
        body = _canonical(data)
        priced = quote_call(offering, body, self.seller.token)
        if isinstance(priced, str):
            raise InvalidParamsError(priced)
        value, amount = priced
        offer = self.seller.offer(service, amount)
        task_id = uuid.uuid4().hex
        task = a2a.Task(id=task_id, context_id=message.context_id or uuid.uuid4().hex)
        task.history.add().CopyFrom(message)
        task.history[0].task_id = task_id
        required = offer.required().model_dump(mode="json", by_alias=True, exclude_none=True)
        _status(task, a2a.TASK_STATE_INPUT_REQUIRED, f"pay to run {service}",
                {STATUS: "payment-required", REQUIRED: required})  # fmt: skip
        self._sales[task_id] = _Sale(offering, value, body, offer, task)
        while len(self._sales) > MAX_TASKS:
            self._sales.popitem(last=False)
        return _copy(task)

    def _failed(self, sale: _Sale, reason: str) -> a2a.Task:
        required = sale.offer.required(reason[:1000]).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        meta: dict[str, Any] = {STATUS: "payment-failed", ERROR: reason[:300], REQUIRED: required}
        if sale.receipts:
            meta[RECEIPTS] = sale.receipts
        _status(sale.task, a2a.TASK_STATE_INPUT_REQUIRED, f"payment refused: {reason[:300]}", meta)
        return _copy(sale.task)


def _request(message: a2a.Message) -> tuple[str, dict[str, Any]]:
    """(service, input) of a purchase message; InvalidParams saying how to ask otherwise."""
    for part in message.parts:
        if part.WhichOneof("content") == "data" and part.data.WhichOneof("kind") == "struct_value":
            asked = MessageToDict(part.data.struct_value)
            service, data = asked.get("service"), asked.get("input", {})
            if isinstance(service, str) and service and isinstance(data, dict):
                return service, data
    raise InvalidParamsError(
        'buy per call with one data part {"service": NAME, "input": {...}} and the '
        f"{X402_EXTENSION} extension"
    )


def _canonical(data: dict[str, Any]) -> bytes:
    import json

    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > _MAX_INPUT:
        raise InvalidParamsError(f"the input is larger than {_MAX_INPUT} bytes")
    return body


def _text(struct: Any, key: str) -> str | None:
    value = struct.fields.get(key)
    return value.string_value if value is not None and value.WhichOneof("kind") == "string_value" else None


def _status(task: a2a.Task, state: int, line: str, meta: dict[str, Any]) -> None:
    """Set `task`'s status: `state`, now, a message with `line` and the x402 `meta`; kept in history."""
    task.status.state = state  # type: ignore[assignment]
    task.status.timestamp.GetCurrentTime()
    status = task.status.message
    status.Clear()
    status.message_id, status.task_id, status.context_id = uuid.uuid4().hex, task.id, task.context_id
    status.role = a2a.ROLE_AGENT
    status.extensions.append(X402_EXTENSION)
    status.parts.add().text = line
    status.metadata.update(meta)
    task.history.add().CopyFrom(status)


def _copy(task: a2a.Task) -> a2a.Task:
    copy = a2a.Task()
    copy.CopyFrom(task)
    return copy
