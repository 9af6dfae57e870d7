"""What the operator console knows and does about the fleet: the agent list, pause and resume (local
and on-chain), approvals signed with the operator key, and the chat commands the console handles itself.

The console reaches each agent through the agent's operator API (`operator_url` in its `agent.json`),
with the fleet token. Two things need the operator key, which only the supervisor holds: the on-chain
pause switch (`AgentRegistry.pause/unpause`, owner only; the operator deployed the registry) and the
EIP-712 signature on an approval decision (`sign_decision`), which the agent checks against the
operator addresses of agents.yaml. Without the key (a console started on its own) both are refused
with a line that says so.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runtime.config import AgentsFile
from runtime.errors import SovaError, user_message
from runtime.fleet.console_chain import chain_facts
from runtime.fleet.describe import describe_decision, describe_pause
from runtime.fleet.onchain_pause import OnChain, set_paused
from runtime.home import Home
from runtime.operator.client import OperatorApiError, OperatorClient

if TYPE_CHECKING:
    from runtime.chain.session import ChainSession
    from wallet import Signer

STATUS_TIMEOUT = 3.0
AgentStates = Callable[[], Mapping[str, str]]
CHAT_PAUSE = re.compile(r"^\s*pause\b\s*(?P<reason>.*)$", re.IGNORECASE | re.DOTALL)
# The same first words the agent's own chat acts on: any line it would treat as pause or resume
# must be done here, or the on-chain half would be skipped.
CHAT_RESUME = re.compile(r"^\s*(resume|unpause)\b", re.IGNORECASE)
CHAT_DECIDE = re.compile(
    r"^\s*(?P<verb>approve|reject)\s+#?(?P<ref>\S+)\s*(?P<reason>.*)$", re.IGNORECASE | re.DOTALL
)


class ConsoleError(SovaError):
    """A console request that cannot be done; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ConsoleFleet:
    """The console's view of the fleet of one agents.yaml; one per console server, used on its loop."""

    def __init__(
        self,
        config: AgentsFile,
        config_path: Path,
        home: Home,
        token: str,
        operator: Signer | None = None,
        states: AgentStates | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.home = home
        self._token = token
        self.operator = operator
        self._states = states or self._states_from_files
        self._clients: dict[str, OperatorClient] = {}
        self._retired: list[OperatorClient] = []
        self._chain: ChainSession | None = None
        self._stack = AsyncExitStack()
        self._chain_lock = asyncio.Lock()

    async def close(self) -> None:
        for client in [*self._clients.values(), *self._retired]:
            await client.close()
        self._clients.clear()
        self._retired.clear()
        await self._stack.aclose()

    # --- agents ------------------------------------------------------------------------------

    def ready(self, name: str) -> dict[str, Any]:
        """The agent's `agent.json` (empty when it is not serving); unknown names are a 404."""
        if name not in self.names():
            raise ConsoleError(
                f"no agent named {name!r} in this fleet (agents: {', '.join(self.names())})", 404
            )
        try:
            data = json.loads(self.home.ready_file(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def names(self) -> list[str]:
        return [a.name for a in self.config.agents]

    def client(self, name: str) -> OperatorClient:
        """The operator API client of a serving agent; 503 when it is not serving (yet)."""
        url = self.ready(name).get("operator_url")
        if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
            raise ConsoleError(
                f"agent {name} is not serving its operator API (state: {self.state(name)}): "
                "wait for it to start, or see `sova status`",
                503,
            )
        client = self._clients.get(name)
        if client is None or client.base_url != url:  # a restarted agent may have a new port
            if client is not None:
                self._retired.append(client)  # closed with the fleet: a request may still use it
            client = self._clients[name] = OperatorClient(url, self._token, label=f"agent {name}")
        return client

    def state(self, name: str) -> str:
        return self._states().get(name, "stopped")

    def _states_from_files(self) -> dict[str, str]:
        from runtime.pidfile import pid_alive

        states = {}
        for name in self.names():
            pid = self.ready(name).get("pid")
            states[name] = "ready" if isinstance(pid, int) and pid_alive(pid) else "stopped"
        return states

    def address(self, name: str) -> str | None:
        """The agent's wallet address: from `agent.json`, else from its keystore file (no unlock)."""
        address = self.ready(name).get("address")
        if isinstance(address, str):
            return address
        key = self.config.agent(name).key_name
        path = self.home.keys_dir(self.config, self.config_path.parent) / f"{key}.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8")).get("address")
        except (OSError, ValueError, AttributeError):
            return None
        return None if not isinstance(raw, str) else (raw if raw.startswith("0x") else "0x" + raw)

    async def agents(self) -> list[dict[str, Any]]:
        """Every agent of agents.yaml with its state, on-chain pause and trust (console_chain.py), and
        for a serving one its status and budgets."""
        return list(await asyncio.gather(*(self._summary(a.name, a.role) for a in self.config.agents)))

    async def _summary(self, name: str, role: str) -> dict[str, Any]:
        ready = self.ready(name)
        entry: dict[str, Any] = {
            "name": name,
            "role": role,
            "state": self.state(name),
            "paused": None,
            **await chain_facts(self, name),
            "did": ready.get("did"),
            "address": self.address(name),
            "operator_url": ready.get("operator_url"),
            "balances": None,
            "budgets": None,
            "error": None,
        }
        if entry["state"] != "ready" or not ready.get("operator_url"):
            return entry
        try:
            client = self.client(name)
            status, budgets = await asyncio.gather(
                client.request("GET", "/v1/status", timeout=STATUS_TIMEOUT),
                client.request("GET", "/v1/budgets", timeout=STATUS_TIMEOUT),
            )
        except (OperatorApiError, ConsoleError) as exc:
            entry["error"] = str(exc)
            return entry
        if status[0] == 200 and isinstance(status[1], dict):
            entry["paused"] = status[1].get("paused")
            entry["pause_reason"] = status[1].get("pause_reason")
            entry["balances"] = status[1].get("balances")
            entry["deals"] = status[1].get("deals")
        if budgets[0] == 200 and isinstance(budgets[1], dict):
            entry["budgets"] = budgets[1].get("budgets")
        return entry

    # --- the chain ---------------------------------------------------------------------------

    async def chain(self) -> ChainSession:
        """The fleet's chain and contracts, connected on first use and kept until `close`."""
        async with self._chain_lock:
            if self._chain is None:
                from runtime.chain.session import chain_session

                try:
                    self._chain = await self._stack.enter_async_context(chain_session(self.config, self.home))
                except Exception as exc:
                    raise ConsoleError(f"cannot reach the chain: {user_message(exc)[0]}", 502) from None
            return self._chain

    async def _set_paused_onchain(self, name: str, paused: bool) -> OnChain:
        if self.operator is None:
            return OnChain(False, error="this console does not hold the operator key (run it from `sova up`)")
        address = self.address(name)
        if address is None:
            return OnChain(False, error=f"agent {name} has no wallet key yet: run `sova up` once")
        try:
            session = await self.chain()
        except ConsoleError as exc:
            return OnChain(False, error=str(exc))
        return await set_paused(session, self.operator, name, address, paused)

    # --- actions -----------------------------------------------------------------------------

    async def pause(self, name: str, reason: str) -> dict[str, Any]:
        """Pause locally first (the agent's executor refuses the next signature at once), then in
        AgentRegistry (so the escrow refuses the agent's deals even if it ignored its own switch)."""
        self.ready(name)  # an unknown name is a 404 here, not a 502 after both attempts failed
        local, local_error = await self._local(name, "/v1/pause", {"reason": reason})
        onchain = await self._set_paused_onchain(name, True)
        if local_error and not onchain.ok:
            raise ConsoleError(f"could not pause {name}: {local_error}; on-chain: {onchain.error}", 502)
        return {
            "paused": True,
            "reason": reason,
            "local": local if local_error is None else {"error": local_error},
            "onchain": onchain.as_json(),
        }

    async def resume(self, name: str) -> dict[str, Any]:
        """Lift the on-chain pause first (so deals the agent starts can open), then the local one."""
        self.ready(name)  # an unknown name is a 404 here, not a 502 after both attempts failed
        onchain = await self._set_paused_onchain(name, False)
        local, local_error = await self._local(name, "/v1/resume", {})
        if local_error and not onchain.ok:
            raise ConsoleError(f"could not resume {name}: {local_error}; on-chain: {onchain.error}", 502)
        return {
            "paused": False,
            "local": local if local_error is None else {"error": local_error},
            "onchain": onchain.as_json(),
        }

    async def _local(self, name: str, path: str, body: dict[str, Any]) -> tuple[Any, str | None]:
        try:
            return await self.client(name).post(path, body), None
        except (OperatorApiError, ConsoleError) as exc:
            return None, str(exc)

    async def decide(self, name: str, ref: str, decision: str, reason: str) -> tuple[int, Any]:
        """Approve or reject approval `ref` (its id or its number) of agent `name`, signed by the
        operator key; the agent's answer (status, JSON) is passed on as it is."""
        from runtime.operator.auth import sign_decision

        if decision not in ("approve", "reject"):
            raise ConsoleError(f"unknown decision {decision!r}: use approve or reject", 404)
        if self.operator is None:
            raise ConsoleError(
                "this console does not hold the operator key, so it cannot sign decisions: "
                "use the console of `sova up`",
                403,
            )
        client = self.client(name)
        listing = await client.get("/v1/approvals")
        approvals = listing.get("approvals", []) if isinstance(listing, dict) else []
        match = next((a for a in approvals if ref in (str(a.get("id")), str(a.get("number")))), None)
        if match is None:
            pending = ", ".join(f"#{a.get('number')}" for a in approvals if a.get("state") == "pending")
            raise ConsoleError(
                f"agent {name} has no approval {ref!r} (pending: {pending or 'none'}): "
                "see the approvals list",
                404,
            )
        address = self.address(name)
        chain = await self.chain()
        approval_id = str(match["id"])
        verdict: Literal["approve", "reject"] = "approve" if decision == "approve" else "reject"
        signature = sign_decision(
            self.operator, address or "", approval_id, verdict, reason, chain.client.chain_id
        )
        body = {"reason": reason, "signature": signature, "approver": self.operator.address}
        return await client.request("POST", f"/v1/approvals/{approval_id}/{decision}", json_body=body)

    async def chat(self, name: str, text: str) -> str:
        """One chat line: pause/resume/approve/reject are done here (they need the operator key);
        anything else goes to the agent's own chat."""
        if (m := CHAT_RESUME.match(text)) is not None:
            return describe_pause(name, await self.resume(name))
        if (m := CHAT_PAUSE.match(text)) is not None:
            return describe_pause(
                name, await self.pause(name, m["reason"].strip() or "paused by the operator")
            )
        if (m := CHAT_DECIDE.match(text)) is not None:
            verb = m["verb"].lower()
            try:
                ref = m["ref"].rstrip(".,;:!?")
                status, body = await self.decide(name, ref, verb, m["reason"].strip())
            except (ConsoleError, OperatorApiError) as exc:
                return f"not done: {exc}"
            if status >= 400:
                return f"not done: {body.get('error') if isinstance(body, dict) else body}"
            return describe_decision(verb, body)
        answer = await self.client(name).post("/v1/chat", {"text": text})
        reply = answer.get("reply") if isinstance(answer, dict) else None
        return reply if isinstance(reply, str) else f"agent {name} gave no reply"
