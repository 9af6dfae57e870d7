"""A Sova agent as an ERC-8004 validator of delivered results: it re-runs a deterministic service on
the input a deal delivered for, and scores the delivered output — 100 when its own output is the same
canonical JSON, 0 when it differs or the service fails on that input — with `answer_validation`
through its executor (policy, ledger, narrow signer like any transaction).

The work is named by a request document `{"service", "input", "output"}` whose keccak256 over its
canonical JSON (RFC 8785) is the `requestHash` the agent passed to `validationRequest`
(`request_document`); the validator refuses a document that does not hash to the request it answers,
so it never scores other data than what was asked. The validator needs the service itself: the
seller's plugin, loaded by name like any agent's (`load_extensions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_hash.auto import keccak

from runtime.services.errors import ServiceError
from runtime.services.run import run_service

if TYPE_CHECKING:
    from runtime.executor.action_log import Outcome
    from runtime.executor.executor import Executor
    from runtime.services.service import ServiceContext, Services

__all__ = ["ValidationRefused", "Verdict", "check_delivery", "request_document", "validate_delivery"]

TAG = "rerun"
"""The validation's tag: a deterministic re-run of the service."""


class ValidationRefused(ServiceError):
    """The request cannot be validated here (unknown service, a document not matching the hash)."""


def request_document(service: str, input: Any, output: Any) -> tuple[dict[str, Any], str]:
    """The document describing one delivery and its request hash (0x + 64 hex)."""
    from identity.jcs import canonicalize

    document = {"service": service, "input": input, "output": output}
    return document, "0x" + keccak(canonicalize(document)).hex()


@dataclass(frozen=True)
class Verdict:
    """A validator's score of one delivery and why; `evidence_hash` is keccak256 of its own output."""

    score: int
    reason: str
    evidence_hash: str


async def check_delivery(
    services: Services, context: ServiceContext, document: Any, request_hash: str
) -> Verdict:
    """Re-run the document's service on its input and compare; ValidationRefused for a request this
    validator cannot judge."""
    from identity.jcs import canonicalize

    if not isinstance(document, dict) or set(document) != {"service", "input", "output"}:
        raise ValidationRefused('a validation document is {"service", "input", "output"}; this one is not')
    try:
        _, expected = request_document(document["service"], document["input"], document["output"])
    except (TypeError, ValueError) as exc:
        raise ValidationRefused(f"the validation document is not plain JSON: {exc}") from None
    if expected.lower() != request_hash.lower():
        raise ValidationRefused(
            f"the document hashes to {expected}, not to request {request_hash}: "
            "it is not the work asked about"
        )
    service = services.get(str(document["service"]))
    if service is None:
        known = ", ".join(services.names()) or "none"
        raise ValidationRefused(f"this validator does not run {document['service']!r} (it runs: {known})")
    zero = "0x" + "00" * 32
    try:
        _, raw = await run_service(service, service.read_input(document["input"]), context)
    except ServiceError as exc:
        return Verdict(0, f"the service fails on the delivered input: {exc}", zero)
    evidence = "0x" + keccak(raw).hex()
    if raw == canonicalize(document["output"]):
        return Verdict(100, f"{service.name} gives the same output again", evidence)
    return Verdict(0, f"{service.name} gives another output for this input", evidence)


async def validate_delivery(
    executor: Executor, services: Services, context: ServiceContext, document: Any, request_hash: str,
    origin: str = "validator",
) -> tuple[Verdict, Outcome]:  # fmt: skip
    """Check the delivery and answer the request on-chain (`answer_validation`, tag "rerun")."""
    verdict = await check_delivery(services, context, document, request_hash)
    args = {
        "request_hash": request_hash, "response": verdict.score, "response_hash": verdict.evidence_hash,
        "tag": TAG,
    }  # fmt: skip
    return verdict, await executor.execute("answer_validation", args, origin)
