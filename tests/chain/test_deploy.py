"""deploy_all: deploys once per chain, reuses a live deployment, refuses another chain's file,
redeploys (and says so) when the chain lost its state; bindings work against the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from runtime.chain.anvil import AnvilNode
from wallet.artifacts import CONTRACT_NAMES
from wallet.chain import ChainClient
from wallet.contracts import ActionLogAnchor, AgentRegistry, DealEscrow, TestUSD
from wallet.deploy import Deployments, contracts_for, deploy_all, deployments_path
from wallet.errors import DeploymentError
from wallet.outbox import Outbox
from wallet.signer import Signer

pytestmark = pytest.mark.chain
ETH = 10**18


async def operator(client: ChainClient) -> Signer:
    signer = Signer.from_private_key(Account.create().key)
    await client.rpc.request("anvil_setBalance", [signer.address, hex(100 * ETH)])
    return signer


async def test_deploys_once_then_reuses(anvil: AnvilNode, tmp_path: Path) -> None:
    path = deployments_path(tmp_path / "home", 31337)
    assert path == tmp_path / "home" / "deployments" / "31337.json"
    async with await ChainClient.connect(anvil.url, outbox=Outbox(tmp_path / "o.db")) as client:
        signer = await operator(client)
        deployments, fresh = await deploy_all(client, signer, path)
        assert fresh
        assert deployments.chain_id == 31337
        assert deployments.deployer == signer.address
        assert set(deployments.contracts) == set(CONTRACT_NAMES)
        for address in deployments.contracts.values():
            assert await client.code(address) != b""
        assert Deployments.load(path) == deployments
        assert json.loads(path.read_text())["contracts"] == deployments.contracts

        nonce = await client.nonce(signer.address)
        again, fresh_again = await deploy_all(client, signer, path)
        assert not fresh_again
        assert again == deployments
        assert await client.nonce(signer.address) == nonce  # nothing sent


async def test_escrow_is_wired_to_registry_and_deployer_as_arbiter(anvil: AnvilNode, tmp_path: Path) -> None:
    async with await ChainClient.connect(anvil.url) as client:
        signer = await operator(client)
        deployments, _ = await deploy_all(client, signer, tmp_path / "d.json")
        bound = contracts_for(client, deployments)
        escrow = bound["DealEscrow"]
        assert isinstance(escrow, DealEscrow)
        assert await escrow.arbiter() == signer.address
        assert await escrow.call("registry") == deployments.address("AgentRegistry")
        registry = bound["AgentRegistry"]
        assert isinstance(registry, AgentRegistry)
        assert await registry.is_paused(signer.address) is False

        token = bound["TestUSD"]
        assert isinstance(token, TestUSD)
        assert await token.decimals() == 6
        holder = Account.create().address
        receipt = await client.transact(signer, token.mint_tx(holder, 5_000_000))
        assert await token.balance_of(holder) == 5_000_000
        assert token.events(receipt, "Transfer") == [
            {"from": "0x0000000000000000000000000000000000000000", "to": holder, "value": 5_000_000}
        ]

        anchor = bound["ActionLogAnchor"]
        assert isinstance(anchor, ActionLogAnchor)
        leaf = keccak(b"entry 1")
        assert await anchor.verify(leaf, leaf, []) is True
        receipt = await client.transact(signer, anchor.anchor_tx(leaf, 1, 1))
        [event] = anchor.events(receipt, "Anchored")
        assert event["root"] == leaf
        assert event["agent"] == signer.address


async def test_file_for_another_chain_is_refused(anvil: AnvilNode, tmp_path: Path) -> None:
    path = tmp_path / "deployments" / "31337.json"
    Deployments(chain_id=1, contracts={}, deployer=Account.create().address, block=1).save(path)
    async with await ChainClient.connect(anvil.url) as client:
        signer = await operator(client)
        with pytest.raises(DeploymentError) as err:
            await deploy_all(client, signer, path)
    assert str(err.value) == (
        f"deployments file {path} is for chain 1 but the node at {anvil.url} is chain 31337: "
        "point chain.rpc_url at chain 1 or remove the file"
    )


async def test_chain_restarted_without_state_redeploys_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    with AnvilNode() as first:
        async with await ChainClient.connect(first.url) as client:
            signer = await operator(client)
            old, _ = await deploy_all(client, signer, path)
    with AnvilNode() as second:  # a fresh chain, same chain id, no code anywhere
        async with await ChainClient.connect(second.url) as client:
            await client.rpc.request("anvil_setBalance", [signer.address, hex(100 * ETH)])
            new, fresh = await deploy_all(client, signer, path)
            assert fresh
            assert "no code at the recorded" in new.note
            assert "redeployed" in new.note
            for address in new.contracts.values():
                assert await client.code(address) != b""
    assert Deployments.load(path) == new
    assert old.chain_id == new.chain_id


async def test_unreadable_file_is_a_deployment_error(anvil: AnvilNode, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("{not json")
    async with await ChainClient.connect(anvil.url) as client:
        signer = await operator(client)
        with pytest.raises(DeploymentError) as err:
            await deploy_all(client, signer, path)
    assert str(path) in str(err.value)
    assert "sova chain deploy" in str(err.value)
    with pytest.raises(DeploymentError, match="no deployments file"):
        Deployments.load(tmp_path / "missing.json")
