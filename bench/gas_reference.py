"""The ERC-8004 reference contracts' gas for the calls bench/gas.py measures on Sova's registries.

The reference (tests/fixtures/erc8004_reference, vendored from erc-8004/erc-8004-contracts; compile
with tools/compile_reference.py) is upgradeable: each registry runs behind OpenZeppelin's ERC1967Proxy,
deployed on HardhatMinimalUUPS and upgraded to the registry, as the reference's own tests do. So every
call pays a proxy's delegatecall (~2.6k more), and its feedback has no payment check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

ARTIFACTS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "erc8004_reference" / "artifacts"


def available() -> bool:
    """Whether the reference artifacts were compiled (tools/compile_reference.py)."""
    return (ARTIFACTS / "IdentityRegistryUpgradeable.json").is_file()


class Reference:
    """The three reference registries behind proxies on one chain, owned by `owner`."""

    def __init__(self, w3: Web3, owner: str) -> None:
        self.w3, self.owner = w3, owner
        self.minimal = self._deploy("HardhatMinimalUUPS")
        self.identity = self._proxy("IdentityRegistryUpgradeable", None)
        self.reputation = self._proxy("ReputationRegistryUpgradeable", self.identity.address)
        self.validation = self._proxy("ValidationRegistryUpgradeable", self.identity.address)

    def _artifact(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.json").read_text(encoding="utf-8"))
        return data

    def _deploy(self, name: str, *args: Any) -> Any:
        artifact = self._artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor(*args).transact({"from": self.owner})
        )
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def _proxy(self, name: str, identity: str | None) -> Any:
        """`name` behind a proxy: proxy -> HardhatMinimalUUPS.initialize -> upgradeToAndCall(name)."""
        zero = "0x" + "00" * 20
        start = self.minimal.encode_abi("initialize", args=[identity or zero])
        proxy = self._deploy("ERC1967Proxy", self.minimal.address, start)
        implementation = self._deploy(name)
        args = [] if identity is None else [identity]
        upgrade = self.w3.eth.contract(
            address=proxy.address, abi=self.minimal.abi
        ).functions.upgradeToAndCall(
            implementation.address, implementation.encode_abi("initialize", args=args)
        )
        receipt = self.w3.eth.wait_for_transaction_receipt(upgrade.transact({"from": self.owner}))
        if receipt["status"] != 1:
            raise RuntimeError(f"upgrading the {name} proxy reverted")
        return self.w3.eth.contract(address=proxy.address, abi=implementation.abi)


def measure_reference(w3: Web3, keys: list[LocalAccount], chain_id: int, gas: Any) -> list[tuple[str, int]]:
    """(row name, gasUsed) of the reference for: register with the same four metadata entries,
    setAgentWallet, giveFeedback (first and later), validationRequest, validationResponse. `gas(fn,
    sender)` sends and answers gasUsed; `keys`: dev accounts (0 deploys; 5 owns, 6 the new wallet,
    7 validates, 1 rates)."""
    from wallet.metadata import registration_uri, sova_metadata
    from wallet.typed_data import agent_wallet_typed_data

    ref = Reference(w3, keys[0].address)
    owner, fresh, validator, client = keys[5], keys[6], keys[7], keys[1].address
    endpoint = "https://agent.example"
    entries = sova_metadata("did:key:z6MkErc8004", endpoint, ["translate", "code"], bytes(64))
    agent_id = int(
        ref.identity.functions.register(registration_uri(endpoint), entries).call({"from": owner.address})
    )
    register = ref.identity.functions.register(registration_uri(endpoint), entries)
    rows = [("reference register(agentURI, the same 4 metadata entries)", gas(register, owner.address))]
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 240
    consent = agent_wallet_typed_data(
        ref.identity.address, chain_id, agent_id, fresh.address, owner.address, deadline
    )
    signature = bytes(fresh.sign_typed_data(full_message=consent).signature)
    set_wallet = ref.identity.functions.setAgentWallet(agent_id, fresh.address, deadline, signature)
    rows.append(("reference setAgentWallet (EIP-712 proof)", gas(set_wallet, owner.address)))
    give = ref.reputation.functions.giveFeedback(agent_id, 90, 0, "starred", "translate", "", "", bytes(32))
    rows.append(("reference giveFeedback, first (no payment check)", gas(give, client)))
    rows.append(("reference giveFeedback, later", gas(give, client)))
    request_hash = os.urandom(32)
    ask = ref.validation.functions.validationRequest(validator.address, agent_id, "ipfs://job", request_hash)
    rows.append(("reference validationRequest", gas(ask, owner.address)))
    answer = ref.validation.functions.validationResponse(request_hash, 100, "ipfs://ev", bytes(32), "rerun")
    rows.append(("reference validationResponse", gas(answer, validator.address)))
    return rows


if __name__ == "__main__":  # `make bench` runs every bench/*.py
    print("bench/gas_reference.py is part of bench/gas.py: run that")
