"""The agent's A2A 1.0 server: a2a-sdk's JSON-RPC and agent-card routes on Starlette, served by uvicorn.

    GET  /.well-known/agent-card.json   the signed card (runtime/a2a/card.py)
    POST <rpc_path>                     JSON-RPC 2.0: A2A 1.0 methods (`SendMessage`, `GetTask`, …; header
                                        `A2A-Version: 1.0`) and the v0.3 ones (`message/send`, …)

A negotiation message is a `SendMessage` whose message holds one data part `{"sova_envelope": JWS}` (and
lists the negotiation extension in `extensions`); the answer is a message whose parts are
`{"sova_status": "accepted"}` and one `{"sova_envelope": JWS}` per reply. A message with data parts but no
valid envelope is refused with a JSON-RPC error (-32602, `sova_reason` in the error's ErrorInfo metadata)
and a `rejected` ledger entry. A message with text only, from a client that does not speak Sova, gets a
polite text answer naming the extension. The server keeps no A2A tasks: `GetTask` / `CancelTask` answer
"task not found", streaming and push notifications are not supported.

Every request goes through `BodyGuard` (runtime/a2a/guard.py) before anything parses its body.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncGenerator

import uvicorn
from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import (
    ExtendedAgentCardNotConfiguredError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from starlette.applications import Starlette
from starlette.types import ASGIApp

from identity.keys import IdentityKey
from runtime.a2a.admission import Admission
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION, AgentProfile, signed_card
from runtime.a2a.guard import MAX_BODY, BodyGuard
from runtime.a2a.protocol import Negotiator, ProtocolError


class SovaRequestHandler(RequestHandler):
    """a2a-sdk request handler that hands negotiation envelopes to a `Negotiator`."""

    def __init__(self, negotiator: Negotiator, admission: Admission | None = None) -> None:
        self.negotiator = negotiator
        self.admission = admission

    async def on_message_send(
        self, params: a2a.SendMessageRequest, context: ServerCallContext
    ) -> a2a.Message:
        """A negotiation envelope in, the signed replies out; a polite note for plain messages."""
        message = params.message
        if not params.HasField("message") or not message.parts:
            raise InvalidParamsError("SendMessage needs a message with at least one part")
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
        if not data_parts and NEGOTIATION_EXTENSION not in message.extensions:
            return _info(message, self.negotiator.did)
        try:
            if len(envelopes) > 1:
                await self.negotiator.record_rejected(
                    "malformed", "a message carries one envelope, not several"
                )
                raise ProtocolError("a message carries one envelope, not several", reason="malformed")
            if not envelopes:
                why = f'no signed envelope: send one data part {{"{ENVELOPE_KEY}": "<compact JWS>"}}'
                await self.negotiator.record_rejected("unsigned", why)
                raise ProtocolError(why, reason="unsigned")
            if self.admission is not None:  # strangers' budgets, before anything is written
                await self.admission.admit(envelopes[0])
            replies = await self.negotiator.receive(envelopes[0])
        except ProtocolError as exc:
            raise InvalidParamsError(str(exc), data={"sova_reason": exc.reason}) from None
        answer = a2a.Message(
            message_id=uuid.uuid4().hex, context_id=message.context_id or uuid.uuid4().hex,
            role=a2a.ROLE_AGENT, extensions=[NEGOTIATION_EXTENSION],
        )  # fmt: skip
        answer.parts.add().data.struct_value.fields["sova_status"].string_value = "accepted"
        for jws in replies:
            answer.parts.add().data.struct_value.fields[ENVELOPE_KEY].string_value = jws
        return answer

    async def on_message_send_stream(
        self, params: a2a.SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """Streaming is not offered (the card says so)."""
        raise UnsupportedOperationError("streaming is not supported: use SendMessage")
        yield  # pragma: no cover - makes this an async generator

    async def on_get_task(self, params: a2a.GetTaskRequest, context: ServerCallContext) -> a2a.Task | None:
        """No tasks are kept: negotiation answers come back as messages."""
        return None

    async def on_list_tasks(
        self, params: a2a.ListTasksRequest, context: ServerCallContext
    ) -> a2a.ListTasksResponse:
        """No tasks are kept."""
        return a2a.ListTasksResponse()

    async def on_cancel_task(
        self, params: a2a.CancelTaskRequest, context: ServerCallContext
    ) -> a2a.Task | None:
        """No tasks are kept."""
        return None

    async def on_subscribe_to_task(
        self, params: a2a.SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """No tasks are kept."""
        raise TaskNotFoundError("this agent keeps no tasks")
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


def create_app(
    negotiator: Negotiator,
    card: a2a.AgentCard,
    *,
    rpc_path: str = "/",
    max_body: int = MAX_BODY,
    admission: Admission | None = None,
) -> ASGIApp:
    """The ASGI app of one agent: the signed card and the JSON-RPC endpoint behind BodyGuard."""
    handler = SovaRequestHandler(negotiator, admission)
    routes = [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(handler, rpc_url=rpc_path, enable_v0_3_compat=True),
    ]
    return BodyGuard(Starlette(routes=routes), max_body=max_body)


class AgentServer:
    """One agent's A2A server on uvicorn, in this event loop, on a socket from `listen` (so the card can
    name the port before serving). `await start()` returns once it listens; `await stop()` ends it.

    While it serves in the main thread, uvicorn takes SIGINT/SIGTERM: the first stops the server
    gracefully, then uvicorn restores the previous handlers and raises the signal again."""

    def __init__(
        self,
        negotiator: Negotiator,
        key: IdentityKey,
        profile: AgentProfile,
        *,
        sock: socket.socket,
        max_body: int = MAX_BODY,
        admission: Admission | None = None,
    ) -> None:
        self.negotiator = negotiator
        self.profile = profile
        self.card = signed_card(profile, key)
        self.app = create_app(
            negotiator, self.card, rpc_path=profile.rpc_path, max_body=max_body, admission=admission
        )
        self._sock = sock
        # ws="none": A2A is plain HTTP, and not loading the websockets library saves ~0.1 s of start.
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL (the card is at url + /.well-known/agent-card.json)."""
        return self.profile.url

    async def start(self) -> AgentServer:
        """Serve; returns once the socket accepts connections. Raises RuntimeError if uvicorn fails."""
        self._task = await serve_started(self._server, self._sock, "the A2A server")
        return self

    async def stop(self) -> None:
        """Stop serving (open requests finish first)."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None


async def serve_started(server: uvicorn.Server, sock: socket.socket, what: str) -> asyncio.Task[None]:
    """Serve `server` on `sock` in a task, returned once the socket accepts connections; RuntimeError
    (naming `what`) when uvicorn stops while starting."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"{what} stopped while starting")
        await asyncio.sleep(0.005)
    return task


def listen(host: str = "127.0.0.1", port: int = 0) -> tuple[socket.socket, str]:
    """A listening TCP socket on host:port (0: any free port), and its base URL http://host:port."""
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it Nagle + delayed ACKs add ~40 ms to every answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock, f"http://{host}:{sock.getsockname()[1]}"
