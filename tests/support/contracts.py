"""Shared helpers for the contract tests: deploy the four contracts from their artifacts with plain
web3 and anvil's unlocked dev accounts, sign deals, move time, and check custom-error reverts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from wallet.artifacts import load_artifact
from wallet.typed_data import Deal, deal_typed_data

DEV_MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337
USD = 10**6  # TestUSD has 6 decimals

Account.enable_unaudited_hdwallet_features()


def dev_account(index: int) -> LocalAccount:
    """Anvil's dev account `index` (funded and unlocked on a fresh node), with its private key."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def connect(url: str) -> Web3:
    """A web3 client for the node at `url`."""
    return Web3(HTTPProvider(url))


def send(fn: Any, sender: str) -> Any:
    """Send a contract call from an unlocked dev account and return its (successful) receipt."""
    receipt = fn.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
    assert receipt.status == 1
    return receipt


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    """Deploy contract `name` from its artifact and return it bound to its address."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact.abi)


@dataclass
class Contracts:
    """The four contracts deployed by `operator` (owner of the registry and the token)."""

    w3: Web3
    operator: LocalAccount
    arbiter: LocalAccount
    registry: Contract
    escrow: Contract
    anchor: Contract
    usd: Contract
    reputation: Contract
    validation: Contract


def deploy_all(url: str) -> Contracts:
    """Deploy AgentRegistry, DealEscrow (arbiter = dev account 9), ActionLogAnchor, TestUSD,
    ReputationRegistry and ValidationRegistry."""
    w3 = connect(url)
    operator, arbiter = dev_account(0), dev_account(9)
    registry = deploy(w3, "AgentRegistry", sender=operator.address)
    escrow = deploy(w3, "DealEscrow", registry.address, arbiter.address, sender=operator.address)
    anchor = deploy(w3, "ActionLogAnchor", sender=operator.address)
    usd = deploy(w3, "TestUSD", sender=operator.address)
    reputation = deploy(w3, "ReputationRegistry", registry.address, escrow.address, sender=operator.address)
    validation = deploy(w3, "ValidationRegistry", registry.address, sender=operator.address)
    return Contracts(w3, operator, arbiter, registry, escrow, anchor, usd, reputation, validation)


def now(w3: Web3) -> int:
    """The latest block's timestamp."""
    return int(w3.eth.get_block("latest")["timestamp"])


def advance_time(w3: Web3, seconds: int) -> None:
    """Move the chain's clock forward and mine a block."""
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def sign_deal(deal: Deal, signer: LocalAccount, escrow_address: str) -> bytes:
    """`signer`'s EIP-712 signature over `deal` for the escrow at `escrow_address`."""
    signed = signer.sign_typed_data(full_message=deal_typed_data(deal, CHAIN_ID, escrow_address))
    return bytes(signed.signature)


def random_hash() -> bytes:
    """A random 32-byte value."""
    return keccak(os.urandom(32))


def error_selector(contract: Contract, name: str) -> str:
    """The 4-byte selector (0x hex) of custom error `name`, from the contract's ABI."""
    for item in contract.abi:
        if item.get("type") == "error" and item.get("name") == name:
            types = ",".join(_abi_type(inp) for inp in item.get("inputs", []))
            return "0x" + keccak(text=f"{name}({types})")[:4].hex()
    raise KeyError(f"no error {name} in the ABI")


def _abi_type(inp: dict[str, Any]) -> str:
    if inp["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in inp["components"])
        return f"({inner}){inp['type'][5:]}"
    return str(inp["type"])


@contextmanager
def reverts_with(contract: Contract, name: str, *args: Any) -> Iterator[None]:
    """Expect a revert with custom error `name` of `contract` (and, if given, exactly these args)."""
    with pytest.raises(ContractCustomError) as info:
        yield
    data = info.value.data if isinstance(info.value.data, str) else str(info.value.args[0])
    selector = error_selector(contract, name)
    assert data[:10] == selector, f"expected {name} ({selector}), got revert data {data}"
    if args:
        abi = next(i for i in contract.abi if i.get("type") == "error" and i.get("name") == name)
        types = [_abi_type(i) for i in abi["inputs"]]
        decoded = tuple(
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, contract.w3.codec.decode(types, bytes.fromhex(data[10:])), strict=True)
        )
        assert decoded == args, f"{name} args {decoded} != {args}"
