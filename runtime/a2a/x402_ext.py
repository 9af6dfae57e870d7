"""The x402 A2A extension (a2a-x402 v0.2, standalone flow) on the transport side: its URI, its metadata
keys, and the `PaidTasks` protocol through which the JSON-RPC handler hands x402 messages to the agent's
per-call sales (runtime/payments/a2a_sales.py; `a2a` sits below `payments`, so it only knows this).

    client: SendMessage {data: {"service", "input"}}             (extension URI in `extensions`)
    agent:  Task input-required, status.message.metadata
              {"x402.payment.status": "payment-required", "x402.payment.required": PaymentRequired}
    client: SendMessage taskId, metadata {"x402.payment.status": "payment-submitted",
                                          "x402.payment.payload": PaymentPayload}
    agent:  Task completed, the output as an artifact, metadata
              {"x402.payment.status": "payment-completed", "x402.payment.receipts": [SettleResponse]}
            or, refused: input-required again with "payment-failed" and "x402.payment.error"
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from a2a.types import a2a_pb2 as a2a

__all__ = ["ERROR", "PAYLOAD", "RECEIPTS", "REQUIRED", "STATUS", "X402_EXTENSION", "PaidTasks", "is_x402"]

X402_EXTENSION: Final = "https://github.com/google-agentic-commerce/a2a-x402/blob/main/spec/v0.2"
STATUS: Final = "x402.payment.status"
REQUIRED: Final = "x402.payment.required"
PAYLOAD: Final = "x402.payment.payload"
RECEIPTS: Final = "x402.payment.receipts"
ERROR: Final = "x402.payment.error"


@runtime_checkable
class PaidTasks(Protocol):
    """The agent's services sold per call over A2A, as the JSON-RPC handler asks for them."""

    async def on_message(self, message: a2a.Message) -> a2a.Task:
        """Answer an x402 message: a new purchase (the task asking for payment), a payment for a task
        (the task completed, or asking again), a rejection (the task canceled). Raises a2a-sdk
        InvalidParamsError / TaskNotFoundError with one line for what it cannot take."""
        ...

    def get_task(self, task_id: str) -> a2a.Task | None:
        """Task `task_id` (its id is its capability: 128 random bits), else None."""
        ...


def is_x402(message: a2a.Message) -> bool:
    """Whether `message` speaks the extension: it names it, or its metadata carries a payment status."""
    return X402_EXTENSION in message.extensions or STATUS in message.metadata.fields
