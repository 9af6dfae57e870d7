"""Contract bindings over the committed artifacts: encode calls, decode results, events and errors.

`ContractBinding.build(fn, *args)` gives a transaction dict for `ChainClient.send`/`transact`; `call`
runs a view function. The typed classes below name the functions the rest of Sova uses, so a typo is
a mypy error rather than a runtime one. Reverts come back as TransactionReverted with the contract's
custom error decoded (`DealExpired()`, `ERC20InsufficientBalance(0x…, 0, 5)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wallet.abi import checksum, decode_event, decode_values, encode_args, selector
from wallet.artifacts import load_artifact
from wallet.chain import ChainClient
from wallet.eip3009 import TransferAuthorization, split_signature
from wallet.errors import ChainError
from wallet.metadata import registration_uri, sova_metadata
from wallet.receipts import Receipt
from wallet.signer import Signer
from wallet.typed_data import Deal


class ContractBinding:
    """One deployed contract: its name, address and ABI, on one client."""

    def __init__(
        self, client: ChainClient, name: str, address: str, abi: Sequence[Mapping[str, Any]]
    ) -> None:
        self.client = client
        self.name = name
        self.address = checksum(address)
        self.abi = list(abi)
        self._functions: dict[str, list[Mapping[str, Any]]] = {}
        self._events: dict[str, Mapping[str, Any]] = {}
        for entry in self.abi:
            if entry.get("type") == "function":
                self._functions.setdefault(str(entry["name"]), []).append(entry)
            elif entry.get("type") == "event":
                self._events[str(entry["name"])] = entry
        client.register_abi(self.abi)

    @classmethod
    def from_artifact(cls, client: ChainClient, name: str, address: str) -> ContractBinding:
        return cls(client, name, address, load_artifact(name).abi)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name} at {self.address})"

    def function(self, fn: str, nargs: int) -> Mapping[str, Any]:
        """The ABI entry of `fn` taking `nargs` arguments."""
        for entry in self._functions.get(fn, []):
            if len(entry.get("inputs", [])) == nargs:
                return entry
        known = ", ".join(sorted(self._functions)) or "none"
        raise ChainError(f"{self.name} has no function {fn} with {nargs} argument(s); functions: {known}")

    def encode(self, fn: str, *args: Any) -> bytes:
        """Calldata: selector and ABI-encoded arguments."""
        entry = self.function(fn, len(args))
        try:
            return selector(entry) + encode_args(entry.get("inputs", []), args)
        except Exception as exc:
            raise ChainError(f"bad arguments for {self.name}.{fn}: {type(exc).__name__}: {exc}") from None

    def build(self, fn: str, *args: Any, value: int = 0, gas: int | None = None) -> dict[str, Any]:
        """A transaction dict calling `fn(*args)`, ready for `ChainClient.send` / `transact`."""
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(fn, *args), "value": value}
        if gas is not None:
            tx["gas"] = gas
        return tx

    async def call(self, fn: str, *args: Any, sender: str | None = None, block: str | int = "latest") -> Any:
        """Run a view (or simulate any) function: its single output, a tuple of several, or None."""
        entry = self.function(fn, len(args))
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(fn, *args)}
        if sender is not None:
            tx["from"] = sender
        data = await self.client.call(tx, block)
        outputs = entry.get("outputs", [])
        values = decode_values(outputs, data)
        if not outputs:
            return None
        return values[0] if len(values) == 1 else values

    async def transact(
        self,
        signer: Signer,
        fn: str,
        *args: Any,
        value: int = 0,
        purpose: str = "",
        timeout: float = 120.0,  # noqa: ASYNC109 - passed on to ChainClient.wait
    ) -> Receipt:
        """Send `fn(*args)` from `signer` and wait for its receipt."""
        tx = self.build(fn, *args, value=value)
        return await self.client.transact(signer, tx, purpose=purpose or f"{self.name}.{fn}", timeout=timeout)

    def decode_error(self, data: bytes) -> str | None:
        """Revert data as `ErrorName(args…)` by this contract's ABI (or Error/Panic), else None."""
        return self.client.errors.decode(data)

    def events(self, receipt: Receipt, event: str) -> list[dict[str, Any]]:
        """The decoded `event` logs this contract emitted in `receipt`."""
        abi = self._events.get(event)
        if abi is None:
            raise ChainError(f"{self.name} has no event {event}; events: {', '.join(sorted(self._events))}")
        out = []
        for log in receipt.logs:
            if checksum(str(log.get("address"))) != self.address:
                continue
            decoded = decode_event(abi, log)
            if decoded is not None:
                out.append(decoded)
        return out


class TestUSD(ContractBinding):
    """The local ERC-20 (6 decimals, EIP-2612 permit, EIP-3009 authorizations, owner mints)."""

    __test__ = False  # not a pytest test class, despite its name

    async def balance_of(self, account: str) -> int:
        return int(await self.call("balanceOf", account))

    async def allowance(self, owner: str, spender: str) -> int:
        return int(await self.call("allowance", owner, spender))

    async def decimals(self) -> int:
        return int(await self.call("decimals"))

    def mint_tx(self, to: str, amount: int) -> dict[str, Any]:
        return self.build("mint", to, amount)

    def transfer_tx(self, to: str, amount: int) -> dict[str, Any]:
        return self.build("transfer", to, amount)

    def approve_tx(self, spender: str, amount: int) -> dict[str, Any]:
        return self.build("approve", spender, amount)

    async def authorization_state(self, authorizer: str, nonce: bytes) -> bool:
        """Whether `authorizer`'s EIP-3009 `nonce` is used or cancelled."""
        return bool(await self.call("authorizationState", authorizer, nonce))

    def transfer_with_authorization_tx(self, auth: TransferAuthorization, signature: bytes) -> dict[str, Any]:
        """EIP-3009 `transferWithAuthorization(..., v, r, s)`: anyone may submit it."""
        return self.build("transferWithAuthorization", *auth.args(), *split_signature(signature))

    def receive_with_authorization_tx(self, auth: TransferAuthorization, signature: bytes) -> dict[str, Any]:
        """EIP-3009 `receiveWithAuthorization(..., v, r, s)`: only the payee may submit it."""
        return self.build("receiveWithAuthorization", *auth.args(), *split_signature(signature))

    def cancel_authorization_tx(self, authorizer: str, nonce: bytes, signature: bytes) -> dict[str, Any]:
        """EIP-3009 `cancelAuthorization(authorizer, nonce, v, r, s)`."""
        return self.build("cancelAuthorization", authorizer, nonce, *split_signature(signature))


class AgentRegistry(ContractBinding):
    """ERC-8004 Identity Registry (agents as ERC-721 tokens, agent URI, metadata, `agentWallet`) with
    Sova's lookups by wallet, DID and tag, the DID binding, the on-chain pause switch, revocation."""

    async def agent_id_of(self, wallet: str) -> int:
        return int(await self.call("agentIdOf", wallet))

    async def is_paused(self, wallet: str) -> bool:
        return bool(await self.call("isPaused", wallet))

    async def binding_digest(self, wallet: str) -> bytes:
        return bytes(await self.call("bindingDigest", wallet))

    def register_tx(self, did: str, endpoint: str, tags: list[str], did_proof: bytes) -> dict[str, Any]:
        """Sova's shorthand `register(did, endpoint, tags, didProof)` (no agent URI)."""
        return self.build("register", did, endpoint, tags, did_proof)

    def register_agent_tx(self, agent_uri: str, metadata: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
        """ERC-8004 `register(agentURI, MetadataEntry[])`."""
        return self.build("register", agent_uri, [(key, value) for key, value in metadata])

    def register_sova_tx(
        self, did: str, endpoint: str, tags: Sequence[str], did_proof: bytes
    ) -> dict[str, Any]:
        """ERC-8004 `register` of a Sova agent: agent URI = its registration file under `endpoint`,
        metadata = `sova_metadata(...)`."""
        return self.register_agent_tx(
            registration_uri(endpoint), sova_metadata(did, endpoint, tags, did_proof)
        )

    async def agent_uri(self, agent_id: int) -> str:
        """The agent URI (ERC-721 `tokenURI`) of `agent_id`."""
        return str(await self.call("tokenURI", agent_id))

    async def metadata(self, agent_id: int, key: str) -> bytes:
        """The metadata entry `key` of `agent_id` (empty when unset)."""
        return bytes(await self.call("getMetadata", agent_id, key))

    async def agent_wallet(self, agent_id: int) -> str:
        """The `agentWallet` of `agent_id` (the zero address when unset or cleared by a transfer)."""
        return str(await self.call("getAgentWallet", agent_id))

    def set_metadata_tx(self, agent_id: int, key: str, value: bytes) -> dict[str, Any]:
        return self.build("setMetadata", agent_id, key, value)

    def set_agent_uri_tx(self, agent_id: int, agent_uri: str) -> dict[str, Any]:
        return self.build("setAgentURI", agent_id, agent_uri)

    def set_agent_wallet_tx(
        self, agent_id: int, wallet: str, deadline: int, signature: bytes
    ) -> dict[str, Any]:
        """`setAgentWallet`: `signature` is the new wallet's over `agent_wallet_typed_data(...)`."""
        return self.build("setAgentWallet", agent_id, wallet, deadline, signature)

    def pause_tx(self, wallet: str) -> dict[str, Any]:
        return self.build("pause", wallet)

    def unpause_tx(self, wallet: str) -> dict[str, Any]:
        return self.build("unpause", wallet)


class DealEscrow(ContractBinding):
    """Deals opened with both parties' EIP-712 signatures; release, refund, cancel (the seller's refund)."""

    async def deal_id(self, deal: Deal) -> bytes:
        return bytes(await self.call("dealId", deal.as_tuple()))

    async def state_of(self, deal_id: bytes) -> int:
        return int(await self.call("stateOf", deal_id))

    async def arbiter(self) -> str:
        return str(await self.call("arbiter"))

    def open_tx(self, deal: Deal, buyer_sig: bytes, seller_sig: bytes) -> dict[str, Any]:
        return self.build("open", deal.as_tuple(), buyer_sig, seller_sig)

    def release_tx(self, deal: Deal) -> dict[str, Any]:
        return self.build("release", deal.as_tuple())

    def refund_tx(self, deal: Deal) -> dict[str, Any]:
        return self.build("refund", deal.as_tuple())


class ActionLogAnchor(ContractBinding):
    """Merkle roots of agents' action logs, and on-chain proof checks."""

    def anchor_tx(self, root: bytes, from_seq: int, to_seq: int) -> dict[str, Any]:
        return self.build("anchor", root, from_seq, to_seq)

    async def verify(self, root: bytes, leaf: bytes, proof: list[bytes]) -> bool:
        return bool(await self.call("verify", root, leaf, proof))


BINDINGS: dict[str, type[ContractBinding]] = {
    "TestUSD": TestUSD,
    "AgentRegistry": AgentRegistry,
    "DealEscrow": DealEscrow,
    "ActionLogAnchor": ActionLogAnchor,
}


def bind(client: ChainClient, name: str, address: str) -> ContractBinding:
    """The typed binding of contract `name` at `address`."""
    from wallet.trust import TRUST_BINDINGS  # it builds on ContractBinding: imported here, not above

    kind = BINDINGS.get(name) or TRUST_BINDINGS.get(name, ContractBinding)
    return kind(client, name, address, load_artifact(name).abi)


async def deploy_contract(
    client: ChainClient,
    signer: Signer,
    name: str,
    *args: Any,
    timeout: float = 120.0,  # noqa: ASYNC109 - passed on to ChainClient.wait
) -> ContractBinding:
    """Deploy `name` from its artifact with constructor `args`; its typed binding."""
    artifact = load_artifact(name)
    ctor: dict[str, Any] = next((e for e in artifact.abi if e.get("type") == "constructor"), {"inputs": []})
    data = bytes.fromhex(artifact.bytecode.removeprefix("0x")) + encode_args(ctor.get("inputs", []), args)
    receipt = await client.transact(signer, {"data": data}, purpose=f"deploy {name}", timeout=timeout)
    if receipt.contract_address is None:
        raise ChainError(f"deploying {name} gave no contract address (tx {receipt.tx_hash_hex})")
    return bind(client, name, receipt.contract_address)
