"""Gas used by the Sova contracts on a fresh local anvil, against the design targets.

Prints a table of receipt gasUsed (the whole transaction, 21k intrinsic included) and writes it to
bench/results/gas.txt. Exits 1 when a target is missed.

Usage: .venv/bin/python -P bench/gas.py [--smoke]
    --smoke: the same operations (they are few and fast), targets not checked, the results file left
    alone (`make bench-smoke`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from runtime.chain.anvil import ANVIL_CHAIN_ID, AnvilNode
from wallet.artifacts import load_artifact
from wallet.merkle import merkle_root
from wallet.typed_data import Deal, deal_typed_data

RESULTS = Path(__file__).resolve().parent / "results" / "gas.txt"
DEV_MNEMONIC = "test test test test test test test test test test test junk"
USD = 10**6
BATCH = 1_000


@dataclass
class Row:
    """One measured operation, with its target when it has one."""

    name: str
    gas: float
    target: float | None = None
    unit: str = "gas"

    @property
    def ok(self) -> bool:
        return self.target is None or self.gas <= self.target


class Bench:
    """The contracts on one anvil, and the accounts that use them."""

    def __init__(self, url: str) -> None:
        Account.enable_unaudited_hdwallet_features()
        self.w3 = Web3(HTTPProvider(url))
        self.keys: list[LocalAccount] = [
            Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
        ]
        self.operator, self.buyer, self.seller, self.relayer = (a.address for a in self.keys[:4])
        self.registry = self.deploy("AgentRegistry")
        self.escrow = self.deploy("DealEscrow", self.registry.address, self.keys[9].address)
        self.anchor = self.deploy("ActionLogAnchor")
        self.usd = self.deploy("TestUSD")
        self.reputation = self.deploy("ReputationRegistry", self.registry.address, self.escrow.address)
        self.validation = self.deploy("ValidationRegistry", self.registry.address)

    def deploy(self, name: str, *args: Any) -> Any:
        """Deploy `name` from its artifact; the contract bound to its address."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor(*args).transact({"from": self.operator})
        )
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)

    def gas(self, fn: Any, sender: str) -> int:
        """Send `fn` from an unlocked dev account; the receipt's gasUsed."""
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {fn.fn_name} reverted")
        return int(receipt["gasUsed"])

    def deal(self, nonce: int) -> tuple[Deal, bytes, bytes]:
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        deal = Deal(self.buyer, self.seller, self.usd.address, 25 * USD, os.urandom(32), now + 3600, nonce)
        message = deal_typed_data(deal, ANVIL_CHAIN_ID, self.escrow.address)
        sigs = [bytes(self.keys[i].sign_typed_data(full_message=message).signature) for i in (1, 2)]
        return deal, sigs[0], sigs[1]

    def open(self, nonce: int) -> tuple[Deal, int]:
        deal, buyer_sig, seller_sig = self.deal(nonce)
        return deal, self.gas(
            self.escrow.functions.open(deal.as_tuple(), buyer_sig, seller_sig), self.relayer
        )


def measure(b: Bench) -> list[Row]:
    """Run every operation (twice where the first call costs more) and collect gasUsed."""
    rows: list[Row] = []

    def add(name: str, gas: float, target: float | None = None, unit: str = "gas") -> None:
        rows.append(Row(name, gas, target, unit))

    b.gas(b.usd.functions.mint(b.buyer, 1_000_000 * USD), b.operator)
    transfer = b.usd.functions.transfer(b.relayer, USD)
    add("TestUSD transfer, new holder (baseline)", b.gas(transfer, b.buyer))
    add("TestUSD transfer, existing holder (baseline)", b.gas(transfer, b.buyer))

    leaves = [os.urandom(32) for _ in range(BATCH)]
    add("anchor, first", b.gas(b.anchor.functions.anchor(merkle_root(leaves), 1, BATCH), b.buyer), 30_000)
    steady = max(
        b.gas(b.anchor.functions.anchor(os.urandom(32), seq * BATCH + 1, (seq + 1) * BATCH), b.buyer)
        for seq in range(1, 6)
    )
    add("anchor, steady state (max of 5)", steady, 30_000)
    add(f"anchor gas per ledger entry, batch of {BATCH:,}", steady / BATCH, 100, "gas/entry")

    b.gas(b.usd.functions.approve(b.escrow.address, 2**256 - 1), b.buyer)
    first_deal, gas = b.open(1)
    add("escrow open, first deal", gas, 150_000)
    later_deal, gas = b.open(2)
    add("escrow open, later deal", gas, 150_000)
    release = b.escrow.functions.release
    add("escrow release, seller's first payment", b.gas(release(first_deal.as_tuple()), b.buyer), 70_000)
    add("escrow release, later", b.gas(release(later_deal.as_tuple()), b.buyer), 70_000)
    refund_deal, _ = b.open(3)
    b.w3.provider.make_request("evm_increaseTime", [3601])  # type: ignore[arg-type]
    b.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    add("escrow refund", b.gas(b.escrow.functions.refund(refund_deal.as_tuple()), b.relayer))
    cancel_deal, _ = b.open(4)  # before its deadline: the seller gives it up
    add("escrow cancel (seller's refund)", b.gas(b.escrow.functions.cancel(cancel_deal.as_tuple()), b.seller))

    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    register = b.registry.functions.register(
        did, "https://agent.example/a2a", ["translate", "code"], bytes(64)
    )
    add("registry register (2 tags, 64-byte proof)", b.gas(register, b.seller))
    add("registry revokeCredential", b.gas(b.registry.functions.revokeCredential(os.urandom(32)), b.seller))
    add("registry pause", b.gas(b.registry.functions.pause(b.seller), b.operator))
    b.gas(b.registry.functions.unpause(b.seller), b.operator)
    rows.extend(measure_erc8004(b, first_deal, later_deal))
    reference = _reference_module()
    if reference.available():
        measured = reference.measure_reference(b.w3, b.keys, ANVIL_CHAIN_ID, b.gas)
        rows.extend(Row(name, gas) for name, gas in measured)
    else:
        print("reference contracts not compiled (tools/compile_reference.py): no reference rows")
    return rows


def _reference_module() -> Any:
    """bench/gas_reference.py (bench/ is not on sys.path: `-P`, see the Makefile)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gas_reference", Path(__file__).with_name("gas_reference.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_erc8004(b: Bench, *released: Deal) -> list[Row]:
    """ERC-8004: register with Sova's metadata, setAgentWallet, paid feedback, validation. The seller
    is agent 1 (registered above) and was paid in the `released` deals."""
    from wallet.metadata import registration_uri, sova_metadata
    from wallet.typed_data import agent_wallet_typed_data

    owner, fresh, validator = b.keys[5], b.keys[6], b.keys[7]
    endpoint = "https://agent.example"
    entries = sova_metadata("did:key:z6MkErc8004", endpoint, ["translate", "code"], bytes(64))
    register = b.registry.functions.register(registration_uri(endpoint), entries)
    rows = [Row("ERC-8004 register(agentURI, 4 Sova metadata entries)", b.gas(register, owner.address))]
    deadline = int(b.w3.eth.get_block("latest")["timestamp"]) + 240
    consent = agent_wallet_typed_data(
        b.registry.address, ANVIL_CHAIN_ID, 2, fresh.address, owner.address, deadline
    )
    signature = bytes(fresh.sign_typed_data(full_message=consent).signature)
    set_wallet = b.registry.functions.setAgentWallet(2, fresh.address, deadline, signature)
    rows.append(Row("ERC-8004 setAgentWallet (EIP-712 proof)", b.gas(set_wallet, owner.address)))
    record = b.reputation.functions.recordSettledDeal
    rows.append(
        Row("reputation recordSettledDeal (escrow check)", b.gas(record(1, released[0].as_tuple()), b.buyer))
    )
    give = b.reputation.functions.giveFeedback(1, 90, 0, "starred", "translate", "", "", bytes(32))
    rows.append(Row("reputation giveFeedback, first (spends the deal)", b.gas(give, b.buyer)))
    b.gas(record(1, released[1].as_tuple()), b.buyer)
    rows.append(Row("reputation giveFeedback, later", b.gas(give, b.buyer)))
    request_hash = os.urandom(32)
    ask = b.validation.functions.validationRequest(validator.address, 1, "ipfs://job", request_hash)
    rows.append(Row("validation validationRequest", b.gas(ask, b.seller)))
    answer = b.validation.functions.validationResponse(request_hash, 100, "ipfs://ev", bytes(32), "rerun")
    rows.append(Row("validation validationResponse", b.gas(answer, validator.address)))
    return rows


def render(rows: list[Row]) -> str:
    """The table as text."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'operation':<{width}}  {'gasUsed':>10}  {'target':>10}  result", "-" * (width + 33)]
    for r in rows:
        measured = f"{r.gas:>10,.1f}" if r.unit != "gas" else f"{int(r.gas):>10,}"
        target = f"<= {r.target:,.0f}" if r.target is not None else ""
        result = ("pass" if r.ok else "FAIL") if r.target is not None else ""
        lines.append(f"{r.name:<{width}}  {measured}  {target:>10}  {result}".rstrip())
    lines.append("gasUsed = receipt gasUsed of the whole transaction, 21,000 intrinsic gas included.")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Measure on a fresh anvil, print and save the table; 1 when a target is missed (not in a smoke
    run)."""
    with AnvilNode() as node:
        rows = measure(Bench(node.url))
    table = render(rows)
    print(table, end="")
    if "--smoke" in sys.argv:
        print(f"smoke run: targets not checked, {RESULTS.name} not written")
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"targets missed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
