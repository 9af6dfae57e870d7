"""Wiring the operator API into a running agent process (called from `Agent._start`).

The operator sees the agent only through `OperatorSite` (what `Agent` offers it), so this package
does not import the agent's: the agent layer sits above the operator one. The agent serves it on
127.0.0.1 at `SOVA_OPERATOR_PORT` (pinned per agent by `sova up`, like the A2A port) or a free port,
behind the fleet's token (created here when the agent runs alone), and writes its URL into
agent.json as `operator_url`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runtime.errors import SovaError

if TYPE_CHECKING:
    from runtime.chain.session import ChainSession
    from runtime.config import Agent as AgentSpec
    from runtime.config import AgentsFile
    from runtime.executor.executor import Executor
    from runtime.home import Home
    from runtime.operator.api import OperatorServer


class OperatorSite(Protocol):
    """What the operator API needs of the agent it serves (runtime.agent.agent.Agent is one)."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> AgentSpec: ...

    @property
    def config(self) -> AgentsFile: ...

    @property
    def config_path(self) -> Path: ...

    @property
    def home(self) -> Home: ...

    @property
    def keys_dir(self) -> Path: ...

    @property
    def say(self) -> Callable[[str], None]: ...


def brain_text(brain: Any) -> str:
    """A short description of an agent's brain for the status page."""
    from runtime.config import LlmBrain

    if isinstance(brain, LlmBrain):
        return f"llm {brain.model}"
    return f"rules ({getattr(brain, 'strategy', '?')})"


async def start_operator(
    agent: OperatorSite, parts: Any, session: ChainSession, executor: Executor, agent_id: int, url: str
) -> OperatorServer:
    """Build the agent's OperatorBackend and serve its operator API; `await server.stop()` ends it."""
    from runtime.a2a.server import listen
    from runtime.config import LlmBrain
    from runtime.operator.api import OperatorServer, create_app
    from runtime.operator.auth import operator_keys
    from runtime.operator.chat import OperatorChat, llm_factory
    from runtime.operator.facts import AgentInfo, OperatorBackend
    from runtime.operator.token import ensure_token

    token = ensure_token(agent.home)
    operators, missing = operator_keys(agent.config, agent.keys_dir)
    for name in missing:
        agent.say(
            f"warning: operator key {name!r} has no keystore in {agent.keys_dir}: its decisions do not count"
        )
    address = executor.context.agent_address
    info = AgentInfo(
        name=agent.name, role=agent.spec.role, did=executor.context.agent_did, address=address,
        chain_id=session.client.chain_id, brain=brain_text(agent.spec.brain), url=url, agent_id=agent_id,
    )  # fmt: skip

    async def balances() -> dict[str, str]:
        wei = await session.client.balance(address)
        out = {"ETH": _units(wei, 18)}
        usd = session.contracts.get("TestUSD")
        if usd is not None:
            out["TUSD"] = _units(int(await usd.call("balanceOf", address)), 6)
        return out

    backend = OperatorBackend(
        info=info, executor=executor, ledger=parts.ledger, operators=operators, deals=parts.deals,
        threads=getattr(parts.negotiator, "threads", None), balances=balances,
    )  # fmt: skip
    brain = agent.spec.brain
    llm = llm_factory(brain, agent.config_path.parent) if isinstance(brain, LlmBrain) else None
    from runtime.operator.purchase_site import make_purchaser

    purchaser = make_purchaser(agent, parts, session, executor)
    chat = OperatorChat(backend, llm, purchaser=purchaser)
    port = int(os.environ.get("SOVA_OPERATOR_PORT") or 0)
    try:
        sock, _ = listen("127.0.0.1", port)
    except OSError as exc:
        raise SovaError(
            f"agent {agent.name}: the operator API cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
            f"another process uses it; stop it, or delete {agent.home.agent_dir(agent.name)}/operator-port"
        ) from None
    server = OperatorServer(create_app(backend, token, chat, purchaser), sock)
    try:
        await server.start()
    except BaseException:
        sock.close()
        raise
    return server


def _units(value: int, decimals: int) -> str:
    return format(Decimal(value).scaleb(-decimals).normalize(), "f")
