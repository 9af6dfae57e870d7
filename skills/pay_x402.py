"""`pay_x402`: pay for one HTTP request under x402's scheme `exact` on EVM — sign one EIP-3009
`TransferWithAuthorization` of the asset to the payee, and nothing else.

The arguments are the resource URL and the `accepts` entry the server offered in its `402` (the x402
v2 wire form: scheme, network, asset, amount in base units, payTo, maxTimeoutSeconds, extra with the
token's EIP-712 name and version). `plan` turns them into an Intent the policy judges (payee, token,
amount in token units, chain, resource URL) and the one typed-data effect: the authorization with a
fresh random nonce, valid from a minute ago until at most `MAX_VALIDITY` seconds ahead. `run` signs it
and returns the x402 `exact` payload (`{"signature", "authorization"}`); sending it is the runtime's
job (runtime/payments). The skill never moves money itself: a facilitator submits the authorization.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from policies.units import format_units
from skills.base import Address, BudgetUse, Planned, Skill, SkillArgs
from skills.effects import TypedDataEffect
from skills.errors import PlanError

if TYPE_CHECKING:
    from skills.context import SkillContext
    from skills.signing import NarrowSigner
    from wallet.eip3009 import TransferAuthorization

__all__ = ["MAX_VALIDITY", "PayX402", "PayX402Args", "X402Accepts", "X402Extra"]

MAX_VALIDITY = 600
"""The longest an authorization this agent signs stays valid (seconds), whatever the server asks."""
SKEW = 60
"""`validAfter` is this far in the past, so a facilitator whose clock is a little behind accepts it."""

_Name = Field(min_length=1, max_length=64)


class X402Extra(SkillArgs):
    """The token's EIP-712 domain as the server names it (`extra` of the accepts entry)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    name: str = _Name
    version: str = _Name


class X402Accepts(SkillArgs):
    """One `accepts` entry of an x402 v2 `PAYMENT-REQUIRED` (field names as on the wire)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    scheme: Literal["exact"] = Field(description="the only scheme Sova pays with: exact")
    network: str = Field(pattern=r"^eip155:[0-9]{1,12}$", description="CAIP-2 network, eip155:<chainId>")
    asset: Address = Field(description="the token contract (EIP-3009)")
    amount: str = Field(
        pattern=r"^[1-9][0-9]{0,77}$", description="base units of the asset, an integer string"
    )
    pay_to: Address = Field(alias="payTo", description="who is paid")
    max_timeout_seconds: int = Field(alias="maxTimeoutSeconds", ge=1, le=86_400)
    extra: X402Extra


class PayX402Args(SkillArgs):
    """The URL paid for and the accepts entry chosen."""

    resource: str = Field(
        min_length=8, max_length=2048, pattern=r"^https?://", description="the URL the payment is for"
    )
    accepted: X402Accepts


def _authorization(ctx: SkillContext, accepted: X402Accepts, value: int) -> TransferAuthorization:
    from wallet.eip3009 import TransferAuthorization, new_nonce

    now = int(time.time())
    validity = min(accepted.max_timeout_seconds, MAX_VALIDITY)
    return TransferAuthorization(
        ctx.agent_address, accepted.pay_to, value, max(0, now - SKEW), now + validity, new_nonce()
    )


class PayX402(Skill[PayX402Args]):
    """Pay for one HTTP request (x402 `exact` on EVM): sign an EIP-3009 authorization of `amount`
    base units of `asset` to `payTo`, valid for a few minutes. Give the URL and the accepts entry
    from the server's 402 exactly as offered."""

    name = "pay_x402"
    args_model = PayX402Args

    def plan(self, ctx: SkillContext, args: PayX402Args) -> Planned[PayX402Args]:
        from wallet.eip3009 import authorization_typed_data
        from wallet.typed_data import typed_data_digest

        accepted = args.accepted
        chain_id = int(accepted.network.split(":", 1)[1])
        if chain_id != ctx.chain_id:
            raise PlanError(
                f"the server asks for payment on {accepted.network}; "
                f"this agent pays on eip155:{ctx.chain_id} only"
            )
        token = ctx.token(accepted.asset)
        value = int(accepted.amount)
        if value >= 2**256:
            raise PlanError(f"amount {accepted.amount[:20]}… does not fit a uint256")
        if accepted.pay_to.lower() == ctx.agent_address.lower():
            raise PlanError("the payee is this agent itself: nothing to pay")
        auth = _authorization(ctx, accepted, value)
        message = authorization_typed_data(
            auth, chain_id, token.address, accepted.extra.name, accepted.extra.version
        )
        effect = TypedDataEffect(typed_data_digest(message), "TransferWithAuthorization", message)
        intent = ctx.intent(
            self.name,
            counterparty=ctx.counterparty(accepted.pay_to),
            token=token.address,
            amount=format_units(value, token.decimals),
            typed_data_primary_type="TransferWithAuthorization",
            resource=args.resource,
        )
        return Planned(intent, args, (effect,), budget=BudgetUse("spend"))

    async def run(
        self, ctx: SkillContext, planned: Planned[PayX402Args], signer: NarrowSigner
    ) -> dict[str, Any]:
        effect = planned.effect(TypedDataEffect)
        signature = signer.sign_typed_data(dict(effect.full_message))
        message = effect.full_message["message"]
        return {
            "digest": "0x" + effect.digest.hex(),
            "payload": {
                "signature": "0x" + signature.hex(),
                "authorization": {
                    "from": message["from"],
                    "to": message["to"],
                    "value": str(message["value"]),
                    "validAfter": str(message["validAfter"]),
                    "validBefore": str(message["validBefore"]),
                    "nonce": "0x" + bytes(message["nonce"]).hex(),
                },
            },
        }
