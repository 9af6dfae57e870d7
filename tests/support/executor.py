"""Shared parts of the skills / executor / LLM-tool tests (no tests here): an agent rig with a real
ledger, a real budget file, a real signer counted at the key, a peers directory and a recording
messenger (the Messenger protocol: all that skills see of the A2A transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_account import Account

from identity import IdentityKey
from policies import Budget, Counterparty, Credential, Policy, RuleKinds, TokenInfo, parse_policy
from runtime.executor.approvals import ApprovalQueue
from runtime.executor.executor import Executor
from runtime.executor.narrow_signer import binding_prover
from runtime.ledger.ledger import Ledger
from skills import Catalog, Planned, SkillContext, default_catalog
from skills.escrow import DealTerms, SignDeal
from skills.signing import NarrowSigner
from wallet.chain import ChainClient
from wallet.contracts import ContractBinding, bind
from wallet.rpc import Rpc
from wallet.signer import SignedTransaction, Signer

CHAIN_ID = 31337
TUSD_ADDRESS = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
TUSD = TokenInfo(symbol="TUSD", address=TUSD_ADDRESS, decimals=6)
OFFLINE_CONTRACTS = {
    "TestUSD": TUSD_ADDRESS,
    "DealEscrow": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "ActionLogAnchor": "0xCf7Ed3AcCA5a467e9e704C703E8D87F634fB0Fc9",
    "AgentRegistry": "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9",
    "ReputationRegistry": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
    "ValidationRegistry": "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853",
}
ISSUER_DID = IdentityKey.generate().did
SELLER_KEY = IdentityKey.generate()
SELLER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
STRANGER_ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class CountingSigner:
    """A real Signer, counting every signature made with the key (what hostile tests assert on)."""

    def __init__(self, signer: Signer | None = None) -> None:
        self.inner = signer or Signer.from_private_key(Account.create().key)
        self.transactions = 0
        self.typed = 0

    @property
    def address(self) -> str:
        return self.inner.address

    @property
    def signatures(self) -> int:
        return self.transactions + self.typed

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        self.transactions += 1
        return self.inner.sign_transaction(tx)

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        self.typed += 1
        return self.inner.sign_typed_data(full_message)


class Peers:
    """A peers directory from a list of Counterparty records, found by DID, address or name."""

    def __init__(self, *parties: Counterparty) -> None:
        self.parties = list(parties)

    def lookup(self, ref: str) -> Counterparty | None:
        for party in self.parties:
            ids = {party.did, party.name, party.address.lower() if party.address else None}
            if ref in ids or ref.lower() in ids:
                return party
        return None


def seller_party(credentials: bool = True) -> Counterparty:
    creds = (Credential(type="VerifiedSupplier", issuer=ISSUER_DID),) if credentials else ()
    return Counterparty(did=SELLER_KEY.did, address=SELLER_ADDRESS, name="seller", credentials=creds)


class SlowSign(SignDeal):
    """sign_deal that waits for the test before it signs (to pause it mid-run)."""

    name = "slow_sign"
    gate: asyncio.Event
    started: asyncio.Event

    async def run(
        self, ctx: SkillContext, planned: Planned[DealTerms], signer: NarrowSigner
    ) -> dict[str, Any]:
        self.started.set()
        await self.gate.wait()
        return await super().run(ctx, planned, signer)


@dataclass
class RecordingMessenger:
    """Records what it is asked to send; answers {"ok": true}."""

    sent: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    async def send(self, to_did: str, envelope_type: str, thid: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((to_did, envelope_type, thid, body))
        return {"ok": True}


def policy(
    text: str,
    tokens: tuple[TokenInfo, ...] = (TUSD,),
    skills: list[str] | None = None,
    extra_rules: tuple[dict[str, Any], ...] = (),
    rule_kinds: RuleKinds | None = None,
) -> Policy:
    """A compiled policy from YAML text (names resolve to the seller's DID and address)."""
    names = {"seller": (SELLER_KEY.did, SELLER_ADDRESS), "issuer": (ISSUER_DID,)}
    return parse_policy(
        text, tokens=tokens, names=names, skills=skills, extra_rules=extra_rules, rule_kinds=rule_kinds
    )


def offline_contracts(client: ChainClient | None = None) -> dict[str, ContractBinding]:
    """Bindings of the four contracts at fixed addresses on a client that never connects (plans only
    encode calldata)."""
    client = client or ChainClient(Rpc("http://127.0.0.1:9"), CHAIN_ID)
    return {name: bind(client, name, address) for name, address in OFFLINE_CONTRACTS.items()}


@dataclass
class Rig:
    """One agent: executor, its real ledger and budget files, its counted signer and identity key."""

    executor: Executor
    ledger: Ledger
    budget: Budget
    signer: CountingSigner
    key: IdentityKey
    messenger: RecordingMessenger
    context: SkillContext

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Data of the ledger entries after genesis (of one kind), oldest first."""
        return [e.data for e in self.ledger.entries(2) if kind is None or e.kind == kind]


@contextmanager
def make_rig(
    tmp_path: Path,
    policy_text: str,
    *,
    catalog: Catalog | None = None,
    contracts: Mapping[str, ContractBinding] | None = None,
    chain: ChainClient | None = None,
    signer: CountingSigner | None = None,
    peers: Peers | None = None,
    credentials: Any = None,
    approvals: ApprovalQueue | None = None,
    skills: list[str] | None = None,
    tokens: tuple[TokenInfo, ...] = (TUSD,),
    key: IdentityKey | None = None,
    name: str = "buyer",
    extra_rules: tuple[dict[str, Any], ...] = (),
    rule_kinds: RuleKinds | None = None,
    trust: Any = None,
) -> Iterator[Rig]:
    """A rig in `tmp_path`; its ledger and budget are closed afterwards (`trust`: the executor's
    TrustSource for trust rules)."""
    signer = signer or CountingSigner()
    key = key or IdentityKey.generate()
    messenger = RecordingMessenger()
    from policies import TokenRegistry
    from runtime.ledger.anchor import next_anchor

    ledger = Ledger.open(tmp_path / f"{name}-ledger.sqlite", key, signer.address)
    contracts = dict(contracts) if contracts is not None else offline_contracts()
    context = SkillContext(
        agent_did=key.did,
        agent_address=signer.address,
        chain_id=CHAIN_ID,
        tokens=TokenRegistry(tokens),
        agent_name=name,
        contracts=contracts,
        chain=chain,
        messenger=messenger,
        peers=peers if peers is not None else Peers(seller_party()),
        credentials=credentials,
        binding_proof=binding_prover(key, CHAIN_ID, signer.address),
        tx_timeout=20.0,
        anchor_range=partial(next_anchor, ledger, CHAIN_ID, contracts["ActionLogAnchor"].address),
    )
    budget = Budget(tmp_path / f"{name}-budget.sqlite")
    executor = Executor(
        catalog=catalog or default_catalog(),
        context=context,
        policy=policy(policy_text, tokens, skills, extra_rules, rule_kinds),
        budget=budget,
        ledger=ledger,
        signer=signer,
        identity_key=key,
        approvals=approvals,
        trust=trust,
    )
    try:
        yield Rig(executor, ledger, budget, signer, key, messenger, context)
    finally:
        ledger.close()
        budget.close()


def deal(rig: Rig, amount: str = "12", *, seller: str = SELLER_ADDRESS, nonce: int = 1) -> dict[str, Any]:
    """sign_deal arguments: `rig` buys from `seller` for `amount` TUSD (fixed terms and a far deadline)."""
    from eth_utils.crypto import keccak

    return {
        "buyer": rig.signer.address,
        "seller": seller,
        "token": "TUSD",
        "amount": amount,
        "terms_hash": "0x" + keccak(b"terms").hex(),
        "deadline": 2_000_000_000,
        "nonce": nonce,
    }


@dataclass
class Market:
    """The four contracts freshly deployed on a node, a client with an outbox, and TUSD as a token."""

    client: ChainClient
    deployer: Signer
    contracts: dict[str, ContractBinding]
    token: TokenInfo

    async def fund(self, address: str, usd: int = 1000, eth: int = 10) -> None:
        """Give `address` `eth` ETH for gas and mint it `usd` TUSD."""
        await self.client.rpc.request("anvil_setBalance", [address, hex(eth * 10**18)])
        usd_binding = self.contracts["TestUSD"]
        await self.client.transact(self.deployer, usd_binding.build("mint", address, usd * 10**6))

    async def balance(self, address: str) -> int:
        return int(await self.contracts["TestUSD"].call("balanceOf", address))

    @asynccontextmanager
    async def funded_rig(self, tmp_path: Path, policy_text: str, **options: Any) -> AsyncIterator[Rig]:
        """A rig under `policy_text` on this market's contracts, client and TUSD, its wallet funded
        (`options`: more of make_rig's, such as a plugin's `catalog` and `rule_kinds`)."""
        with make_rig(
            tmp_path, policy_text, contracts=self.contracts, chain=self.client, tokens=(self.token,),
            **options,
        ) as rig:  # fmt: skip
            await self.fund(rig.signer.address)
            yield rig


async def open_market(url: str, tmp_path: Path) -> Market:
    """Connect to the node at `url` and deploy the contracts from a fresh funded deployer."""
    from wallet.deploy import contracts_for, deploy_all
    from wallet.outbox import Outbox

    client = await ChainClient.connect(url, outbox=Outbox(tmp_path / "outbox.sqlite"))
    deployer = Signer.from_private_key(Account.create().key)
    await client.rpc.request("anvil_setBalance", [deployer.address, hex(100 * 10**18)])
    result = await deploy_all(client, deployer, tmp_path / "deployments.json")
    contracts = contracts_for(client, result.deployments)
    token = TokenInfo(symbol="TUSD", address=contracts["TestUSD"].address, decimals=6)
    return Market(client, deployer, contracts, token)
