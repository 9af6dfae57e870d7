"""ValidationRegistry: ERC-8004's interface; only the agent's owner asks, only the named validator
answers (0-100, again as often as it likes), and the summaries count answered requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import Contracts, deploy_all, dev_account, random_hash, reverts_with, send

pytestmark = pytest.mark.chain

ERC8004 = (
    "validationRequest(address,uint256,string,bytes32)",
    "validationResponse(bytes32,uint8,string,bytes32,string)",
    "getValidationStatus(bytes32)",
    "getSummary(uint256,address[],string)",
    "getAgentValidations(uint256)",
    "getValidatorRequests(address)",
    "getIdentityRegistry()",
    "getVersion()",
    "ValidationRequest(address,uint256,string,bytes32)",
    "ValidationResponse(address,uint256,bytes32,uint8,string,bytes32,string)",
)


@dataclass
class World:
    c: Contracts
    owner: LocalAccount
    validator: LocalAccount
    other: LocalAccount

    def ask(self, request_hash: bytes, validator: LocalAccount | None = None) -> Any:
        who = validator or self.validator
        fn = self.c.validation.functions.validationRequest(who.address, 1, "ipfs://job", request_hash)
        return send(fn, self.owner.address)

    def answer(
        self, request_hash: bytes, response: int, tag: str = "", who: LocalAccount | None = None
    ) -> Any:
        fn = self.c.validation.functions.validationResponse(
            request_hash, response, "ipfs://ev", keccak(b"e"), tag
        )
        return fn.transact({"from": (who or self.validator).address})


@pytest.fixture
def w(module_anvil: AnvilNode) -> World:
    c = deploy_all(module_anvil.url)
    owner = dev_account(1)
    send(
        c.registry.functions.register("did:key:z6MkSeller", "http://seller", ["compute"], b"\1" * 64),
        owner.address,
    )
    return World(c, owner, dev_account(2), dev_account(3))


def test_the_abi_has_every_erc8004_validation_function_and_event(w: World) -> None:
    ours = {
        f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"
        for e in w.c.validation.abi
        if e["type"] in ("function", "event")
    }
    assert [f for f in ERC8004 if f not in ours] == []
    assert w.c.validation.functions.getIdentityRegistry().call() == w.c.registry.address


def test_the_validator_answers_the_owners_request_and_may_update_it(w: World) -> None:
    request = random_hash()
    receipt = w.ask(request)
    (asked,) = w.c.validation.events.ValidationRequest().process_receipt(receipt)
    assert (asked.args.validatorAddress, asked.args.agentId, asked.args.requestHash) == (
        w.validator.address,
        1,
        request,
    )
    w.c.w3.eth.wait_for_transaction_receipt(w.answer(request, 60, "soft"))
    receipt = w.c.w3.eth.wait_for_transaction_receipt(w.answer(request, 100, "hard"))
    (answered,) = w.c.validation.events.ValidationResponse().process_receipt(receipt)
    assert (answered.args.response, answered.args.tag, answered.args.agentId) == (100, "hard", 1)
    validator, agent_id, response, _, tag, _ = w.c.validation.functions.getValidationStatus(request).call()
    assert (validator, agent_id, response, tag) == (w.validator.address, 1, 100, "hard")
    assert w.c.validation.functions.getAgentValidations(1).call() == [request]
    assert w.c.validation.functions.getValidatorRequests(w.validator.address).call() == [request]


def test_the_summary_counts_answered_requests_by_validator_and_tag(w: World) -> None:
    first, second, unanswered = random_hash(), random_hash(), random_hash()
    w.ask(first)
    w.ask(second, validator=w.other)
    w.ask(unanswered)
    w.c.w3.eth.wait_for_transaction_receipt(w.answer(first, 100, "rerun"))
    w.c.w3.eth.wait_for_transaction_receipt(w.answer(second, 40, "rerun", who=w.other))
    summary = w.c.validation.functions.getSummary
    assert summary(1, [], "").call() == [2, 70]
    assert summary(1, [w.other.address], "").call() == [1, 40]
    assert summary(1, [], "other").call() == [0, 0]


def test_only_the_agents_owner_asks_and_a_request_is_made_once(w: World) -> None:
    request = random_hash()
    fn = w.c.validation.functions.validationRequest(w.validator.address, 1, "ipfs://job", request)
    with reverts_with(w.c.validation, "NotAuthorized", w.other.address, 1):
        fn.transact({"from": w.other.address})
    w.ask(request)
    with reverts_with(w.c.validation, "RequestExists", request):
        w.ask(request)
    zero = w.c.validation.functions.validationRequest("0x" + "0" * 40, 1, "x", random_hash())
    with reverts_with(w.c.validation, "ZeroValidator"):
        zero.transact({"from": w.owner.address})


def test_only_the_named_validator_answers_within_0_100(w: World) -> None:
    request = random_hash()
    with reverts_with(w.c.validation, "UnknownRequest", request):
        w.answer(request, 50)
    w.ask(request)
    with reverts_with(w.c.validation, "NotTheValidator", w.other.address, w.validator.address):
        w.answer(request, 100, who=w.other)
    with reverts_with(w.c.validation, "ResponseOutOfRange", 101):
        w.answer(request, 101)
