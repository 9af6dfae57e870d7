"""A model's `fetch_paid` call (runtime/brains/paying.py) run as one paid fetch of its agent: the
arguments checked like `POST /v1/fetch`'s (unknown keys refused: a model cannot add an `approved`),
`max_amount` required, then the same PaidFetch path as `sova fetch` with origin `llm`, so the
executor's policy, budget, narrow signer and ledger decide and record every payment.

    fetcher = ModelFetch(executor, ledger)
    agent = paying_agent(model, executor, fetcher.for_model)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.payments.buyer import PaidFetch
from runtime.payments.errors import PaymentError, SettlementUnproven
from runtime.payments.request import parse_request

if TYPE_CHECKING:
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink

__all__ = ["MODEL_BODY", "ModelFetch"]

MODEL_BODY = 8000
"""The most characters of a body the model is shown."""


class ModelFetch:
    """Paid fetches asked for by a model, for one agent."""

    def __init__(self, executor: Executor, ledger: LedgerSink, *, origin: str = "llm") -> None:
        self.executor = executor
        self.ledger = ledger
        self.origin = origin

    async def for_model(self, args: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | str]:
        """`fetch` for a model's `fetch_paid` call: (True, the answer) or (False, why nothing was paid)."""
        try:
            if "max_amount" not in args:
                raise PaymentError("max_amount is required: say the most one payment may cost")
            request, maximum = parse_request(dict(args))
        except PaymentError as exc:
            return False, str(exc)
        fetcher = PaidFetch(self.executor, self.ledger, origin=self.origin)
        try:
            result = await fetcher.fetch(
                request.url,
                method=request.method,
                body=request.body.encode() if request.body is not None else None,
                max_amount=maximum,
            )
        except PaymentError as exc:
            return False, str(exc)[:500]
        except SettlementUnproven as exc:
            return False, f"paid, but the settlement is not proven on-chain: {str(exc)[:400]}"
        finally:
            await fetcher.close()
        summary = result.summary()
        body = summary.get("body")
        if isinstance(body, str) and len(body) > MODEL_BODY:
            summary["body"] = body[:MODEL_BODY] + f"… ({len(body)} characters in all)"
        payment = summary.get("payment") or {}
        summary["payment"] = {
            k: payment[k] for k in ("price", "pay_to", "status", "transaction") if k in payment
        }
        return result.status < 400, summary
