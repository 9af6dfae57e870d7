"""The checks of scheme `exact` on EVM that need no chain: does this payment pay exactly what these
requirements ask, to whom they ask, in the asset and network they name, signed by its payer, now?

`check_exact` returns the parsed authorization, or a `Refusal` whose `reason` is the protocol's error
code (the official SDK's, so both sides of an interop test speak alike) and whose `message` is one
line. The facilitator adds the chain's view (nonce unused, balance, simulation) on top.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import ValidationError

from runtime.payments.wire import ExactPayload, PaymentPayload, Requirements

__all__ = ["CLOCK_MARGIN", "Checked", "Refusal", "check_exact", "network_of"]

CLOCK_MARGIN = 6
"""Seconds an authorization must still be valid for when it is verified (the settlement takes a block)."""


@dataclass(frozen=True)
class Refusal:
    """Why a payment is refused: the protocol's reason code and one line for people."""

    reason: str
    message: str


@dataclass(frozen=True)
class Checked:
    """A payment that passed the checks without the chain: its parts, parsed."""

    payer: str
    payee: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes
    signature: bytes
    name: str
    version: str


def network_of(chain_id: int) -> str:
    """The CAIP-2 network of an EVM chain: eip155:<chainId>."""
    return f"eip155:{chain_id}"


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def check_exact(
    payment: PaymentPayload, req: Requirements, chain_id: int, *, now: float | None = None
) -> Checked | Refusal:
    """The chain-free checks of `payment` against `req` on `chain_id` (see the module docstring)."""
    from wallet.eip3009 import TransferAuthorization, authorization_typed_data
    from wallet.typed_data import recover_typed_data_signer

    accepted = payment.accepted
    if payment.x402_version != 2 or req.scheme != "exact" or accepted.scheme != "exact":
        return Refusal("unsupported_scheme", "only x402 version 2, scheme exact is settled here")
    if req.network != network_of(chain_id) or accepted.network != req.network:
        return Refusal(
            "network_mismatch", f"the payment is for {accepted.network}; this is {network_of(chain_id)}"
        )
    if not _same(accepted.asset, req.asset) or not _same(accepted.pay_to, req.pay_to):
        return Refusal(
            "invalid_payload", "the accepted entry names another asset or payee than the requirements"
        )
    name, version = req.extra.get("name"), req.extra.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return Refusal("missing_eip712_domain", "the requirements' extra lacks the token's name and version")
    try:
        exact = ExactPayload.model_validate(payment.payload)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        return Refusal("invalid_payload", f"payload.{where}: {err['msg']}")
    auth = exact.authorization
    if not _same(auth.to, req.pay_to):
        return Refusal("invalid_exact_evm_payload_recipient_mismatch", f"the authorization pays {auth.to}")
    if int(auth.value) != int(req.amount):
        return Refusal(
            "invalid_exact_evm_payload_authorization_value_mismatch",
            f"the authorization is for {auth.value} base units; {req.amount} are asked",
        )
    clock = int(time.time() if now is None else now)
    if int(auth.valid_before) < clock + CLOCK_MARGIN:
        return Refusal(
            "invalid_exact_evm_payload_authorization_valid_before", "the authorization has expired"
        )
    if int(auth.valid_after) > clock:
        return Refusal(
            "invalid_exact_evm_payload_authorization_valid_after", "the authorization is not valid yet"
        )
    try:
        parsed = TransferAuthorization(
            auth.from_, auth.to, int(auth.value), int(auth.valid_after), int(auth.valid_before),
            bytes.fromhex(auth.nonce[2:]),
        )  # fmt: skip
        signature = bytes.fromhex(exact.signature[2:])
        message = authorization_typed_data(parsed, chain_id, req.asset, name, version)
        signer = recover_typed_data_signer(message, signature)
    except Exception as exc:
        return Refusal("invalid_exact_evm_payload_signature", f"the signature cannot be checked ({exc})")
    if not _same(signer, auth.from_):
        return Refusal("invalid_exact_evm_payload_signature", f"the signature is not {auth.from_}'s")
    return Checked(
        auth.from_, auth.to, parsed.value, parsed.valid_after, parsed.valid_before, parsed.nonce,
        signature, name, version,
    )  # fmt: skip
