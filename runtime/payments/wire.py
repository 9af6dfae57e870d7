"""x402 v2 on the wire: the models of `PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE`, `PAYMENT-RESPONSE` and
the facilitator's requests and answers, and the base64-JSON header codec.

Field names are the protocol's (camelCase). Every header is decoded under a size cap, as strict base64
and a JSON object, and every refusal is one line naming the header, what is wrong and what to send
(`BadPaymentHeader`). Models ignore fields they do not know (the protocol grows by extensions), except
the `exact` EVM payload, which is checked field by field.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.payments.errors import BadPaymentHeader

__all__ = [
    "MAX_HEADER",
    "PAYMENT_REQUIRED",
    "PAYMENT_RESPONSE",
    "PAYMENT_SIGNATURE",
    "Authorization",
    "BadPaymentHeader",
    "ExactPayload",
    "FacilitatorRequest",
    "PaymentPayload",
    "PaymentRequired",
    "Requirements",
    "ResourceInfo",
    "SettleResponse",
    "VerifyResponse",
    "decode_header",
    "encode_header",
]

PAYMENT_REQUIRED = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE = "PAYMENT-RESPONSE"
MAX_HEADER = 16 * 1024
"""The longest x402 header accepted (base64 characters); a real one is well under 4 KiB."""

M = TypeVar("M", bound=BaseModel)
_HEX32 = r"^0x[0-9a-fA-F]{64}$"
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_UINT = r"^[0-9]{1,78}$"
_STANDARD = frozenset({"scheme", "network", "asset", "amount", "payTo", "maxTimeoutSeconds", "extra"})


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ResourceInfo(_Wire):
    """What is paid for: its URL (and, optionally, a description and MIME type)."""

    url: str = Field(min_length=1, max_length=2048)
    description: str | None = Field(None, max_length=1024)
    mime_type: str | None = Field(None, alias="mimeType", max_length=128)


class Requirements(_Wire):
    """One `accepts` entry (PaymentRequirements): how the server will take payment. Fields this model
    does not know are kept (`wire()` gives them back), so a payment echoes the entry as offered."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    scheme: str = Field(min_length=1, max_length=32)
    network: str = Field(min_length=1, max_length=64)
    asset: str = Field(min_length=1, max_length=128)
    amount: str = Field(pattern=_UINT)
    pay_to: str = Field(alias="payTo", min_length=1, max_length=128)
    max_timeout_seconds: int = Field(alias="maxTimeoutSeconds", ge=1, le=86_400)
    extra: dict[str, Any] = Field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """The entry as the protocol writes it (with any fields this model does not know)."""
        return self.model_dump(mode="json", by_alias=True)

    def standard(self) -> dict[str, Any]:
        """The entry's x402 v2 fields only (what the `pay_x402` skill takes)."""
        return {k: v for k, v in self.wire().items() if k in _STANDARD}


class PaymentRequired(_Wire):
    """The `402` answer: what the resource costs, as one or more `accepts` entries."""

    x402_version: int = Field(alias="x402Version")
    error: str | None = Field(None, max_length=1024)
    resource: ResourceInfo | None = None
    accepts: tuple[Requirements, ...] = Field(max_length=32)
    extensions: dict[str, Any] | None = None


class Authorization(_Wire):
    """The EIP-3009 authorization of an `exact` EVM payment (uint256 values as decimal strings)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", pattern=_ADDRESS)
    to: str = Field(pattern=_ADDRESS)
    value: str = Field(pattern=_UINT)
    valid_after: str = Field(alias="validAfter", pattern=_UINT)
    valid_before: str = Field(alias="validBefore", pattern=_UINT)
    nonce: str = Field(pattern=_HEX32)


class ExactPayload(_Wire):
    """The scheme `exact` payload on EVM: the authorization and its 65-byte signature."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")
    authorization: Authorization


class PaymentPayload(_Wire):
    """The `PAYMENT-SIGNATURE` header: the entry accepted and the scheme's payload."""

    x402_version: int = Field(alias="x402Version")
    resource: ResourceInfo | None = None
    accepted: Requirements
    payload: dict[str, Any]
    extensions: dict[str, Any] | None = None


class FacilitatorRequest(_Wire):
    """The body of a facilitator's `/verify` and `/settle`."""

    x402_version: int = Field(alias="x402Version")
    payment_payload: PaymentPayload = Field(alias="paymentPayload")
    payment_requirements: Requirements = Field(alias="paymentRequirements")


class VerifyResponse(_Wire):
    """A facilitator's `/verify` answer."""

    is_valid: bool = Field(alias="isValid")
    invalid_reason: str | None = Field(None, alias="invalidReason", max_length=256)
    invalid_message: str | None = Field(None, alias="invalidMessage", max_length=1024)
    payer: str | None = Field(None, max_length=128)


class SettleResponse(_Wire):
    """A facilitator's `/settle` answer, and the `PAYMENT-RESPONSE` header."""

    success: bool
    error_reason: str | None = Field(None, alias="errorReason", max_length=256)
    error_message: str | None = Field(None, alias="errorMessage", max_length=1024)
    payer: str | None = Field(None, max_length=128)
    transaction: str = Field(max_length=128)
    network: str = Field(max_length=64)
    amount: str | None = Field(None, max_length=80)


def encode_header(model: BaseModel) -> str:
    """A model as an x402 header value: base64 of its JSON (protocol field names, no nulls)."""
    text = model.model_dump_json(by_alias=True, exclude_none=True)
    return base64.b64encode(text.encode()).decode("ascii")


def decode_header(name: str, value: str, model: type[M]) -> M:
    """Header `name` decoded into `model`; BadPaymentHeader with one line otherwise."""
    if len(value) > MAX_HEADER:
        raise BadPaymentHeader(f"{name} header is {len(value)} characters; at most {MAX_HEADER} are read")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise BadPaymentHeader(
            f"{name} header is not base64 of JSON ({type(exc).__name__}): send base64(JSON) of the object"
        ) from None
    return parse_object(name, data, model)


def parse_object(name: str, data: Any, model: type[M]) -> M:
    """`data` (already JSON) validated as `model`; BadPaymentHeader naming the first problem."""
    if not isinstance(data, dict):
        raise BadPaymentHeader(f"{name} is a JSON {type(data).__name__}, not an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise BadPaymentHeader(
            f"{name}: {where}: {err['msg']} ({len(exc.errors())} problem(s)); see the x402 v2 spec"
        ) from None
