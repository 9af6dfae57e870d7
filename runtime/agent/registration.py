"""An agent's record in AgentRegistry at start: registered once, then kept current.

A seller registers under the names of the services it sells (its tags), which is how buyers find it
(`agentsWithTag`). When it is already registered — every start after the first — and its tags or
endpoint differ from the record (a service added or dropped in agents.yaml, a new port), it updates
the record (`AgentRegistry.update`), so a service added after the first start is found like the
first ones. Both go through the executor's `register_agent` skill when the agent has it (policy,
ledger), else directly with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from identity import IdentityKey
    from runtime.chain.registry import Registry
    from runtime.executor.executor import Executor
    from wallet import Signer

__all__ = ["ensure_registered"]


async def ensure_registered(
    executor: Executor,
    registry: Registry,
    signer: Signer,
    key: IdentityKey,
    *,
    name: str,
    url: str,
    tags: list[str],
    skills: list[str],
    say: Callable[[str], None],
) -> int:
    """The agent's id in AgentRegistry, registering it (endpoint `url`, `tags`) when it is not, and
    updating its record when its endpoint or tags are not these."""
    existing = await registry.by_wallet(signer.address)
    if existing is not None and existing.did != key.did:
        say(f"warning: {name}'s wallet is registered with {existing.did}, not its DID {key.did}: "
            "its record is left as it is (use a new wallet for this DID)")  # fmt: skip
        return existing.agent_id
    if existing is not None and existing.endpoint == url and sorted(existing.tags) == sorted(tags):
        return existing.agent_id
    update = existing is not None
    what = "updated" if update else "registered"
    if "register_agent" in skills:
        args = {"endpoint": url, "tags": tags, "update": update}
        outcome = await executor.execute("register_agent", args, origin="startup")
        if outcome.ok and outcome.result is not None:
            agent_id = int(outcome.result["agent_id"])
            say(f"{what} {name} in AgentRegistry as agent {agent_id} (tags {tags})")
            return agent_id
        say(f"warning: register_agent was not done ({outcome.message()}): doing it directly")
    else:
        say(f"warning: {name} lacks the register_agent skill: registering directly")
    if update:
        return (await registry.update(signer, key, url, tags)).agent_id
    return (await registry.register(signer, key, url, tags)).agent_id
