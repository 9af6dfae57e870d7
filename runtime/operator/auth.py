"""Operator decisions on approvals, signed with EIP-712 by an operator wallet key.

An approval is decided by an operator key, not by whoever holds the bearer token: the console (or
any operator tool) signs `Decision(agent, approvalId, decision, reason)` under the domain
`SovaOperator` v1 on the agent's chain, and the agent recovers the signer and counts it only when it
is one of the fleet's operator keys (`keys.operator` and `keys.approvers` of agents.yaml, read as
addresses from their keystore files, never unlocked by the agent). The signed fields bind the
decision to one agent, one approval id (not its small number, which a restart reuses), approve or
reject, and the exact reason shown in the ledger: a signature cannot be replayed on another approval,
another agent or another chain, nor its reason changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eth_utils.address import is_address, to_checksum_address

from runtime.errors import SovaError

if TYPE_CHECKING:
    from runtime.config import AgentsFile
    from wallet.signer import SignerLike

Verdict = Literal["approve", "reject"]
DOMAIN_NAME = "SovaOperator"
DOMAIN_VERSION = "1"
MAX_REASON = 500
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")

DECISION_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "Decision": [
        {"name": "agent", "type": "address"},
        {"name": "approvalId", "type": "string"},
        {"name": "decision", "type": "string"},
        {"name": "reason", "type": "string"},
    ],
}


class DecisionError(SovaError):
    """A decision signature is missing, malformed, or does not recover."""


def decision_typed_data(
    agent_address: str, approval_id: str, decision: Verdict, reason: str, chain_id: int
) -> dict[str, Any]:
    """The full EIP-712 message an operator signs to approve or reject approval `approval_id`."""
    if decision not in ("approve", "reject"):
        raise DecisionError(f"a decision is 'approve' or 'reject', not {decision!r}")
    if not is_address(agent_address):
        raise DecisionError(f"{agent_address!r} is not an agent wallet address (0x and 40 hex digits)")
    if len(reason) > MAX_REASON:
        raise DecisionError(f"the reason is {len(reason)} characters long: keep it under {MAX_REASON}")
    return {
        "types": DECISION_TYPES,
        "primaryType": "Decision",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id)},
        "message": {
            "agent": to_checksum_address(agent_address),
            "approvalId": str(approval_id),
            "decision": decision,
            "reason": reason,
        },
    }


def sign_decision(
    signer: SignerLike, agent_address: str, approval_id: str, decision: Verdict, reason: str, chain_id: int
) -> str:
    """The operator's signature (0x + 130 hex) of the decision."""
    message = decision_typed_data(agent_address, approval_id, decision, reason, chain_id)
    return "0x" + bytes(signer.sign_typed_data(message)).hex()


def recover_decision(
    signature: str, agent_address: str, approval_id: str, decision: Verdict, reason: str, chain_id: int
) -> str:
    """The checksum address that signed the decision. DecisionError when the signature is malformed."""
    from wallet.typed_data import recover_typed_data_signer

    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise DecisionError(
            "the decision needs `signature`: the operator key's EIP-712 signature of "
            "Decision(agent, approvalId, decision, reason), 0x and 130 hex digits"
        )
    message = decision_typed_data(agent_address, approval_id, decision, reason, chain_id)
    try:
        return recover_typed_data_signer(message, bytes.fromhex(signature[2:]))
    except Exception as exc:  # eth-keys: bad v or an s out of range
        raise DecisionError(f"the decision signature does not recover to any key ({exc})") from None


def operator_keys(config: AgentsFile, keys_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The fleet's operator keys as {checksum address: key name} (`keys.operator`, then each of
    `keys.approvers`), read from their keystore files without unlocking; and the names with no file."""
    from wallet import Keystore
    from wallet.errors import KeystoreError

    store = Keystore(keys_dir)
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in (config.keys.operator, *config.keys.approvers):
        try:
            found.setdefault(to_checksum_address(store.info(name).address), name)
        except KeystoreError:
            missing.append(name)
    return found, missing


def operator_name(operators: Mapping[str, str], address: str) -> str | None:
    """The key name of `address` among `operators`, or None when it is not an operator key."""
    try:
        return operators.get(to_checksum_address(address))
    except ValueError:
        return None
