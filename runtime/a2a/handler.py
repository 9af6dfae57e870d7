"""The application hook of the protocol: what an agent (its brain) answers to a negotiation message.

The protocol layer verifies, orders, logs and signs; the handler only decides. It gets each accepted
message with the thread's new state and returns replies (type and body) for the same thread, which the
protocol checks against the state machine, signs and sends back in the HTTP answer. A handler that needs
time (an LLM, a chain transaction) returns nothing and sends later through the messenger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from identity.envelopes import Envelope
from runtime.a2a.threads import ThreadState


@dataclass(frozen=True)
class Reply:
    """One message to send back in the thread: its type and JSON body (amounts as strings)."""

    type: str
    body: dict[str, Any] = field(default_factory=dict)


class NegotiationHandler(Protocol):
    """Implemented by the agent's brain. Called once per accepted incoming message."""

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        """The replies to `envelope`, sent to its sender in the same thread (possibly none)."""
        ...


Rule = Reply | Sequence[Reply] | Callable[[Envelope, ThreadState], Reply | Sequence[Reply] | None] | None


class ScriptedHandler:
    """A handler for tests and demos: answers each incoming type from a script.

    `script` maps an incoming message type to a Reply, a list of Replies, None (no answer), or a function
    of (envelope, thread) giving one of those. Types not in the script get no answer. Every accepted
    envelope is kept in `received`.
    """

    def __init__(self, script: Mapping[str, Rule] | None = None) -> None:
        self.script: dict[str, Rule] = dict(script or {})
        self.received: list[Envelope] = []

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        """The scripted replies to `envelope`."""
        self.received.append(envelope)
        rule = self.script.get(envelope.type)
        answer = rule(envelope, thread) if callable(rule) else rule
        if answer is None:
            return []
        if isinstance(answer, Reply):
            return [answer]
        return list(answer)


def echo_handler() -> ScriptedHandler:
    """A seller for tests and demos: cfp -> propose (price "10"); propose or counter -> a counter at the
    price it was offered; accept -> its deal signature; funded -> deliver."""

    def counter(envelope: Envelope, thread: ThreadState) -> Reply:
        body = envelope.body if isinstance(envelope.body, dict) else {}
        return Reply("counter", {"price": str(body.get("price", "10"))})

    return ScriptedHandler(
        {
            "cfp": Reply("propose", {"price": "10"}),
            "propose": counter,
            "counter": counter,
            "accept": Reply("deal_signature", {"signature": "0x"}),
            "funded": Reply("deliver", {"artifact": "done"}),
        }
    )
