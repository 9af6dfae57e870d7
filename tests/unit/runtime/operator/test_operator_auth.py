"""Operator decisions signed with EIP-712: what the signature binds, and which keys count."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from runtime.config import AgentsFile
from runtime.operator.auth import (
    DecisionError,
    decision_typed_data,
    operator_keys,
    operator_name,
    recover_decision,
    sign_decision,
)
from wallet import Keystore
from wallet.signer import Signer

AGENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_AGENT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
OPERATOR = Signer.from_private_key(Account.create().key)


def signed(reason: str = "fine") -> str:
    return sign_decision(OPERATOR, AGENT, "a1", "approve", reason, 31337)


def test_a_signed_decision_recovers_to_the_operator() -> None:
    assert recover_decision(signed(), AGENT, "a1", "approve", "fine", 31337) == OPERATOR.address
    assert recover_decision(signed(), AGENT.lower(), "a1", "approve", "fine", 31337) == OPERATOR.address


@pytest.mark.parametrize(
    "changed",
    [
        {"agent_address": OTHER_AGENT},
        {"approval_id": "a2"},
        {"decision": "reject"},
        {"reason": "fine!"},
        {"chain_id": 1},
    ],
)
def test_the_signature_binds_agent_approval_decision_reason_and_chain(changed: dict[str, object]) -> None:
    args: dict[str, object] = {
        "agent_address": AGENT,
        "approval_id": "a1",
        "decision": "approve",
        "reason": "fine",
        "chain_id": 31337,
    }
    args.update(changed)
    recovered = recover_decision(signed(), **args)  # type: ignore[arg-type]
    assert recovered != OPERATOR.address


@pytest.mark.parametrize("signature", [None, "", "0x", "0x12", "ab" * 65, "0x" + "zz" * 65, 42])
def test_a_missing_or_malformed_signature_is_one_clear_line(signature: object) -> None:
    with pytest.raises(DecisionError, match="0x and 130 hex digits") as caught:
        recover_decision(signature, AGENT, "a1", "approve", "", 31337)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_a_signature_that_recovers_no_key_is_refused() -> None:
    with pytest.raises(DecisionError, match="does not recover"):
        recover_decision("0x" + "00" * 65, AGENT, "a1", "approve", "", 31337)


def test_bad_decisions_and_agents_are_refused() -> None:
    with pytest.raises(DecisionError, match="'approve' or 'reject'"):
        decision_typed_data(AGENT, "a1", "maybe", "", 1)  # type: ignore[arg-type]
    with pytest.raises(DecisionError, match="not an agent wallet address"):
        decision_typed_data("0x1234", "a1", "approve", "", 1)
    with pytest.raises(DecisionError, match="keep it under"):
        decision_typed_data(AGENT, "a1", "approve", "x" * 501, 1)


def test_operator_keys_are_read_from_keystores_without_unlocking(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "keys", scrypt_n=2)
    op = store.create("operator", "pw")
    alice = store.create("alice", "pw")
    config = AgentsFile.model_validate(
        {"keys": {"approvers": ["alice", "bob"]}, "agents": [{"name": "a", "policy": "p.yaml"}]}
    )
    found, missing = operator_keys(config, tmp_path / "keys")
    assert found == {op.address: "operator", alice.address: "alice"}
    assert missing == ["bob"]
    assert operator_name(found, alice.address.lower()) == "alice"
    assert operator_name(found, OTHER_AGENT) is None
    assert operator_name(found, "not an address") is None
