"""A buyer and a seller assembled by hand on a real chain, for the settlement tests in tests/chain/."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from pydantic import BaseModel

from identity import CredentialStore, IdentityKey, issue_credential
from policies import TokenRegistry, load_policy
from runtime.a2a.card import AgentProfile
from runtime.a2a.client import A2AMessenger
from runtime.a2a.protocol import Negotiator
from runtime.a2a.server import AgentServer, listen
from runtime.agent.parts import assemble
from runtime.chain.registry import Registry
from runtime.config import RuleBrain
from runtime.executor.executor import Executor
from runtime.ledger.ledger import Ledger
from runtime.ledger.sink import LedgerSink
from runtime.negotiation.buyer import Buyer
from runtime.negotiation.deals import DealStore
from runtime.negotiation.peers import PeerBook
from runtime.negotiation.seller import Seller
from runtime.services import ServiceContext, Services
from runtime.services.loading import card_services
from runtime.services.offering import Shop
from skills import default_catalog
from tests.support.executor import CountingSigner, Market
from tests.support.paths import REPO_ROOT
from wallet.contracts import AgentRegistry, DealEscrow
from wallet.signer import Signer

PRESETS = REPO_ROOT / "policies" / "presets"


class Text(BaseModel):
    text: str


class Translation(BaseModel):
    text: str
    words: int


INPUT = {"text": "hello world"}
"""What the rig's buyer asks `translation` for."""


def translate(text: Text, context: ServiceContext) -> Translation:
    return Translation(text=f"bonjour le monde ({text.text})", words=len(text.text.split()))


def translation(handler: Any = translate, **options: Any) -> Services:
    """The rig seller's services: `translation` at 15 TUSD (the seller's reservation; its target keeps
    SELLER_BRAIN's ratio: 38), with `handler`."""
    services = Services()
    services.service("translation", input=Text, output=Translation, price="15", **options)(handler)
    return services


USD = 10**6


BUYER_BRAIN = RuleBrain(strategy="linear", target="10", reservation="30", rounds=6)


SELLER_BRAIN = RuleBrain(strategy="linear", target="38", reservation="15", rounds=6)


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
    sink: LedgerSink

    @property
    def address(self) -> str:
        return self.signer.address

    def kinds(self) -> list[str]:
        return [e.kind for e in self.ledger.entries()]

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.ledger.entries() if e.kind == kind]


async def make_side(
    stack: AsyncExitStack,
    market: Market,
    home: Path,
    name: str,
    issuer: str,
    services: Services | None = None,
    skills: list[str] | None = None,
) -> Side:
    folder = home / name
    key = IdentityKey.generate()
    signer = CountingSigner(Signer.from_private_key(Account.create().key))
    tokens = TokenRegistry((market.token,))
    policy = load_policy(PRESETS / f"{name}.yaml", tokens=tokens, names={"issuer": (issuer,)})
    parts = await assemble(
        stack, name=name, key=key, signer=signer, folder=folder, chain=market.client,
        contracts=market.contracts, tokens=tokens, policy=policy, tx_timeout=20.0, skills=skills,
    )  # fmt: skip
    ledger, executor, negotiator, messenger = parts.ledger, parts.executor, parts.negotiator, parts.messenger
    deals, peers, credentials, sink = parts.deals, parts.peers, parts.credentials, parts.sink
    sock, url = listen()
    profile = AgentProfile(name=name, url=url, did=key.did, wallet=signer.address,
                           services=card_services(services) if services is not None else ())  # fmt: skip
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
    services: Services


async def make_pair(
    stack: AsyncExitStack, market: Market, home: Path, *, credential: bool = True, deliver: bool = True,
    services: Services | None = None, feedback: bool = False,
) -> Pair:  # fmt: skip
    """A buyer and a seller; `feedback`: the buyer rates each released deal (give_feedback), which
    adds two transactions per deal."""
    issuer = IdentityKey.generate()
    services = services if services is not None else translation()
    skills = None if feedback else [s for s in default_catalog().names() if s != "give_feedback"]
    buyer = await make_side(stack, market, home, "buyer", issuer.did, skills=skills)
    seller = await make_side(stack, market, home, "seller", issuer.did, services)
    contract = market.contracts["AgentRegistry"]
    assert isinstance(contract, AgentRegistry)
    registry = Registry(contract)
    # The seller registers its DID <-> wallet binding (what the buyer checks its deal signature against).
    await registry.register(seller.signer.inner, seller.key, seller.server.url, ["translation"])
    if credential:
        vc = await issue_credential(issuer, seller.key.did, "VerifiedSupplier", {"service": "translation"})
        seller.credentials.add(vc)
    scratch = home / "seller" / "scratch"
    context = ServiceContext("seller", seller.key.did, scratch)
    shop = Shop(services, context, lambda refs: tuple(refs) or (issuer.did,))
    seller_brain = Seller(
        executor=seller.executor, deals=seller.deals, brain=SELLER_BRAIN, offers=shop, ledger=seller.sink,
        deliver=deliver,
    )  # fmt: skip
    seller.negotiator.handler = seller_brain
    buyer_brain = Buyer(
        executor=buyer.executor, messenger=buyer.messenger, deals=buyer.deals, brain=BUYER_BRAIN,
        peers=buyer.peers, cap=Decimal("50"), trusted_issuers=[issuer.did], registry=registry,
        ledger=buyer.sink,
    )  # fmt: skip
    buyer.negotiator.handler = buyer_brain
    return Pair(buyer, seller, buyer_brain, seller_brain, issuer, registry, services)


def escrow_of(market: Market) -> DealEscrow:
    escrow = market.contracts["DealEscrow"]
    assert isinstance(escrow, DealEscrow)
    return escrow
