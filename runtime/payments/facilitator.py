"""Sova's x402 facilitator for scheme `exact` on one EVM chain: `verify` and `settle` (DESIGN §13).

It is an agent of its own: its key, its policy (`policies/presets/facilitator.yaml` by default: only
`settle_x402`, only `transferWithAuthorization` of the tokens it knows) and its ledger; a settlement is
the `settle_x402` skill run through its Executor, so the transaction is judged, signed by the narrow
signer and logged like any other. `verify` checks without the chain what `check_exact` checks, then the
chain's view: the asset is one this facilitator settles, the nonce is unused, the payer has the funds,
and the transfer simulates. `settle` verifies again, refuses a second settlement of the same
authorization while the first is in flight (two sellers handed one payment), and reports success only
when the receipt shows the Transfer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from runtime.payments.exact import Checked, Refusal, check_exact, network_of
from runtime.payments.wire import FacilitatorRequest, SettleResponse, VerifyResponse

if TYPE_CHECKING:
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink

__all__ = ["Facilitator"]

log = logging.getLogger(__name__)


class Facilitator:
    """Verifies and settles `exact` payments on `executor`'s chain, for the tokens it knows."""

    def __init__(self, executor: Executor, ledger: LedgerSink) -> None:
        self.executor = executor
        self.ledger = ledger
        self.chain_id = executor.context.chain_id
        self.network = network_of(self.chain_id)
        self._in_flight: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()

    @property
    def address(self) -> str:
        """The facilitator's wallet: it pays the gas of every settlement."""
        return self.executor.context.agent_address

    def supported(self) -> dict[str, Any]:
        """The `/supported` answer: x402 v2, `exact`, this chain, and the signer's address."""
        return {
            "kinds": [{"x402Version": 2, "scheme": "exact", "network": self.network}],
            "extensions": [],
            "signers": {"eip155:*": [self.address]},
        }

    async def _chain_view(
        self, req: FacilitatorRequest, checked: Checked, *, simulate: bool
    ) -> Refusal | None:
        from wallet.eip3009 import TransferAuthorization, split_signature
        from wallet.errors import ChainError

        ctx = self.executor.context
        token = ctx.tokens.find(req.payment_requirements.asset)
        assert token is not None  # _check refused unknown assets first
        _, usd = ctx.token_binding(token)
        auth = TransferAuthorization(
            checked.payer,
            checked.payee,
            checked.value,
            checked.valid_after,
            checked.valid_before,
            checked.nonce,
        )
        reads = [
            usd.call("authorizationState", checked.payer, checked.nonce),
            usd.call("balanceOf", checked.payer),
        ]
        if simulate:
            args = (*auth.args(), *split_signature(checked.signature))
            reads.append(usd.call("transferWithAuthorization", *args, sender=self.address))
        # One round trip's time for all: the reads do not depend on each other.
        used, balance, *simulated = await asyncio.gather(*reads, return_exceptions=True)
        if isinstance(used, BaseException):
            raise used
        if isinstance(balance, BaseException):
            raise balance
        if used:
            return Refusal(
                "invalid_exact_evm_nonce_already_used", "the authorization's nonce is used or cancelled"
            )
        if int(balance) < checked.value:
            return Refusal("invalid_exact_evm_insufficient_balance", f"{checked.payer} lacks the funds")
        if simulated and isinstance(simulated[0], ChainError):
            why = f"the transfer would revert: {simulated[0]}"
            return Refusal("invalid_exact_evm_transaction_simulation_failed", why)
        if simulated and isinstance(simulated[0], BaseException):
            raise simulated[0]
        return None

    async def _check(self, req: FacilitatorRequest, *, simulate: bool = True) -> Checked | Refusal:
        if self.executor.context.tokens.find(req.payment_requirements.asset) is None:
            why = "this facilitator does not settle that asset"
            return Refusal("invalid_exact_evm_failed_to_get_asset_info", why)
        checked = check_exact(req.payment_payload, req.payment_requirements, self.chain_id)
        if isinstance(checked, Refusal):
            return checked
        return await self._chain_view(req, checked, simulate=simulate) or checked

    async def verify(self, req: FacilitatorRequest) -> VerifyResponse:
        """Whether the payment would settle now (nothing is sent)."""
        checked = await self._check(req)
        payer = _payer(req)
        if isinstance(checked, Refusal):
            await self._log("x402_verify", req, ok=False, reason=checked.reason, message=checked.message)
            return VerifyResponse(
                is_valid=False, invalid_reason=checked.reason, invalid_message=checked.message, payer=payer
            )
        await self._log("x402_verify", req, ok=True)
        return VerifyResponse(is_valid=True, payer=checked.payer)

    async def settle(self, req: FacilitatorRequest) -> SettleResponse:
        """Submit the authorization through the executor; success only with the Transfer on-chain."""
        payer = _payer(req)
        key = (
            str(payer).lower(),
            str(req.payment_payload.payload.get("authorization", {}).get("nonce")).lower(),
        )
        async with self._lock:
            if key in self._in_flight:
                return self._failed(
                    req, "invalid_exact_evm_nonce_already_used", "this authorization is being settled"
                )
            self._in_flight.add(key)
        try:
            return await self._settle(req)
        finally:
            self._in_flight.discard(key)

    async def _settle(self, req: FacilitatorRequest) -> SettleResponse:
        # Checked again in full but the simulation (as the official facilitator does by default): a
        # transfer that would revert now reverts on-chain, and the executor reports it.
        checked = await self._check(req, simulate=False)
        if isinstance(checked, Refusal):
            await self._log("x402_settle", req, ok=False, reason=checked.reason, message=checked.message)
            return self._failed(req, checked.reason, checked.message)
        args = {
            "asset": req.payment_requirements.asset,
            "payer": checked.payer,
            "payee": checked.payee,
            "value": str(checked.value),
            "valid_after": str(checked.valid_after),
            "valid_before": str(checked.valid_before),
            "nonce": "0x" + checked.nonce.hex(),
            "signature": "0x" + checked.signature.hex(),
        }
        outcome = await self.executor.execute("settle_x402", args, f"x402:{checked.payer}")
        if not outcome.ok or outcome.result is None:
            message = "; ".join(outcome.reasons) or outcome.status
            await self._log("x402_settle", req, ok=False, reason="transaction_failed", message=message)
            return self._failed(req, "transaction_failed", message)
        tx = str(outcome.result["tx_hash"])
        await self._log("x402_settle", req, ok=True, transaction=tx)
        return SettleResponse(
            success=True, payer=checked.payer, transaction=tx, network=self.network, amount=str(checked.value)
        )

    def _failed(self, req: FacilitatorRequest, reason: str, message: str) -> SettleResponse:
        return SettleResponse(
            success=False,
            error_reason=reason,
            error_message=message[:1000],
            payer=_payer(req),
            transaction="",
            network=req.payment_requirements.network[:64],
        )

    async def _log(self, kind: str, req: FacilitatorRequest, **data: Any) -> None:
        reqs = req.payment_requirements
        entry = {
            "payer": _payer(req),
            "pay_to": reqs.pay_to,
            "asset": reqs.asset,
            "amount": reqs.amount,
            **data,
        }
        resource = req.payment_payload.resource
        if resource is not None:
            entry["resource"] = resource.url
        # Not a barrier: the settlement's decision and transaction are the executor's own entries, which
        # are; these add the payment's view and reach the disk within the ledger's flush interval.
        await self.ledger.append_async(kind, entry, barrier=False)


def _payer(req: FacilitatorRequest) -> str | None:
    auth = req.payment_payload.payload.get("authorization")
    found = auth.get("from") if isinstance(auth, dict) else None
    return found[:64] if isinstance(found, str) else None
