"""A buyer and a seller negotiate over real HTTP (two A2A servers on loopback) and settle on a real anvil:
each with its own identity key, wallet, executor under the preset policies, real ledger."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from identity import CredentialStore, IdentityKey, ReplayStore, issue_credential
from identity.envelopes import Envelope
from policies import Budget, TokenRegistry, load_policy
from runtime.a2a.card import AgentProfile
from runtime.a2a.client import A2AMessenger
from runtime.a2a.handler import Reply
from runtime.a2a.protocol import LedgerAdapter, Negotiator
from runtime.a2a.server import AgentServer, listen
from runtime.a2a.threads import ThreadState, ThreadStore
from runtime.chain.anvil import AnvilNode
from runtime.chain.registry import Registry
from runtime.config import RuleBrain
from runtime.executor.executor import Executor
from runtime.executor.narrow_signer import binding_prover
from runtime.ledger.ledger import Ledger
from runtime.negotiation.buyer import Buyer, PeerBook, Seller
from runtime.negotiation.deals import DealStore
from runtime.negotiation.settlement import watch_deadlines
from skills import SkillContext, default_catalog
from tests.unit.test_executor_support import CountingSigner, Market
from wallet.contracts import AgentRegistry, DealEscrow
from wallet.signer import Signer
from wallet.typed_data import Deal, deal_typed_data

pytestmark = pytest.mark.chain

PRESETS = Path(__file__).resolve().parents[2] / "policies" / "presets"
ARTIFACT = b"Bonjour le monde: the translation of 'hello world', 1000 words"
USD = 10**6
BUYER_BRAIN = RuleBrain(strategy="linear", target="10", reservation="30", rounds=6)
SELLER_BRAIN = RuleBrain(strategy="linear", target="38", reservation="15", rounds=6)


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts (see tests/chain/conftest.py)."""
    return module_anvil


@dataclass
class Side:
    name: str
    key: IdentityKey
    signer: CountingSigner
    ledger: Ledger
    executor: Executor
    negotiator: Negotiator
    messenger: A2AMessenger
    deals: DealStore
    peers: PeerBook
    server: AgentServer
    credentials: CredentialStore
    sink: LedgerAdapter

    @property
    def address(self) -> str:
        return self.signer.address

    def kinds(self) -> list[str]:
        return [e.kind for e in self.ledger.entries()]

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.ledger.entries() if e.kind == kind]


async def make_side(
    stack: AsyncExitStack, market: Market, home: Path, name: str, issuer: str, handler: Any = None
) -> Side:
    folder = home / name
    key = IdentityKey.generate()
    signer = CountingSigner(Signer.from_private_key(Account.create().key))
    ledger = Ledger.open(folder / "ledger.sqlite", key, signer.address)
    stack.callback(ledger.close)
    replay, threads = ReplayStore(folder / "replay.sqlite"), ThreadStore(folder / "threads.sqlite")
    stack.callback(replay.close)
    stack.callback(threads.close)
    sink = LedgerAdapter(ledger)
    negotiator = Negotiator(key, replay=replay, threads=threads, ledger=sink)
    messenger = A2AMessenger(negotiator)
    stack.push_async_callback(messenger.close)
    deals, budget = DealStore(folder / "deals.sqlite"), Budget(folder / "budget.sqlite")
    stack.callback(deals.close)
    stack.callback(budget.close)
    credentials = CredentialStore(folder / "credentials.sqlite")
    stack.callback(credentials.close)
    peers = PeerBook()
    tokens = TokenRegistry((market.token,))
    context = SkillContext(
        agent_did=key.did, agent_address=signer.address, chain_id=market.client.chain_id, tokens=tokens,
        agent_name=name, contracts=market.contracts, chain=market.client, messenger=messenger, peers=peers,
        credentials=credentials, binding_proof=binding_prover(key, market.client.chain_id, signer.address),
        tx_timeout=20.0,
    )  # fmt: skip
    policy = load_policy(PRESETS / f"{name}.yaml", tokens=tokens, names={"issuer": (issuer,)})
    executor = Executor(
        catalog=default_catalog(), context=context, policy=policy, budget=budget, ledger=ledger,
        signer=signer, identity_key=key,
    )  # fmt: skip
    sock, url = listen()
    profile = AgentProfile(name=name, url=url, did=key.did, wallet=signer.address)
    server = AgentServer(negotiator, key, profile, sock=sock)
    stack.callback(sock.close)
    await server.start()
    stack.push_async_callback(server.stop)
    await market.fund(signer.address, usd=100 if name == "buyer" else 0)
    return Side(
        name, key, signer, ledger, executor, negotiator, messenger, deals, peers, server, credentials, sink
    )


@dataclass
class Pair:
    buyer: Side
    seller: Side
    buyer_brain: Buyer
    seller_brain: Seller
    issuer: IdentityKey
    registry: Registry


async def make_pair(
    stack: AsyncExitStack, market: Market, home: Path, *, credential: bool = True, deliver: bool = True
) -> Pair:
    issuer = IdentityKey.generate()
    buyer = await make_side(stack, market, home, "buyer", issuer.did)
    seller = await make_side(stack, market, home, "seller", issuer.did)
    contract = market.contracts["AgentRegistry"]
    assert isinstance(contract, AgentRegistry)
    registry = Registry(contract)
    # The seller registers its DID <-> wallet binding (what the buyer checks its deal signature against).
    await registry.register(seller.signer.inner, seller.key, seller.server.url, ["translation"])
    if credential:
        vc = await issue_credential(issuer, seller.key.did, "VerifiedSupplier", {"service": "translation"})
        seller.credentials.add(vc)
    seller_brain = Seller(
        executor=seller.executor, deals=seller.deals, brain=SELLER_BRAIN, catalog={"translation": ARTIFACT},
        ledger=seller.sink, deliver=deliver,
    )  # fmt: skip
    seller.negotiator.handler = seller_brain
    buyer_brain = Buyer(
        executor=buyer.executor, messenger=buyer.messenger, deals=buyer.deals, brain=BUYER_BRAIN,
        peers=buyer.peers, cap=Decimal("50"), trusted_issuers=[issuer.did], registry=registry,
        ledger=buyer.sink,
    )  # fmt: skip
    buyer.negotiator.handler = buyer_brain
    return Pair(buyer, seller, buyer_brain, seller_brain, issuer, registry)


def escrow_of(market: Market) -> DealEscrow:
    escrow = market.contracts["DealEscrow"]
    assert isinstance(escrow, DealEscrow)
    return escrow


async def test_a_negotiated_deal_is_signed_funded_delivered_and_released(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        buyer, seller = pair.buyer, pair.seller
        record = await pair.buyer_brain.buy(seller.server.url, "translation")
        assert record.state == "released", record.reason
        price = Decimal(record.price)
        assert Decimal("15") <= price <= Decimal("30")
        assert await market.balance(seller.address) == int(price * USD)
        assert await market.balance(buyer.address) == 100 * USD - int(price * USD)
        assert await escrow_of(market).state_of(bytes.fromhex(record.deal_id[2:])) == 2  # Released
        theirs = seller.deals.get(buyer.key.did, record.thid)
        assert theirs is not None
        assert (theirs.state, theirs.price, theirs.deal_id) == ("released", record.price, record.deal_id)
        # Both ledgers hold the messages and the effects.
        for side in (buyer, seller):
            kinds = side.kinds()
            assert "message_in" in kinds
            assert "message_out" in kinds
            assert "rejected" not in kinds
            assert [d["event"] for d in side.entries("deal")][-1] == "released"
        assert (buyer.signer.typed, buyer.signer.transactions) == (1, 3)  # sign; approve, open, release
        assert (seller.signer.typed, seller.signer.transactions) == (1, 0)  # its deal signature only
        buyer_effects = [e for e in buyer.entries("effect") if e["status"] == "done"]
        assert len(buyer_effects) >= 4 + 5  # 4 chain/typed actions and the messages it sent
        seller_effects = [e for e in seller.entries("effect") if e["status"] == "done"]
        assert len(seller_effects) == 2  # present_credential, sign_deal
        types_out = [e["type"] for e in buyer.entries("message_out")]
        assert types_out[0] == "cfp"
        assert types_out[-3:] == ["deal_signature", "funded", "released"]
        bt = buyer.negotiator.thread(seller.key.did, record.thid)
        st = seller.negotiator.thread(buyer.key.did, record.thid)
        assert bt is not None
        assert st is not None
        assert (bt.state, bt.messages) == (st.state, st.messages) == ("released", bt.messages)


async def test_a_seller_without_the_credential_is_declined_before_any_escrow(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, credential=False)
        buyer, seller = pair.buyer, pair.seller
        record = await pair.buyer_brain.buy(seller.server.url, "translation")
        assert record.state == "declined"
        assert "VerifiedSupplier" in record.reason
        declined = [d for d in buyer.entries("deal") if d["event"] == "declined"]
        assert declined
        assert "VerifiedSupplier" in declined[0]["reason"]
        assert buyer.signer.signatures == 0  # nothing signed: no deal, no approval, no escrow
        assert await market.balance(escrow_of(market).address) == 0
        assert not [e for e in buyer.entries("decision") if e.get("intent", {}).get("skill") == "open_escrow"]
        theirs = seller.deals.get(buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "declined"


async def test_the_policy_refuses_to_sign_with_a_seller_whose_credential_the_buyer_did_not_verify(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, credential=False)
        pair.buyer_brain.required_credential = None  # the brain skips the check: the policy still holds
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation")
        assert record.state == "declined"
        assert "no VerifiedSupplier credential" in record.reason
        denied = [e for e in pair.buyer.entries("decision") if e.get("verdict") == "deny"]
        assert denied
        assert denied[0]["intent"]["skill"] == "sign_deal"
        assert pair.buyer.signer.signatures == 0


class ForgingSeller:
    """Wraps the seller's handler: its deal signature is replaced by a stranger's over the same deal."""

    def __init__(self, inner: Seller, chain_id: int, escrow: str) -> None:
        self.inner, self.chain_id, self.escrow = inner, chain_id, escrow
        self.stranger = Account.create()

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        replies = list(await self.inner.on_message(envelope, thread))
        if envelope.type != "deal_signature" or not replies or replies[0].type != "deal_signature":
            return replies
        t = envelope.body["deal"]
        deal = Deal(
            buyer=t["buyer"], seller=t["seller"], token=t["token"], amount=int(Decimal(t["amount"]) * USD),
            terms_hash=bytes.fromhex(t["terms_hash"][2:]), deadline=t["deadline"], nonce=t["nonce"],
        )  # fmt: skip
        signed = Account.sign_typed_data(
            self.stranger.key, full_message=deal_typed_data(deal, self.chain_id, self.escrow)
        )
        body = {**replies[0].body, "signature": "0x" + bytes(signed.signature).hex()}
        return [Reply("deal_signature", body)]


async def test_a_seller_signature_from_another_wallet_is_never_funded(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        escrow = escrow_of(market)
        forger = ForgingSeller(pair.seller_brain, market.client.chain_id, escrow.address)
        pair.seller.negotiator.handler = forger
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation")
        assert record.state == "declined"
        assert forger.stranger.address in record.reason
        assert "registered wallet" in record.reason
        assert pair.buyer.signer.transactions == 0  # no approval, no escrow
        assert await market.balance(escrow.address) == 0
        assert await market.balance(pair.buyer.address) == 100 * USD
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "declined"


async def test_a_deal_not_delivered_by_its_deadline_is_refunded(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, deliver=False)
        buyer = pair.buyer
        pair.buyer_brain.settlement.deal_ttl = 600
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation")
        assert record.state == "funded", record.reason
        escrow = escrow_of(market)
        price = int(Decimal(record.price) * USD)
        assert await market.balance(escrow.address) == price
        assert await watch_deadlines(buyer.executor, buyer.deals, buyer.sink) == []  # not yet
        await market.client.rpc.request("evm_increaseTime", [700])
        await market.client.rpc.request("evm_mine", [])
        refunded = await watch_deadlines(buyer.executor, buyer.deals, buyer.sink)
        assert [r.thid for r in refunded] == [record.thid]
        assert refunded[0].state == "refunded"
        assert await market.balance(buyer.address) == 100 * USD
        assert await escrow.state_of(bytes.fromhex(record.deal_id[2:])) == 3  # Refunded
        assert [d["event"] for d in buyer.entries("deal")][-1] == "refunded"
        assert await watch_deadlines(buyer.executor, buyer.deals) == []  # once only
