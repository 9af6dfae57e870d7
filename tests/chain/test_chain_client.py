"""ChainClient on a real anvil: sends, receipts, reverts, funds, retries, fee bumps, nonces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from eth_abi.abi import encode as abi_encode
from eth_account import Account

from runtime.chain.anvil import AnvilNode, free_port
from wallet.abi import ErrorDecoder
from wallet.chain import ChainClient
from wallet.contracts import TestUSD, deploy_contract
from wallet.errors import InsufficientFunds, RpcError, RpcUnavailable, TransactionReverted, TransactionTimeout
from wallet.fees import Fees, bump, bumped_fees
from wallet.outbox import Outbox
from wallet.signer import Signer

pytestmark = pytest.mark.chain
ETH = 10**18


async def funded(client: ChainClient, eth: int = 100) -> Signer:
    signer = Signer.from_private_key(Account.create().key)
    await client.rpc.request("anvil_setBalance", [signer.address, hex(eth * ETH)])
    return signer


@pytest.fixture
async def client(anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[ChainClient]:
    c = await ChainClient.connect(anvil.url, outbox=Outbox(tmp_path / "outbox.db"))
    try:
        yield c
    finally:
        await c.close()


async def test_connect_reads_chain(client: ChainClient) -> None:
    assert client.chain_id == 31337
    assert await client.block_number() == 0
    assert await client.balance(Account.create().address) == 0


async def test_transfer_is_stored_sent_and_mined(client: ChainClient) -> None:
    signer = await funded(client)
    to = Account.create().address
    receipt = await client.transact(signer, {"to": to, "value": 12345}, purpose="test transfer")
    assert receipt.succeeded
    assert receipt.sender == signer.address
    assert receipt.gas_used == 21000
    assert await client.balance(to) == 12345
    assert client.outbox is not None
    entry = client.outbox.get(receipt.tx_hash)
    assert entry is not None
    assert (entry.status, entry.receipt_status, entry.nonce, entry.purpose) == (
        "mined",
        1,
        0,
        "test transfer",
    )
    assert entry.block_number == receipt.block_number
    assert entry.tx["maxFeePerGas"] >= entry.tx["maxPriorityFeePerGas"] > 0


async def test_concurrent_sends_get_consecutive_nonces(client: ChainClient) -> None:
    signer = await funded(client)
    to = Account.create().address
    receipts = await asyncio.gather(
        *[client.transact(signer, {"to": to, "value": 1, "gas": 21000}) for _ in range(40)]
    )
    assert all(r.succeeded for r in receipts)
    assert await client.nonce(signer.address, "latest") == 40
    assert await client.balance(to) == 40
    assert client.outbox is not None
    assert sorted(e.nonce for e in client.outbox.entries(signer.address)) == list(range(40))


class RefusingOnce:
    """A signer whose first signature is refused (as a paused agent's narrow signer refuses)."""

    def __init__(self, inner: Signer) -> None:
        self.inner, self.address, self.refused = inner, inner.address, False

    def sign_transaction(self, tx: dict[str, object]) -> object:
        if not self.refused:
            self.refused = True
            raise PermissionError("paused: no signature")
        return self.inner.sign_transaction(tx)


async def test_a_refused_signature_gives_its_nonce_back(client: ChainClient) -> None:
    signer = await funded(client)
    to = Account.create().address
    await client.transact(signer, {"to": to, "value": 1, "gas": 21000})
    refusing = RefusingOnce(signer)
    with pytest.raises(PermissionError):
        await client.send(refusing, {"to": to, "value": 1, "gas": 21000})
    # The next transaction takes the nonce the refused one was given: no gap that would hold it (and
    # every later one) in the node's queue until it times out.
    receipt = await client.transact(refusing, {"to": to, "value": 1, "gas": 21000}, timeout=5)
    assert receipt.succeeded
    assert await client.nonce(signer.address, "latest") == 2
    assert client.outbox is not None
    assert sorted(e.nonce for e in client.outbox.entries(signer.address)) == [0, 1]


async def test_unreachable_rpc_gives_up_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as err:
        await ChainClient.connect(url, retries=4, backoff=0.05, max_backoff=0.1)
    elapsed = time.monotonic() - start
    assert 0.05 + 0.1 + 0.1 <= elapsed < 3.0  # three sleeps, capped; then it stops
    assert str(err.value) == (
        f"RPC at {url} not reachable after 4 tries: start the chain (`sova chain up`) "
        "or fix chain.rpc_url in agents.yaml (last error: connection refused)"
    )


async def test_not_enough_funds_says_who_how_much_and_how_to_fund(client: ChainClient) -> None:
    poor = Signer.from_private_key(Account.create().key)
    await client.rpc.request("anvil_setBalance", [poor.address, hex(1000)])
    with pytest.raises(InsufficientFunds) as err:
        await client.transact(poor, {"to": poor.address, "value": 0, "gas": 21000})
    message = str(err.value)
    assert poor.address in message
    assert "chain 31337" in message
    assert "it has 0.000000000000001 ETH" in message
    assert "the transaction needs" in message
    assert "sova chain fund" in message
    assert "anvil_setBalance" in message
    assert "\n" not in message
    # Nothing was consumed: the nonce is given back, the stored version is marked failed.
    assert client.outbox is not None
    [entry] = client.outbox.entries(poor.address)
    assert entry.status == "failed"
    await client.rpc.request("anvil_setBalance", [poor.address, hex(ETH)])
    receipt = await client.transact(poor, {"to": poor.address, "value": 0, "gas": 21000})
    assert receipt.succeeded
    assert await client.nonce(poor.address, "latest") == 1


async def test_revert_in_estimation_is_decoded_and_nothing_is_sent(client: ChainClient) -> None:
    owner = await funded(client)
    stranger = await funded(client)
    token = await deploy_contract(client, owner, "TestUSD")
    assert isinstance(token, TestUSD)
    with pytest.raises(TransactionReverted) as err:
        await client.transact(stranger, token.mint_tx(stranger.address, 5))
    assert err.value.error == f"OwnableUnauthorizedAccount({stranger.address})"
    assert err.value.tx_hash is None
    assert "nothing was sent" in str(err.value)
    assert client.outbox is not None
    assert client.outbox.entries(stranger.address) == []


async def test_mined_revert_is_decoded_and_recorded(client: ChainClient) -> None:
    owner = await funded(client)
    stranger = await funded(client)
    token = await deploy_contract(client, owner, "TestUSD")
    tx = {**token.build("transfer", owner.address, 5), "gas": 100_000}  # gas given: no estimation
    with pytest.raises(TransactionReverted) as err:
        await client.transact(stranger, tx)
    assert err.value.error == f"ERC20InsufficientBalance({stranger.address}, 0, 5)"
    assert err.value.tx_hash is not None
    assert "reverted in block" in str(err.value)
    assert client.outbox is not None
    entry = client.outbox.get(err.value.tx_hash)
    assert entry is not None
    assert (entry.status, entry.receipt_status) == ("mined", 0)


async def test_stuck_transaction_is_replaced_with_bumped_fees(anvil: AnvilNode, tmp_path: Path) -> None:
    client = await ChainClient.connect(anvil.url, outbox=Outbox(tmp_path / "o.db"))
    try:
        signer = await funded(client)
        to = Account.create().address
        await client.rpc.request("evm_setAutomine", [False])
        waiting = asyncio.create_task(
            client.transact(signer, {"to": to, "value": 7, "gas": 21000}, stuck_after=0.3, timeout=20)
        )
        await asyncio.sleep(1.1)  # about three bumps
        await client.rpc.request("anvil_mine", [1])
        receipt = await asyncio.wait_for(waiting, 10)
        assert client.outbox is not None
        versions = client.outbox.versions(31337, signer.address, 0)
        assert len(versions) >= 3
        assert [v.status for v in versions].count("mined") == 1
        # A bump racing the block is refused by the node ("nonce too low") and stored as failed.
        assert {v.status for v in versions} <= {"mined", "replaced", "failed"}
        assert all("nonce too low" in (v.error or "") for v in versions if v.status == "failed")
        mined = next(v for v in versions if v.status == "mined")
        assert mined.tx_hash == receipt.tx_hash
        by_id = {v.id: v for v in versions}
        assert versions[0].replaces is None
        for new in versions[1:]:
            assert new.replaces is not None
            old = by_id[new.replaces]
            for fee in ("maxFeePerGas", "maxPriorityFeePerGas"):
                assert new.tx[fee] >= old.tx[fee] * 9 // 8 + 1
        assert await client.balance(to) == 7  # one transfer, whichever version won
        assert await client.nonce(signer.address, "latest") == 1
    finally:
        await client.close()


async def test_wait_times_out_with_a_clear_message(anvil: AnvilNode) -> None:
    client = await ChainClient.connect(anvil.url)
    try:
        signer = await funded(client)
        await client.rpc.request("evm_setAutomine", [False])
        tx_hash = await client.send(signer, {"to": signer.address, "value": 0, "gas": 21000})
        with pytest.raises(TransactionTimeout) as err:
            await client.wait(tx_hash, timeout=0.3)
        assert f"0x{tx_hash.hex()}" in str(err.value)
        assert "after 0.3 s on chain 31337" in str(err.value)
    finally:
        await client.close()


def test_standard_revert_reasons_are_decoded() -> None:
    decoder = ErrorDecoder()
    error_string = bytes.fromhex("08c379a0") + abi_encode(["string"], ["not owner"])
    assert decoder.decode(error_string) == "Error('not owner')"
    panic = bytes.fromhex("4e487b71") + abi_encode(["uint256"], [0x11])
    assert decoder.decode(panic) == "Panic(0x11: arithmetic overflow or underflow)"
    assert decoder.decode(bytes.fromhex("deadbeef")) is None
    assert decoder.describe(bytes.fromhex("deadbeef")) == "unknown error data 0xdeadbeef"
    assert decoder.describe(b"") == "no revert data"


def test_fee_bump_is_at_least_an_eighth_plus_one() -> None:
    assert bump(8) == 10
    assert bump(1_000_000_000) == 1_125_000_001
    old = {"maxFeePerGas": 3_000_000_000, "maxPriorityFeePerGas": 1_000_000_000}
    assert bumped_fees(old, Fees(max_fee=2_000_000_000, tip=1_000_000_000)) == {
        "maxFeePerGas": 3_375_000_001,
        "maxPriorityFeePerGas": 1_125_000_001,
    }
    # When the chain asks more than the bump gives, the replacement follows the chain.
    assert bumped_fees(old, Fees(max_fee=9_000_000_000, tip=2_000_000_000)) == {
        "maxFeePerGas": 9_000_000_000,
        "maxPriorityFeePerGas": 2_000_000_000,
    }
    assert bumped_fees({"gasPrice": 800}, Fees(gas_price=100)) == {"gasPrice": 901}


# ------------------------------------------------------------------------- transport retries


class FlakyProxy:
    """Answers the first `failures` requests with HTTP 503, then forwards to the node."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = upstream
        self.failures = failures
        self.requests: list[bytes] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(body)
        if len(self.requests) <= self.failures:
            return web.Response(status=503, text="busy")
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.upstream, data=body, headers={"Content-Type": "application/json"}) as resp,
        ):
            return web.Response(body=await resp.read(), content_type="application/json")


@pytest.fixture
async def flaky(anvil: AnvilNode) -> AsyncIterator[tuple[FlakyProxy, str]]:
    proxy = FlakyProxy(anvil.url, failures=2)
    app = web.Application()
    app.router.add_post("/", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield proxy, f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_transport_faults_are_retried_but_reverts_are_not(flaky: tuple[FlakyProxy, str]) -> None:
    proxy, url = flaky
    client = await ChainClient.connect(url, retries=3, backoff=0.01)
    try:
        assert client.chain_id == 31337
        assert len(proxy.requests) == 3  # two 503s, then the answer
        before = len(proxy.requests)
        with pytest.raises(RpcError):  # a JSON-RPC error is the node's verdict: asked once
            await client.rpc.request("eth_getBalance", ["not-an-address", "latest"])
        assert len(proxy.requests) == before + 1
    finally:
        await client.close()
