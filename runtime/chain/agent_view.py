"""One registered agent as ERC-8004's registries describe it, for `sova registry show` and the console:
identity (id, owner, agentWallet, agent URI, DID, endpoint, tags, whether the DID binding verifies),
paid reputation, settled deals and validations."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runtime.chain.registry import Registry
from runtime.errors import SovaError

if TYPE_CHECKING:
    from wallet import ContractBinding
    from wallet.contracts import AgentRegistry

__all__ = ["MAX_VALIDATIONS", "UnknownAgent", "agent_view", "find_agent_id", "trust_summary"]

MAX_VALIDATIONS = 20
"""The most recent validation requests a view lists (the summary counts them all)."""

ZERO = "0x" + "0" * 40


class UnknownAgent(SovaError):
    """No agent has that id, wallet or DID in the registry."""


async def find_agent_id(registry: Registry, ref: str) -> int:
    """The agent id of `ref`: a decimal id, a 0x wallet or a DID; UnknownAgent when none is registered."""
    contract = registry.contract
    if ref.isdigit():
        agent_id, total = int(ref), int(await contract.call("totalAgents"))
        if 1 <= agent_id <= total:
            return agent_id
        have = f"ids 1-{total}" if total else "no agents yet"
        raise UnknownAgent(f"no agent {ref} in AgentRegistry {contract.address} ({have})")
    if ref.startswith("0x"):
        found = int(await contract.agent_id_of(ref))
    else:
        found = int(await contract.call("agentIdOfDid", ref))
    if not found:
        raise UnknownAgent(
            f"{ref} is not registered in AgentRegistry {contract.address} (an agent registers when it "
            "starts: `sova up`; a transferred agent has no wallet until it is proved again)"
        )
    return found


async def agent_view(contracts: Mapping[str, ContractBinding], agent_id: int) -> dict[str, Any]:
    """Everything the registries say of `agent_id`, JSON-ready (reputation/validations absent when
    the chain has no such registry)."""
    from identity import BindingError

    agents: AgentRegistry = contracts["AgentRegistry"]  # type: ignore[assignment]
    registry = Registry(agents)
    record = await registry.record(agent_id)
    wallet = str(await agents.call("getAgentWallet", agent_id))
    binding = "ok"
    if wallet == ZERO:
        binding = "no agentWallet (a transferred agent until the new owner proves one)"
    else:
        try:
            await registry.verify_binding(record.did, wallet)
        except BindingError as exc:
            binding = str(exc)
    view: dict[str, Any] = {
        "agent_id": agent_id,
        "owner": str(await agents.call("ownerOf", agent_id)),
        "agent_wallet": None if wallet == ZERO else wallet,
        "uri": str(await agents.call("tokenURI", agent_id)),
        "did": record.did,
        "endpoint": record.endpoint,
        "tags": list(record.tags),
        "binding": binding,
    }
    view.update(await trust_summary(contracts, agent_id, latest=MAX_VALIDATIONS))
    return view


async def trust_summary(
    contracts: Mapping[str, ContractBinding], agent_id: int, *, latest: int = 0
) -> dict[str, Any]:
    """`reputation` (paid feedback over every client, settled deals, clients) and `validations`
    (answered, average, requests, the `latest` ones in full) of `agent_id`; a registry the chain
    lacks is left out."""
    view: dict[str, Any] = {}
    reputation = contracts.get("ReputationRegistry")
    if reputation is not None:
        count, value, decimals = await reputation.call("getSummary", agent_id, [], "", "")
        view["reputation"] = {
            "count": int(count),
            "value": str(Decimal(int(value)).scaleb(-int(decimals))),
            "settled_deals": int(await reputation.call("settledDeals", agent_id)),
            "clients": len(await reputation.call("getClients", agent_id)),
        }
    validation = contracts.get("ValidationRegistry")
    if validation is not None:
        view["validations"] = await _validations(validation, agent_id, latest)
    return view


async def _validations(validation: ContractBinding, agent_id: int, latest: int) -> dict[str, Any]:
    count, average = await validation.call("getSummary", agent_id, [], "")
    hashes = list(await validation.call("getAgentValidations", agent_id))
    requests = []
    for request_hash in hashes[-latest:] if latest else ():
        validator, _, response, _, tag, updated = await validation.call("getValidationStatus", request_hash)
        requests.append({
            "request_hash": "0x" + bytes(request_hash).hex(), "validator": str(validator),
            "response": int(response), "tag": str(tag), "last_update": int(updated),
        })  # fmt: skip
    return {"answered": int(count), "average": int(average), "requests": len(hashes), "latest": requests}
