"""One agent process (`sova agent run NAME`): keys, chain, ledger, executor, A2A server, goals, scheduler.

`await Agent(config, config_path, name).start()` unlocks the agent's keys (off the event loop), opens
its chain session and stores under `<home>/agents/<name>/`, builds its executor under its policy,
registers it in AgentRegistry when it is not yet, serves A2A on 127.0.0.1, starts its goals on an
APScheduler `AsyncIOScheduler`, and writes `agent.json` (0600), which tells the supervisor the agent is
ready. `await stop()` undoes all of it in reverse order and removes `agent.json`.

What the process needs and does not make: its keys, gas money and the deployed contracts. The
supervisor (`sova up`) creates, funds and deploys before it spawns agents; without them `start`
raises a SovaError naming what is missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.agent.buy_hooks import accept_checks
from runtime.agent.goals import (
    BuyJob,
    Grant,
    buy_goals,
    deal_price_rules,
    duration_text,
    issue_at_start,
    issue_goals,
    plugin_goal_jobs,
    sell_goals,
    service_tags,
)
from runtime.agent.tasks import llm_decider, task_goals, task_jobs
from runtime.agent.validation_jobs import schedule_validation, validation_routes
from runtime.agent.x402_sales import sell_x402
from runtime.config import Agent as AgentSpec
from runtime.config import AgentsFile, RuleBrain
from runtime.errors import SovaError
from runtime.home import Home
from runtime.secrets import write_private

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    from identity import IdentityKey
    from runtime.a2a.server import AgentServer
    from runtime.agent.goals import PluginGoalJob
    from runtime.agent.parts import AgentParts
    from runtime.agent.tasks import TaskJob
    from runtime.chain.session import ChainSession
    from runtime.executor.executor import Executor
    from runtime.key_handoff import AgentKeys
    from runtime.services.extensions import Extensions
    from runtime.services.offering import Shop
    from runtime.services.service import Services
    from wallet import Signer

log = logging.getLogger(__name__)

READY_FILE = "agent.json"
DEADLINES_EVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class Ready:
    """What `agent.json` says about a serving agent."""

    name: str
    pid: int
    url: str
    did: str
    address: str
    agent_id: int
    role: str
    started_at: float
    operator_url: str = ""


class Agent:
    """The assembly of one agent; see the module docstring."""

    def __init__(
        self,
        config: AgentsFile,
        config_path: Path,
        name: str,
        *,
        say: Callable[[str], None] | None = None,
        anchor_every: timedelta | None = None,
        deadlines_every: timedelta = DEADLINES_EVERY,
        keys: AgentKeys | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.spec: AgentSpec = config.agent(name)
        self.home = Home.for_config(config_path, config)
        self.keys_dir = self.home.keys_dir(config, config_path.parent)
        self.say = say or _print
        self.anchor_every = anchor_every or self.spec.anchor_every  # agents.yaml's, unless a test sets it
        self.deadlines_every = deadlines_every
        self.ready: Ready | None = None
        self.executor: Executor | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.server: AgentServer | None = None
        self.services: Services | None = None
        self.extensions: Extensions | None = None
        self._stack = AsyncExitStack()
        self._jobs: set[asyncio.Task[Any]] = set()
        # Keys `sova up` unlocked and handed over (runtime/key_handoff.py); None: unlock them here.
        self._handed_keys = keys

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ready_file(self) -> Path:
        return self.home.agent_dir(self.name) / READY_FILE

    async def start(self) -> Ready:
        """Bring the agent up (see the module docstring); on failure, what was opened is closed."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the scheduler and the goal runs in flight, the server, then close every store."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        for task in list(self._jobs):
            task.cancel()
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)
        self.ready_file.unlink(missing_ok=True)
        await self._stack.aclose()
        self.ready = None

    # --- start, step by step ------------------------------------------------------------------

    async def _start(self) -> Ready:
        from runtime.chain.provision import key_passphrase
        from runtime.chain.session import chain_session
        from runtime.services.loading import card_services

        spec = self.spec
        # Plugins first: a bad one stops the agent before anything is registered (while scrypt runs).
        if self._handed_keys is not None:
            self._load_plugins()
            signer, key = self._adopt(self._handed_keys)
        else:
            signer, key = await self._unlock(key_passphrase(self.config, self.home))
        session = await self._stack.enter_async_context(chain_session(self.config, self.home))
        folder = self.home.agent_dir(self.name)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        executor, parts = await self._assemble(session, signer, key, folder)
        self.executor = executor

        from runtime.a2a.admission import Admission, registered
        from runtime.a2a.card import AgentProfile
        from runtime.a2a.server import AgentServer, listen

        # `sova up` pins a port for agents configured with port 0, so a restarted agent keeps the
        # endpoint it registered in AgentRegistry.
        sock, url = listen("127.0.0.1", int(os.environ.get("SOVA_AGENT_PORT") or spec.port))
        self._stack.callback(sock.close)
        agent_id = await self._register(session, signer, key, url)
        assert self.services is not None  # loaded with the keys (_load_plugins)
        profile = AgentProfile(
            name=self.name, url=url, did=key.did, wallet=signer.address, chain_id=session.client.chain_id,
            registry=session.contracts["AgentRegistry"].address, agent_id=str(agent_id),
            tokens=("TUSD",), service_tags=tuple(service_tags(spec)), services=card_services(self.services),
        )  # fmt: skip
        await self._issue(executor)
        self._handlers(parts, session, executor)
        gate = Admission(parts.negotiator.threads, known=registered(session.registry))
        self.server = await AgentServer(
            parts.negotiator, key, profile, sock=sock, admission=gate, routes=validation_routes(self)
        ).start()
        self._stack.push_async_callback(self._stop_server)
        self._schedule(parts, session, executor, signer.address)
        operator_url = await self._serve_operator(parts, session, executor, agent_id, url)
        await sell_x402(self, parts, session, executor)
        ready = Ready(
            self.name, os.getpid(), url, key.did, signer.address, agent_id, spec.role, time.time(),
            operator_url,
        )  # fmt: skip
        write_private(self.ready_file, json.dumps(ready.__dict__, indent=2) + "\n")
        self.ready = ready
        self.say(f"agent {self.name} ready at {url} ({key.did}, {signer.address})")
        return ready

    async def _serve_operator(
        self, parts: AgentParts, session: ChainSession, executor: Executor, agent_id: int, url: str
    ) -> str:
        """Serve the operator API on 127.0.0.1 (runtime/operator/start.py); its URL for agent.json."""
        from runtime.operator.start import start_operator

        server = await start_operator(self, parts, session, executor, agent_id, url)
        self._stack.push_async_callback(server.stop)
        return server.url

    async def _stop_server(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def _unlock(self, secret: str) -> tuple[Signer, IdentityKey]:
        from identity import IdentityKeyStore

        identities, key_name = IdentityKeyStore(self.keys_dir), self.spec.key_name
        missing = SovaError(
            f"agent {self.name}: no key {key_name!r} in {self.keys_dir}: create it with "
            f"`sova keys new {key_name}` (or start the fleet with `sova up`)"
        )
        if not identities.exists(key_name):
            raise missing
        # scrypt takes ~0.7 s and 256 MiB each and releases the GIL: both run at once in worker
        # threads while this thread imports what the rest of the start needs (cold start: bench/agents.py).
        # The identity key's scrypt starts first: importing the wallet (eth-account, which imports
        # py_ecc and computes BLS tables at import: ~0.4 s of CPU) then overlaps with it.
        loop = asyncio.get_running_loop()
        identity = loop.run_in_executor(None, identities.unlock, key_name, secret)
        from wallet import Keystore

        wallets = Keystore(self.keys_dir)
        if not wallets.exists(key_name):
            await asyncio.gather(identity, return_exceptions=True)
            raise missing
        wallet = loop.run_in_executor(None, wallets.unlock, key_name, secret)
        try:
            self._load_plugins()
            _preload()
        finally:
            signer, key = await asyncio.gather(wallet, identity)
        return signer, key

    def _load_plugins(self) -> None:
        from runtime.services.loading import agent_extensions

        self.extensions = agent_extensions(self.spec, self.config_path.parent)
        self.services = self.extensions.services

    def _adopt(self, keys: AgentKeys) -> tuple[Signer, IdentityKey]:
        """The keys `sova up` handed over, once checked against the agent's key files (no scrypt)."""
        from identity import IdentityKeyStore
        from runtime.key_handoff import check_keys
        from wallet import Keystore

        self._handed_keys = None  # held by the signer and the key from here on
        wallets, identities = Keystore(self.keys_dir), IdentityKeyStore(self.keys_dir)
        key_name = self.spec.key_name
        if not wallets.exists(key_name) or not identities.exists(key_name):
            raise SovaError(f"agent {self.name}: no key {key_name!r} in {self.keys_dir}: restart `sova up`")
        signer, key = keys.open()
        check_keys(self.name, signer, key, wallets.info(key_name).address, identities.did(key_name))
        _preload()
        return signer, key

    def _names(self) -> dict[str, tuple[str, ...]]:
        """Each agent of agents.yaml whose keys exist: name -> (DID, wallet address), for the policy."""
        from identity import IdentityKeyStore
        from wallet import Keystore

        wallets, identities = Keystore(self.keys_dir), IdentityKeyStore(self.keys_dir)
        names: dict[str, tuple[str, ...]] = {}
        for agent in self.config.agents:
            ids: list[str] = []
            if identities.exists(agent.key_name):
                ids.append(identities.did(agent.key_name))
            if wallets.exists(agent.key_name):
                ids.append(wallets.info(agent.key_name).address)
            if ids:
                names[agent.name] = tuple(ids)
        return names

    async def _assemble(
        self, session: ChainSession, signer: Signer, key: IdentityKey, folder: Path
    ) -> tuple[Executor, AgentParts]:
        from policies import TokenInfo, TokenRegistry, load_policy
        from runtime.agent.parts import assemble, fleet_parties

        tokens = TokenRegistry(
            (TokenInfo(symbol="TUSD", address=session.deployments.address("TestUSD"), decimals=6),)
        )
        policy_path = (self.config_path.parent / self.spec.policy).resolve()
        ext = self.extensions
        assert ext is not None
        names = self._names()
        policy = load_policy(
            policy_path, tokens=tokens, names=names, extra_rules=deal_price_rules(self.spec),
            skills=ext.skill_names(), rule_kinds=ext.rule_kinds,
        )  # fmt: skip
        parts = await assemble(
            self._stack, name=self.name, key=key, signer=signer, folder=folder, chain=session.client,
            contracts=session.contracts, tokens=tokens, policy=policy, skills=self.spec.skills,
            catalog=ext.catalog(), ledger_path=self.home.ledger(self.name),
            credentials_path=self.home.credentials(self.name), fleet=fleet_parties(names, self.name),
        )  # fmt: skip
        return parts.executor, parts

    async def _register(self, session: ChainSession, signer: Signer, key: IdentityKey, url: str) -> int:
        """The agent's id in AgentRegistry: registered, or its record brought up to date (endpoint =
        url, tags = sold services; agent/registration.py)."""
        from runtime.agent.registration import ensure_registered

        assert self.executor is not None
        return await ensure_registered(
            self.executor, session.registry, signer, key, name=self.name, url=url,
            tags=service_tags(self.spec), skills=list(self.spec.skills), say=self.say,
        )  # fmt: skip

    async def _issue(self, executor: Executor) -> None:
        from identity import IdentityKeyStore

        identities = IdentityKeyStore(self.keys_dir)
        grants: list[Grant] = []
        for goal in issue_goals(self.spec):
            for subject in goal.to:
                other = self.config.agent(subject)
                if not identities.exists(other.key_name):
                    self.say(f"issue {goal.type} to {subject}: it has no identity key yet, skipped")
                    continue
                services = [g.service for g in sell_goals(other)]
                claims: dict[str, str | int | bool] = {"service": services[0] if services else "any"}
                grants.append(
                    Grant(goal.type, subject, identities.did(other.key_name), self.home.credentials(subject),
                          claims, duration_text(goal.valid_for.total_seconds()))
                )  # fmt: skip
        if grants:
            await issue_at_start(executor, grants, self.say)

    def _handlers(self, parts: AgentParts, session: ChainSession, executor: Executor) -> None:
        """The negotiator's handler: the Seller when the agent sells, else the (first) Buyer."""
        from runtime.brains.rules import RuleDecider
        from runtime.negotiation.buyer import Buyer, Seller

        assert self.extensions is not None
        strategies, config = self.extensions.strategies, self.spec.brain
        brain = (
            RuleDecider(config, strategies)
            if isinstance(config, RuleBrain)
            else llm_decider(self.spec, self.config_path.parent, executor, parts.sink, strategies)
        )
        trusted, root = self._trusted_issuers(), self.config_path.parent
        parts.accepts.update(accept_checks(self.spec, root))  # every Buyer of the agent runs them
        if sell_goals(self.spec):
            parts.negotiator.handler = Seller(
                executor=executor, deals=parts.deals, brain=brain, offers=self._shop(executor, trusted),
                ledger=parts.sink,
            )  # fmt: skip
        for goal in buy_goals(self.spec):
            buyer = Buyer(
                executor=executor, messenger=parts.messenger, deals=parts.deals, brain=brain,
                peers=parts.peers, cap=Decimal(goal.max_price), trusted_issuers=trusted,
                registry=session.registry, ledger=parts.sink, token=goal.token, accept=parts.accepts,
            )  # fmt: skip
            job = BuyJob(goal, buyer, session.registry, buyer.executor.context.agent_address, self.say, root)
            parts.buyers.append((goal.every, job))
            if parts.negotiator.handler is None:
                parts.negotiator.handler = buyer

    def _shop(self, executor: Executor, trusted: list[str]) -> Shop:
        """The agent's services, each with the context its handler gets: name, DID, the agent's chat
        model when its brain is an LLM one, and a private scratch folder — never a key or the executor."""
        from runtime.config import LlmBrain
        from runtime.services.offering import Shop
        from runtime.services.service import ServiceContext

        brain, llm = self.spec.brain, None
        if isinstance(brain, LlmBrain):
            from runtime.brains.models import chat_model

            llm = chat_model(brain, root=self.config_path.parent)
        context = ServiceContext(self.name, executor.context.agent_did, self._scratch(), llm)

        def resolve(refs: Sequence[str]) -> tuple[str, ...]:
            return tuple(self._issuer_dids(list(refs))) if refs else tuple(trusted)

        assert self.services is not None
        return Shop(self.services, context, resolve)

    def _scratch(self) -> Path:
        """The agent's private scratch folder (services' and plugin goals'), made 0700."""
        scratch = self.home.agent_dir(self.name) / "scratch"
        scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        return scratch

    def _trusted_issuers(self) -> list[str]:
        return self._issuer_dids(self.spec.trusted_issuers)

    def _issuer_dids(self, refs: list[str]) -> list[str]:
        from identity import IdentityKeyStore

        identities = IdentityKeyStore(self.keys_dir)
        trusted: list[str] = []
        for ref in refs:
            if ref.startswith("did:"):
                trusted.append(ref)
                continue
            other = self.config.agent(ref)
            if identities.exists(other.key_name):
                trusted.append(identities.did(other.key_name))
            else:
                self.say(
                    f"warning: trusted issuer {ref} has no identity key yet: its credentials are not trusted"
                )
        return trusted

    def _schedule(self, parts: AgentParts, session: ChainSession, executor: Executor, address: str) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

        from runtime.ledger.anchor import ExecutorAnchorSender, schedule_anchoring
        from runtime.negotiation.settlement import watch_deadlines
        from wallet.contracts import ActionLogAnchor

        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        options: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        for i, (every, job) in enumerate(parts.buyers):
            scheduler.add_job(
                self._tracked, IntervalTrigger(seconds=every.total_seconds()), args=(job,), id=f"buy-{i}",
                name=f"buy {job.goal.service}", next_run_time=_now(), **options,
            )  # fmt: skip
        if parts.buyers or task_goals(self.spec):  # a task's purchases are refunded at their deadline too

            async def deadlines() -> None:
                for record in await watch_deadlines(executor, parts.deals, parts.sink):
                    self.say(f"deal {record.thid} refunded: {record.reason}")

            scheduler.add_job(
                self._tracked, IntervalTrigger(seconds=self.deadlines_every.total_seconds()),
                args=(deadlines,), id="deadlines", name="escrow deadlines", **options,
            )  # fmt: skip
            if parts.buyers:
                self._schedule_resume(scheduler, parts, options)
        assert self.extensions is not None  # plugin goals, llm tasks: every `every` from start, or once
        goals: list[PluginGoalJob | TaskJob] = [
            *plugin_goal_jobs(self.spec, self.extensions, executor, self._scratch(), self.say),
            *task_jobs(self, parts, session, executor),
        ]
        for i, goal in enumerate(goals):
            trigger = None if goal.every is None else IntervalTrigger(seconds=goal.every.total_seconds())
            scheduler.add_job(self._tracked, trigger, args=(goal,), id=f"goal-{i}",
                              name=f"goal {goal.goal.kind}", next_run_time=_now(), **options)  # fmt: skip
        self._watch_chain(scheduler, session, address, options)
        self._expire_deals(scheduler, parts, executor, options)
        schedule_validation(self, scheduler, parts, session, options)  # agent/validation_jobs.py
        anchor = session.contracts.get("ActionLogAnchor")
        if "anchor_log" in self.spec.skills and isinstance(anchor, ActionLogAnchor):
            schedule_anchoring(
                scheduler, parts.ledger, session.client, anchor, ExecutorAnchorSender(executor, address),
                every=self.anchor_every,
            )  # fmt: skip
        scheduler.start()
        self.scheduler = scheduler

    def _watch_chain(
        self, scheduler: AsyncIOScheduler, session: ChainSession, address: str, options: dict[str, Any]
    ) -> None:
        """Re-send what a chain that went back lost (runtime/chain/rollback.py), every few seconds."""
        from apscheduler.triggers.interval import IntervalTrigger

        from runtime.chain.rollback import WATCH_EVERY, resend_lost

        async def watch() -> None:
            report = await resend_lost(session.client, address)
            if report is not None:
                self.say(f"the chain went back: re-sent {len(report.resent)} transaction(s) from the outbox")

        scheduler.add_job(
            self._tracked, IntervalTrigger(seconds=WATCH_EVERY), args=(watch,), id="chain-watch",
            name="chain rollback watch", **options,
        )  # fmt: skip

    def _expire_deals(
        self, scheduler: AsyncIOScheduler, parts: AgentParts, executor: Executor, options: dict[str, Any]
    ) -> None:
        """End the deals that died before any money moved (runtime/negotiation/expiry.py), with the
        deadline watch's pace."""
        from apscheduler.triggers.interval import IntervalTrigger

        from runtime.negotiation.expiry import expire_deals
        from runtime.negotiation.settlement import chain_now

        async def escrow_state(deal_id: str) -> int:
            escrow = executor.context.contract("DealEscrow")
            return int(await escrow.call("stateOf", bytes.fromhex(deal_id.removeprefix("0x"))))

        async def expire() -> None:
            for record in await expire_deals(
                parts.deals, parts.sink, await chain_now(executor), escrow_state
            ):
                self.say(f"deal {record.thid} expired: {record.reason}")

        scheduler.add_job(
            self._tracked, IntervalTrigger(seconds=self.deadlines_every.total_seconds()), args=(expire,),
            id="expire", name="deals without money past their time", **options,
        )  # fmt: skip

    def _schedule_resume(
        self, scheduler: AsyncIOScheduler, parts: AgentParts, options: dict[str, Any]
    ) -> None:
        """Take up the deals a previous run left between funding and release (runtime/negotiation/resume.py):
        at once, then with the deadline watch. Made before any buy job runs, so it finds only those."""
        from apscheduler.triggers.interval import IntervalTrigger

        from runtime.negotiation.resume import DealResumer

        resumer = DealResumer(parts.buyers[0][1].buyer, self.say)
        if resumer.orphans:
            self.say(f"{len(resumer.orphans)} deal(s) left unfinished by the last run: taking them up")
        scheduler.add_job(
            self._tracked, IntervalTrigger(seconds=self.deadlines_every.total_seconds()),
            args=(resumer.tick,), id="resume", name="interrupted deals", next_run_time=_now(), **options,
        )  # fmt: skip

    async def _tracked(self, job: Callable[[], Any]) -> None:
        """Run one scheduled coroutine as a task `stop` can cancel and wait for; never raises."""
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            await job()
        except asyncio.CancelledError:
            # Only `stop` cancels these tasks: a job cut short by a stop is not an error, and
            # re-raising would make APScheduler log it with a traceback.
            return
        except Exception:
            log.exception("job %r failed", job)
        finally:
            if task is not None:
                self._jobs.discard(task)


_PRELOAD = (
    "runtime.a2a.server",
    "runtime.a2a.client",
    "runtime.a2a.card",
    "runtime.chain.session",
    "runtime.executor.executor",
    "runtime.ledger.ledger",
    "runtime.ledger.anchor",
    "runtime.negotiation.buyer",
    "runtime.negotiation.settlement",
    "apscheduler.schedulers.asyncio",
    "skills",
    "wallet.contracts",  # the chain client (aiohttp)
    "runtime.operator.start",
    "uvicorn.protocols.http.h11_impl",
)


def _preload() -> None:
    """Import the modules `_start` uses after the keys are unlocked (~0.5 s), while scrypt runs."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _print(line: str) -> None:
    print(line, flush=True)


def read_ready(path: Path) -> Ready | None:
    """The ready file of an agent, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Ready(**data)
    except (OSError, ValueError, TypeError):
        return None
