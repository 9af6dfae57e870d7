"""Each skill's plan: the Intent a policy judges and the exact effects a narrow signer may sign."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from identity import CredentialStore, IdentityKey, issue_credential, verify_binding
from policies import TokenRegistry
from runtime.executor.narrow_signer import binding_prover
from skills import (
    IdentityEffect,
    InvalidSkillArgs,
    PlanError,
    SkillContext,
    TxEffect,
    TypedDataEffect,
    default_catalog,
    payload_hash,
)
from tests.support.executor import (
    CHAIN_ID,
    OFFLINE_CONTRACTS,
    SELLER_ADDRESS,
    SELLER_KEY,
    STRANGER_ADDRESS,
    TUSD,
    TUSD_ADDRESS,
    Peers,
    seller_party,
)
from wallet.typed_data import Deal, binding_digest, deal_digest

BUYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEY = IdentityKey.generate()
ESCROW = OFFLINE_CONTRACTS["DealEscrow"]
TERMS = "0x" + keccak(b"one unit of compute").hex()
CATALOG = default_catalog()


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[SkillContext]:
    from tests.support.executor import offline_contracts

    store = CredentialStore(tmp_path / "creds.sqlite")
    yield SkillContext(
        agent_did=KEY.did,
        agent_address=BUYER,
        chain_id=CHAIN_ID,
        tokens=TokenRegistry([TUSD]),
        contracts=offline_contracts(),
        peers=Peers(seller_party()),
        credentials=store,
        binding_proof=binding_prover(KEY, CHAIN_ID, BUYER),
        anchor_range=lambda: (bytes.fromhex("ab" * 32), 1, 9),
    )
    store.close()


def plan(ctx: SkillContext, skill: str, args: dict[str, Any]) -> Any:
    s = CATALOG[skill]
    return s.plan(ctx, s.parse(args))


def deal_args(buyer: str = BUYER, seller: str = SELLER_ADDRESS, amount: str = "12.5") -> dict[str, Any]:
    return {
        "buyer": buyer,
        "seller": seller,
        "token": "TUSD",
        "amount": amount,
        "terms_hash": TERMS,
        "deadline": 2_000_000_000,
        "nonce": 7,
    }


def the_deal(buyer: str = BUYER, seller: str = SELLER_ADDRESS) -> Deal:
    return Deal(buyer, seller, TUSD_ADDRESS, 12_500_000, bytes.fromhex(TERMS[2:]), 2_000_000_000, 7)


def test_transfer_plans_a_token_spend_to_the_resolved_counterparty(ctx: SkillContext) -> None:
    planned = plan(ctx, "transfer_token", {"to": "seller", "token": "TUSD", "amount": "12.5"})
    intent = planned.intent
    assert (intent.skill, intent.agent, intent.chain_id) == ("transfer_token", KEY.did, CHAIN_ID)
    assert intent.counterparty == seller_party()
    assert (intent.token, intent.amount) == (TUSD_ADDRESS, Decimal("12.5"))
    assert (intent.contract, intent.method, intent.selector) == ("TestUSD", "transfer", "0xa9059cbb")
    (effect,) = planned.effects
    assert isinstance(effect, TxEffect)
    assert (effect.to, effect.value, effect.chain_id) == (TUSD_ADDRESS, 0, CHAIN_ID)
    to, amount = abi_decode(["address", "uint256"], effect.data[4:])
    assert (to.lower(), amount) == (SELLER_ADDRESS.lower(), 12_500_000)


def test_transfer_to_a_bare_address_has_no_credentials(ctx: SkillContext) -> None:
    stranger = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    intent = plan(ctx, "transfer_token", {"to": stranger, "token": TUSD_ADDRESS, "amount": "1"}).intent
    assert intent.counterparty is not None
    assert (intent.counterparty.address, intent.counterparty.did, intent.counterparty.credentials) == (
        stranger,
        None,
        (),
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"to": "nobody", "token": "TUSD", "amount": "1"}, "unknown agent 'nobody'"),
        ({"to": "seller", "token": "DAI", "amount": "1"}, "unknown token 'DAI'"),
        ({"to": "seller", "token": "TUSD", "amount": "0.0000001"}, "more than the token's 6 decimals"),
        ({"to": "seller", "token": "TUSD", "amount": "0"}, "moves nothing"),
        ({"to": "did:key:z6MkwhoKnowsWhere", "token": "TUSD", "amount": "1"}, "no wallet address"),
    ],
)
def test_transfer_that_cannot_be_planned_says_why(
    ctx: SkillContext, args: dict[str, Any], problem: str
) -> None:
    with pytest.raises(PlanError, match=problem):
        plan(ctx, "transfer_token", args)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"to": "seller", "token": "TUSD", "amount": 1.5}, "not floats"),
        ({"to": "seller", "token": "TUSD", "amount": "1", "approved": True}, "approved: unknown argument"),
        ({"to": "seller", "token": "TUSD"}, "amount: required"),
        ({"to": "seller", "token": "TUSD", "amount": "-3"}, "negative"),
    ],
)
def test_bad_arguments_are_refused_by_the_schema(args: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidSkillArgs, match=problem):
        CATALOG["transfer_token"].parse(args)


def test_approve_defaults_to_the_escrow_and_names_no_counterparty(ctx: SkillContext) -> None:
    planned = plan(ctx, "approve_token", {"token": "TUSD", "amount": "25"})
    intent = planned.intent
    assert intent.counterparty is None
    assert (intent.token, intent.amount, intent.contract, intent.method) == (
        TUSD_ADDRESS,
        25,
        "TestUSD",
        "approve",
    )
    spender, amount = abi_decode(["address", "uint256"], planned.effects[0].data[4:])
    assert (spender.lower(), amount) == (ESCROW.lower(), 25_000_000)


def test_buyer_signing_a_deal_commits_the_amount_and_signs_its_eip712_digest(ctx: SkillContext) -> None:
    planned = plan(ctx, "sign_deal", deal_args())
    intent = planned.intent
    assert intent.counterparty == seller_party()
    assert (intent.token, intent.amount, intent.typed_data_primary_type) == (
        TUSD_ADDRESS,
        Decimal("12.5"),
        "Deal",
    )
    assert intent.contract is None
    (effect,) = planned.effects
    assert isinstance(effect, TypedDataEffect)
    assert effect.digest == deal_digest(the_deal(), CHAIN_ID, ESCROW)


def test_seller_signing_a_deal_spends_nothing(ctx: SkillContext) -> None:
    intent = plan(ctx, "sign_deal", deal_args(buyer=SELLER_ADDRESS, seller=BUYER)).intent
    assert (intent.token, intent.amount) == (None, None)
    assert intent.counterparty is not None
    assert intent.counterparty.did == SELLER_KEY.did  # the other party, found by its address


def test_a_deal_between_others_is_not_signed(ctx: SkillContext) -> None:
    with pytest.raises(PlanError, match="neither the buyer nor the seller"):
        plan(ctx, "sign_deal", deal_args(buyer=SELLER_ADDRESS, seller=TUSD_ADDRESS))


def test_open_escrow_is_the_buyers_spend_through_dealescrow_open(ctx: SkillContext) -> None:
    sig = "0x" + "11" * 65
    planned = plan(ctx, "open_escrow", {"deal": deal_args(), "buyer_signature": sig, "seller_signature": sig})
    intent = planned.intent
    assert (intent.contract, intent.method) == ("DealEscrow", "open")
    assert (intent.token, intent.amount) == (TUSD_ADDRESS, Decimal("12.5"))
    assert intent.counterparty == seller_party()
    effect = planned.effects[0]
    assert effect.to == ESCROW
    assert effect.data[:4].hex() == intent.selector[2:]


@pytest.mark.parametrize("skill", ["release_escrow", "refund_escrow"])
def test_release_and_refund_move_nothing_out_of_the_wallet(ctx: SkillContext, skill: str) -> None:
    intent = plan(ctx, skill, {"deal": deal_args()}).intent
    assert (intent.contract, intent.method) == ("DealEscrow", skill.split("_")[0])
    assert (intent.token, intent.amount) == (None, None)
    assert intent.counterparty == seller_party()


DEAL_TUPLE = "(address,address,address,uint256,bytes32,uint64,uint256)"


def test_refund_as_the_seller_cancels_at_once_and_spends_nothing(ctx: SkillContext) -> None:
    terms = deal_args(buyer=SELLER_ADDRESS, seller=BUYER)  # this agent (BUYER) sells to SELLER_ADDRESS
    planned = plan(ctx, "refund_escrow", {"deal": terms})
    intent = planned.intent
    assert (intent.contract, intent.method) == ("DealEscrow", "cancel")
    assert intent.selector == "0x" + keccak(text=f"cancel({DEAL_TUPLE})")[:4].hex()
    assert (intent.token, intent.amount, planned.budget) == (None, None, None)
    assert intent.counterparty == seller_party()  # the deal's buyer, who gets the money back
    (effect,) = planned.effects
    assert (effect.to, effect.value, effect.data[:4].hex()) == (ESCROW, 0, intent.selector[2:])
    (decoded,) = abi_decode([DEAL_TUPLE], effect.data[4:])
    assert (decoded[0].lower(), decoded[1].lower()) == (SELLER_ADDRESS.lower(), BUYER.lower())
    assert decoded[3] == 12_500_000


@pytest.mark.parametrize(
    ("buyer", "seller"),
    [(BUYER, SELLER_ADDRESS), (SELLER_ADDRESS, TUSD_ADDRESS)],
    ids=["as the buyer", "as a third party"],
)
def test_refund_as_anyone_but_the_seller_is_the_deadline_refund(
    ctx: SkillContext, buyer: str, seller: str
) -> None:
    intent = plan(ctx, "refund_escrow", {"deal": deal_args(buyer=buyer, seller=seller)}).intent
    assert (intent.contract, intent.method) == ("DealEscrow", "refund")
    assert intent.selector == "0x" + keccak(text=f"refund({DEAL_TUPLE})")[:4].hex()
    assert (intent.token, intent.amount) == (None, None)


def test_only_the_buyer_releases(ctx: SkillContext) -> None:
    with pytest.raises(PlanError, match="only the deal's buyer"):
        plan(ctx, "release_escrow", {"deal": deal_args(buyer=SELLER_ADDRESS, seller=BUYER)})


async def test_present_credential_approves_exactly_these_credentials_for_this_verifier(
    ctx: SkillContext,
) -> None:
    issuer = IdentityKey.generate()
    vc = await issue_credential(issuer, KEY.did, "VerifiedSupplier", {"service": "compute"})
    assert ctx.credentials is not None
    ctx.credentials.add(vc)  # type: ignore[attr-defined]
    args = {"types": ["VerifiedSupplier"], "challenge": "c-123", "domain": SELLER_KEY.did}
    planned = plan(ctx, "present_credential", args)
    assert planned.intent.counterparty == seller_party()
    (effect,) = planned.effects
    assert isinstance(effect, IdentityEffect)
    expected = {"credentials": [vc.text], "challenge": "c-123", "domain": SELLER_KEY.did}
    assert (effect.op, effect.payload_hash) == ("present", payload_hash("present", expected))
    with pytest.raises(PlanError, match="holds no Operator"):
        plan(ctx, "present_credential", {**args, "types": ["Operator"]})


def test_issue_credential_checks_type_and_claims_before_anything_is_signed(ctx: SkillContext) -> None:
    planned = plan(
        ctx, "issue_credential", {"subject": "seller", "type": "VerifiedSupplier", "claims": {"service": "x"}}
    )
    assert planned.intent.counterparty == seller_party()
    assert planned.effects[0].op == "issue_credential"
    assert planned.effects[0].params["subject"] == SELLER_KEY.did
    with pytest.raises(PlanError, match="unknown credential type"):
        plan(ctx, "issue_credential", {"subject": "seller", "type": "Nope"})
    with pytest.raises(PlanError, match="service"):
        plan(ctx, "issue_credential", {"subject": "seller", "type": "VerifiedSupplier"})


def test_send_message_approves_the_payload_for_one_recipient(ctx: SkillContext) -> None:
    args = {"to": "seller", "type": "cfp", "thid": "t-1", "body": {"service": "compute", "max": "12"}}
    planned = plan(ctx, "send_message", args)
    assert planned.intent.counterparty == seller_party()
    params = {"to": SELLER_KEY.did, "type": "cfp", "thid": "t-1", "body": args["body"]}
    assert planned.effects[0].payload_hash == payload_hash("send_message", params)
    with pytest.raises(InvalidSkillArgs, match="not plain JSON"):
        CATALOG["send_message"].parse({**args, "body": {"n": 2**60}})


def test_anchor_log_anchors_the_range_the_ledger_gives(ctx: SkillContext) -> None:
    planned = plan(ctx, "anchor_log", {})
    assert (planned.intent.contract, planned.intent.method) == ("ActionLogAnchor", "anchor")
    assert planned.intent.counterparty is None
    decoded = abi_decode(["bytes32", "uint64", "uint64"], planned.effects[0].data[4:])
    assert decoded == (bytes.fromhex("ab" * 32), 1, 9)


def test_a_caller_cannot_choose_the_anchored_root_or_range(ctx: SkillContext) -> None:
    with pytest.raises(InvalidSkillArgs, match="root: unknown argument"):
        CATALOG["anchor_log"].parse({"root": "0x" + "cd" * 32, "from_seq": 1, "to_seq": 2**63})


def test_anchor_log_with_nothing_new_is_refused_at_planning(ctx: SkillContext) -> None:
    from dataclasses import replace

    with pytest.raises(PlanError, match="nothing to anchor"):
        plan(replace(ctx, anchor_range=lambda: None), "anchor_log", {})


def test_register_agent_carries_a_binding_proof_that_verifies(ctx: SkillContext) -> None:
    planned = plan(ctx, "register_agent", {"endpoint": "http://127.0.0.1:9000", "tags": ["compute"]})
    assert (planned.intent.contract, planned.intent.method) == ("AgentRegistry", "register")
    data = planned.effects[0].data
    assert data[:4] == keccak(text="register(string,(string,bytes)[])")[:4]  # ERC-8004's register
    agent_uri, entries = abi_decode(["string", "(string,bytes)[]"], data[4:])
    assert agent_uri == "http://127.0.0.1:9000/.well-known/agent-registration.json"
    metadata = dict(entries)
    assert metadata["did"] == KEY.did.encode()
    assert metadata["endpoint"] == b"http://127.0.0.1:9000"
    assert metadata["serviceTags"] == b"compute"
    digest = binding_digest(OFFLINE_CONTRACTS["AgentRegistry"], CHAIN_ID, BUYER)
    verify_binding(KEY.did, digest, metadata["didProof"])


def test_register_agent_refuses_a_tag_with_a_comma(ctx: SkillContext) -> None:
    with pytest.raises(PlanError, match="without commas"):
        plan(ctx, "register_agent", {"endpoint": "http://127.0.0.1:9000", "tags": ["a,b"]})


def test_revoke_credential_calls_revoke_with_the_hashed_id(ctx: SkillContext) -> None:
    planned = plan(ctx, "revoke_credential", {"credential_id": "urn:uuid:1"})
    assert (planned.intent.contract, planned.intent.method) == ("AgentRegistry", "revokeCredential")
    data = planned.effects[0].data
    assert data[:4] == keccak(text="revokeCredential(bytes32)")[:4]
    assert data[4:] == keccak(text="urn:uuid:1")


def test_revoke_credential_needs_an_id(ctx: SkillContext) -> None:
    with pytest.raises(InvalidSkillArgs):
        plan(ctx, "revoke_credential", {"credential_id": ""})


def test_register_agent_with_update_replaces_the_endpoint_and_tags_of_the_record(ctx: SkillContext) -> None:
    args = {"endpoint": "http://127.0.0.1:9001", "tags": ["compute", "hash"], "update": True}
    planned = plan(ctx, "register_agent", args)
    assert (planned.intent.contract, planned.intent.method) == ("AgentRegistry", "update")
    endpoint, tags, proof = abi_decode(["string", "string[]", "bytes"], planned.effects[0].data[4:])
    assert (endpoint, list(tags)) == ("http://127.0.0.1:9001", ["compute", "hash"])
    verify_binding(KEY.did, binding_digest(OFFLINE_CONTRACTS["AgentRegistry"], CHAIN_ID, BUYER), proof)


def test_plans_are_pure_the_same_args_give_the_same_effects(ctx: SkillContext) -> None:
    one = plan(
        ctx,
        "open_escrow",
        {"deal": deal_args(), "buyer_signature": "0x" + "22" * 65, "seller_signature": "0x" + "33" * 65},
    )
    two = plan(
        ctx,
        "open_escrow",
        {"deal": deal_args(), "buyer_signature": "0x" + "22" * 65, "seller_signature": "0x" + "33" * 65},
    )
    assert one.effects == two.effects
    assert one.intent == two.intent


def test_give_feedback_records_the_deal_then_rates_the_seller_as_its_buyer(ctx: SkillContext) -> None:
    planned = plan(
        ctx, "give_feedback", {"deal": deal_args(), "agent_id": 3, "value": 90, "tag2": "translation"}
    )
    intent = planned.intent
    assert (intent.contract, intent.method, intent.amount) == ("ReputationRegistry", "giveFeedback", None)
    assert intent.counterparty is not None
    assert intent.counterparty.address == SELLER_ADDRESS
    record, rate = planned.effects
    assert (
        record.data[:4]
        == keccak(text="recordSettledDeal(uint256,(address,address,address,uint256,bytes32,uint64,uint256))")[
            :4
        ]
    )
    assert (
        rate.data[:4]
        == keccak(text="giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)")[:4]
    )
    agent_id, value, decimals, tag1, tag2, *_ = abi_decode(
        ["uint256", "int128", "uint8", "string", "string", "string", "string", "bytes32"], rate.data[4:]
    )
    assert (agent_id, value, decimals, tag1, tag2) == (3, 90, 0, "starred", "translation")


def test_only_the_deals_buyer_may_give_feedback(ctx: SkillContext) -> None:
    with pytest.raises(PlanError, match="only the deal's buyer"):
        plan(ctx, "give_feedback", {"deal": deal_args(buyer=STRANGER_ADDRESS), "agent_id": 3, "value": 90})


@pytest.mark.parametrize("value", [-1, 101])
def test_a_rating_outside_0_100_is_refused(ctx: SkillContext, value: int) -> None:
    with pytest.raises(InvalidSkillArgs, match="value"):
        plan(ctx, "give_feedback", {"deal": deal_args(), "agent_id": 3, "value": value})


def test_request_validation_asks_the_validator_in_the_validation_registry(ctx: SkillContext) -> None:
    request = "0x" + "ab" * 32
    args = {
        "validator": STRANGER_ADDRESS,
        "agent_id": 2,
        "request_uri": "ipfs://job",
        "request_hash": request,
    }
    planned = plan(ctx, "request_validation", args)
    intent = planned.intent
    assert (intent.contract, intent.method, intent.amount) == (
        "ValidationRegistry",
        "validationRequest",
        None,
    )
    assert intent.counterparty is not None
    assert intent.counterparty.address == STRANGER_ADDRESS
    validator, agent_id, uri, got = abi_decode(
        ["address", "uint256", "string", "bytes32"], planned.effects[0].data[4:]
    )
    assert (validator.lower(), agent_id, uri, "0x" + got.hex()) == (
        STRANGER_ADDRESS.lower(),
        2,
        "ipfs://job",
        request,
    )


def test_answer_validation_scores_0_to_100(ctx: SkillContext) -> None:
    request = "0x" + "cd" * 32
    planned = plan(ctx, "answer_validation", {"request_hash": request, "response": 100, "tag": "rerun"})
    assert (planned.intent.contract, planned.intent.method) == ("ValidationRegistry", "validationResponse")
    got, response, uri, _, tag = abi_decode(
        ["bytes32", "uint8", "string", "bytes32", "string"], planned.effects[0].data[4:]
    )
    assert ("0x" + got.hex(), response, uri, tag) == (request, 100, "", "rerun")
    with pytest.raises(InvalidSkillArgs, match="response"):
        plan(ctx, "answer_validation", {"request_hash": request, "response": 101})
