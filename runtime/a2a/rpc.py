"""The JSON-RPC methods of a Sova agent (a2a-sdk `RequestHandler`): negotiation messages and Tasks.

    SendMessage   one data part {"sova_envelope": JWS} -> the protocol (runtime/a2a/protocol.py); the
                  answer is the deal's Task when the thread holds a purchase on this agent (its status
                  message carries `{"sova_status": "accepted"}` and the signed replies), else a message
                  with the same parts. A message with text only gets a polite text answer. `messageId`
                  and `role` are required (-32602); a `taskId` that is not the caller's is -32001.
    GetTask       the caller's task (runtime/a2a/caller.py says who calls), else -32001 TaskNotFound
    ListTasks     the caller's tasks, filtered and paged (runtime/a2a/tasks.py)
    CancelTask    the caller's task canceled, or -32002 TaskNotCancelable with the reason
    streaming, resubscribe, push notifications: not supported (the card says so)

A message of the x402 A2A extension (runtime/a2a/x402_ext.py) goes to the agent's per-call sales when it
sells so (`negotiator.paid_tasks`); their tasks are found by id.

The tasks come from the negotiator's handler when it keeps them (`handler.tasks`, a `TaskBook`: the
Seller's deals); an agent that only buys has none, and every task lookup is "not found".
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import (
    ExtendedAgentCardNotConfiguredError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)

from identity.keys import b64url_decode
from identity.untrusted_json import loads_untrusted
from runtime.a2a.admission import Admission
from runtime.a2a.caller import caller_did
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION
from runtime.a2a.protocol import Negotiator, ProtocolError
from runtime.a2a.tasks import TaskBook, check_history_length, cut_history, list_page, task_id_of
from runtime.a2a.x402_ext import PaidTasks, is_x402

__all__ = ["SovaRequestHandler"]


class SovaRequestHandler(RequestHandler):
    """a2a-sdk request handler that hands negotiation envelopes to a `Negotiator` and answers for the
    tasks its handler keeps."""

    def __init__(self, negotiator: Negotiator, admission: Admission | None = None) -> None:
        self.negotiator = negotiator
        self.admission = admission

    @property
    def book(self) -> TaskBook | None:
        """The tasks the negotiator's handler keeps (looked up per call: the handler may be swapped)."""
        tasks = getattr(self.negotiator.handler, "tasks", None)
        return tasks if isinstance(tasks, TaskBook) else None

    @property
    def paid(self) -> PaidTasks | None:
        """The agent's x402 sales over A2A (`negotiator.paid_tasks`, runtime/a2a/x402_ext.py), if any."""
        paid = self.negotiator.paid_tasks
        return paid if isinstance(paid, PaidTasks) else None

    def _caller(self, context: ServerCallContext) -> str | None:
        headers = context.state.get("headers") or {}
        return caller_did(headers, agent_did=self.negotiator.did, replay=self.negotiator.replay)

    def _task(self, caller: str | None, task_id: str) -> a2a.Task:
        book = self.book
        task = book.get_task(caller, task_id) if book is not None and caller else None
        if task is None and self.paid is not None:
            task = self.paid.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(f"task not found: {task_id[:80]!r} is no task of this caller")
        return task

    async def on_message_send(
        self, params: a2a.SendMessageRequest, context: ServerCallContext
    ) -> a2a.Message | a2a.Task:
        """A negotiation envelope in, the signed replies out; a polite note for plain messages."""
        message = _checked(params)
        if self.paid is not None and is_x402(message):  # a purchase paid per call (a2a-x402)
            return cut_history(await self.paid.on_message(message), params.configuration)
        envelopes, data_parts = _envelopes(message)
        if not data_parts and NEGOTIATION_EXTENSION not in message.extensions:
            if message.task_id:
                self._task(self._caller(context), message.task_id)
            return _info(message, self.negotiator.did)
        try:
            jws = await self._one(envelopes)
            claims = _claims(jws)
            sender, thid = str(claims.get("from", "")), str(claims.get("thid", ""))
            if message.task_id and message.task_id != task_id_of(sender, thid):
                raise TaskNotFoundError(f"task not found: {message.task_id[:80]!r} is not this thread's task")
            if self.admission is not None:  # strangers' budgets, before anything is written
                await self.admission.admit(jws)
            replies = await self.negotiator.receive(jws)
        except ProtocolError as exc:
            raise InvalidParamsError(str(exc), data={"sova_reason": exc.reason}) from None
        answer = a2a.Message(
            message_id=uuid.uuid4().hex, context_id=message.context_id or uuid.uuid4().hex,
            role=a2a.ROLE_AGENT, extensions=[NEGOTIATION_EXTENSION],
        )  # fmt: skip
        answer.parts.add().data.struct_value.fields["sova_status"].string_value = "accepted"
        for reply in replies:
            answer.parts.add().data.struct_value.fields[ENVELOPE_KEY].string_value = reply
        book = self.book
        task = book.thread_task(sender, thid) if book is not None and sender and thid else None
        if task is None:
            return answer
        answer.context_id, answer.task_id = task.context_id, task.id
        task.status.message.CopyFrom(answer)
        return cut_history(task, params.configuration)

    async def _one(self, envelopes: list[str]) -> str:
        """The one envelope of a negotiation message; ProtocolError (logged `rejected`) otherwise."""
        if len(envelopes) > 1:
            await self.negotiator.record_rejected("malformed", "a message carries one envelope, not several")
            raise ProtocolError("a message carries one envelope, not several", reason="malformed")
        if not envelopes:
            why = f'no signed envelope: send one data part {{"{ENVELOPE_KEY}": "<compact JWS>"}}'
            await self.negotiator.record_rejected("unsigned", why)
            raise ProtocolError(why, reason="unsigned")
        return envelopes[0]

    async def on_message_send_stream(
        self, params: a2a.SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """Streaming is not offered (the card says so)."""
        raise UnsupportedOperationError("streaming is not supported: use SendMessage")
        yield  # pragma: no cover - makes this an async generator

    async def on_get_task(self, params: a2a.GetTaskRequest, context: ServerCallContext) -> a2a.Task | None:
        """The caller's task `id` (its newest `historyLength` messages), else TaskNotFound."""
        check_history_length(params)
        return cut_history(self._task(self._caller(context), params.id), params)

    async def on_list_tasks(
        self, params: a2a.ListTasksRequest, context: ServerCallContext
    ) -> a2a.ListTasksResponse:
        """One page of the caller's tasks (none for an anonymous caller)."""
        caller, book = self._caller(context), self.book
        return list_page(book.caller_tasks(caller) if book is not None and caller else [], params)

    async def on_cancel_task(
        self, params: a2a.CancelTaskRequest, context: ServerCallContext
    ) -> a2a.Task | None:
        """Cancel the caller's task, under its thread's lock (no message of the thread runs meanwhile)."""
        caller = self._caller(context)
        task = self._task(caller, params.id)
        book = self.book
        if book is None or caller is None:  # _task found it, so neither is None
            raise TaskNotFoundError(f"task not found: {params.id[:80]!r} is no task of this caller")
        async with self.negotiator.thread_lock(caller, task.context_id):
            canceled = await book.cancel_task(caller, params.id)
        if canceled is None:
            raise TaskNotFoundError(f"task not found: {params.id[:80]!r} is no task of this caller")
        return canceled

    async def on_subscribe_to_task(
        self, params: a2a.SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """Streaming is not offered: TaskNotFound for a task that is not the caller's, else unsupported."""
        self._task(self._caller(context), params.id)
        raise UnsupportedOperationError("streaming is not supported: poll with GetTask")
        yield  # pragma: no cover - makes this an async generator

    async def on_create_task_push_notification_config(
        self, params: a2a.TaskPushNotificationConfig, context: ServerCallContext
    ) -> a2a.TaskPushNotificationConfig:
        """Push notifications are not supported."""
        raise PushNotificationNotSupportedError

    async def on_get_task_push_notification_config(
        self, params: a2a.GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> a2a.TaskPushNotificationConfig:
        """Push notifications are not supported."""
        raise PushNotificationNotSupportedError

    async def on_list_task_push_notification_configs(
        self, params: a2a.ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> a2a.ListTaskPushNotificationConfigsResponse:
        """Push notifications are not supported."""
        raise PushNotificationNotSupportedError

    async def on_delete_task_push_notification_config(
        self, params: a2a.DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        """Push notifications are not supported."""
        raise PushNotificationNotSupportedError

    async def on_get_extended_agent_card(
        self, params: a2a.GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> a2a.AgentCard:
        """There is no extended card: the public one says everything."""
        raise ExtendedAgentCardNotConfiguredError


def _checked(params: a2a.SendMessageRequest) -> a2a.Message:
    """The request's message; InvalidParams (-32602) without parts, `messageId` or `role` (all REQUIRED),
    or with a negative `historyLength`."""
    message = params.message
    if not params.HasField("message") or not message.parts:
        raise InvalidParamsError("SendMessage needs a message with at least one part")
    if not message.message_id:
        raise InvalidParamsError("the message needs a messageId")
    if message.role == a2a.ROLE_UNSPECIFIED:
        raise InvalidParamsError("the message needs a role (ROLE_USER)")
    check_history_length(params.configuration)
    return message


def _envelopes(message: a2a.Message) -> tuple[list[str], int]:
    """(the envelopes in `message`'s data parts, how many data parts it has)."""
    envelopes: list[str] = []
    data_parts = 0
    for part in message.parts:
        if part.WhichOneof("content") != "data":
            continue
        data_parts += 1
        fields = part.data.struct_value.fields if part.data.WhichOneof("kind") == "struct_value" else {}
        value = fields.get(ENVELOPE_KEY)
        if value is not None:
            envelopes.append(value.string_value if value.WhichOneof("kind") == "string_value" else "")
    return envelopes, data_parts


def _claims(jws: str) -> dict[str, Any]:
    """What an envelope says, unverified (the negotiator verifies it): its sender and thread, to route."""
    try:
        payload = loads_untrusted(b64url_decode(jws.split(".")[1]))
    except (ValueError, IndexError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _info(message: a2a.Message, did: str) -> a2a.Message:
    text = (
        f"This is a Sova agent ({did}). It negotiates with signed envelopes only: see the "
        f"{NEGOTIATION_EXTENSION} extension in its agent card, and send one data part "
        f'{{"{ENVELOPE_KEY}": "<compact JWS>"}} per message.'
    )
    answer = a2a.Message(
        message_id=uuid.uuid4().hex, context_id=message.context_id or uuid.uuid4().hex, role=a2a.ROLE_AGENT
    )
    answer.parts.add().text = text
    return answer
