"""Agent-to-agent messaging: signed negotiation round trips between two agents on loopback.

Each side is its own OS process; the server side is a real uvicorn server on a free 127.0.0.1 port.

    sova          buyer sends a signed `counter`, the seller verifies it (signature, `to`, dates, nonce in
                  its SQLite replay store), runs the thread's state machine, saves the thread (SQLite),
                  answers a signed `counter`, which the buyer verifies the same way: 2 signed messages
                  per round trip. Ledger: an in-memory sink (what this bench measures is the protocol).
    sova+ledger   the same with each agent's real ledger (runtime.ledger.ledger: SQLite, fsync per commit):
                  4 entries, hash-chained and signed, per round trip. Informational: its cost is the
                  ledger's (bench/ledger.py), and it is bounded by the disk's fsync latency.
    a2a-sdk       baseline: plain a2a-sdk 1.3, DefaultRequestHandler + an AgentExecutor answering a text
                  message, a2a-sdk's Client sending one; nothing signed.
    uAgents       baseline: two Fetch.ai uAgents (their messages are signed envelopes too) ping-pong; a
                  round trip is two HTTP deliveries. Runs with the interpreter in $SOVA_UAGENTS_PYTHON or
                  .venv-uagents/bin/python (uagents pins protobuf<6, which a2a-sdk's does not fit beside).

Round trips are sequential (one in flight). Each configuration runs `rounds` times, interleaved, and the
round with the median throughput is reported. Targets apply to the `sova` row against `a2a-sdk`.

Prints a table, writes bench/results/messages.txt, exits 1 when a target is missed.

Usage: .venv/bin/python -P bench/messages.py [--quick | --smoke]
    --smoke: a few round trips per configuration, one round, targets not checked, the results file
    left alone; uAgents runs only when its interpreter is already there (`make bench-smoke`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "messages.txt"
RATIO_TARGET = 1.0
NO_ADMISSION = "sova-no-adm"
ADMISSION_TARGET = 0.95
"""sova (admission on) against sova-no-adm in the same run: at most 5 % slower (issue 13)."""
P50_TARGET_MS = 4.0
THREAD_LENGTH = 100  # round trips per negotiation thread (a cfp opens each)
WARM_UP = 20  # round trips before any is measured: connections, caches


@dataclass
class Run:
    """One measured configuration: round-trip latencies in seconds (sequential), or why it did not run."""

    name: str
    latencies: list[float]
    note: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / sum(self.latencies) if self.latencies else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


# ----------------------------------------------------------------------------- child processes


def serve_forever(url: str, stop: Any) -> None:
    """Print our URL for the parent, then serve until the parent closes our stdin."""
    print(url, flush=True)
    sys.stdin.read()
    stop()


async def sova_server(home: str, ledger_kind: str) -> None:
    """The seller: an A2A server whose handler answers every counter with a counter."""
    from runtime.a2a.admission import Admission
    from runtime.a2a.card import AgentProfile
    from runtime.a2a.server import AgentServer, listen

    negotiator, key, close = make_negotiator(Path(home), "seller", ledger_kind)
    sock, url = listen()
    profile = AgentProfile(name="seller", url=url, did=key.did, wallet="0x" + "ab" * 20)
    # Admission control as an agent has it (the buyer counts as registered: no chain here).
    gate = None if os.environ.get("SOVA_BENCH_NO_ADMISSION") else Admission(negotiator.threads)
    server = await AgentServer(negotiator, key, profile, sock=sock, admission=gate).start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, serve_forever, url, lambda: loop.call_soon_threadsafe(done.set))
    await done.wait()
    await server.stop()
    close()


def make_negotiator(home: Path, name: str, ledger_kind: str) -> tuple[Any, Any, Any]:
    """An agent's protocol side with real replay and thread stores; the ledger real or in memory."""
    from identity import IdentityKey, ReplayStore
    from runtime.a2a.handler import Reply, ScriptedHandler
    from runtime.a2a.protocol import Negotiator
    from runtime.a2a.threads import ThreadStore
    from runtime.ledger.ledger import Ledger

    key = IdentityKey.generate()
    replay = ReplayStore(home / name / "replay.sqlite")
    threads = ThreadStore(home / name / "threads.sqlite")
    closers = [replay.close, threads.close]
    sink: Any
    if ledger_kind == "real":
        ledger = Ledger.open(home / name / "ledger.sqlite", key, "0x" + "ab" * 20)
        closers.append(ledger.close)
        sink = ledger
    else:
        from runtime.ledger.sink import MemorySink

        sink = MemorySink()
    handler = ScriptedHandler({
        "cfp": Reply("propose", {"price": "100"}),
        "counter": lambda env, thread: Reply("counter", {"price": str(int(env.body["price"]) + 1)}),
    })  # fmt: skip
    negotiator = Negotiator(key, replay=replay, threads=threads, ledger=sink, handler=handler)
    return negotiator, key, lambda: [c() for c in reversed(closers)]


def a2a_server() -> None:
    """Plain a2a-sdk: DefaultRequestHandler and an executor that answers each message with one."""
    import uvicorn
    from a2a.server.agent_execution import AgentExecutor
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types import a2a_pb2 as a2a
    from starlette.applications import Starlette

    from runtime.a2a.server import listen

    class Echo(AgentExecutor):
        async def execute(self, context: Any, event_queue: Any) -> None:
            answer = a2a.Message(message_id=uuid.uuid4().hex, role=a2a.ROLE_AGENT)
            answer.parts.add().text = "ok"
            await event_queue.enqueue_event(answer)

        async def cancel(self, context: Any, event_queue: Any) -> None:
            return None

    sock, url = listen()
    card = plain_card(url)
    handler = DefaultRequestHandler(agent_executor=Echo(), task_store=InMemoryTaskStore(), agent_card=card)
    app = Starlette(routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    loop = asyncio.new_event_loop()
    loop.run_in_executor(None, serve_forever, url, lambda: setattr(server, "should_exit", True))
    loop.run_until_complete(server.serve(sockets=[sock]))


def plain_card(url: str) -> Any:
    from a2a.types import a2a_pb2 as a2a

    return a2a.AgentCard(
        name="echo", description="echo", version="1",
        supported_interfaces=[
            a2a.AgentInterface(url=url + "/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=a2a.AgentCapabilities(streaming=False), default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[a2a.AgentSkill(id="echo", name="echo", description="echo", tags=["echo"])],
    )  # fmt: skip


UAGENTS_SCRIPT = r"""
import asyncio, json, os, sys, time
from uagents import Agent, Context, Model
from uagents.crypto import Identity
from uagents.registration import AgentRegistrationPolicy
from uagents.resolver import RulesBasedResolver

class Ping(Model):
    n: int

class Pong(Model):
    n: int

class NoRegistration(AgentRegistrationPolicy):  # offline: no Almanac
    async def register(self, *args, **kwargs):
        return None

role, port, peer_port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
seed = lambda r: f"sova bench uagents {r} seed 0001"
peer = Identity.from_seed(seed("initiator" if role == "responder" else "responder"), 0).address
agent = Agent(name=role, seed=seed(role), port=port, endpoint=[f"http://127.0.0.1:{port}/submit"],
              resolve=RulesBasedResolver({peer: f"http://127.0.0.1:{peer_port}/submit"}),
              registration_policy=NoRegistration(), enable_agent_inspector=False, publish_agent_details=False,
              network="testnet")
if role == "responder":
    @agent.on_message(model=Ping)
    async def on_ping(ctx: Context, sender: str, msg: Ping):
        await ctx.send(sender, Pong(n=msg.n))
else:
    got = {}

    @agent.on_message(model=Pong)
    async def on_pong(ctx: Context, sender: str, msg: Pong):
        got["event"].set()

    @agent.on_event("startup")
    async def start(ctx: Context):
        async def run():
            await asyncio.sleep(1.0)
            lat = []
            for i in range(n + 20):
                got["event"] = asyncio.Event()
                t = time.perf_counter()
                await ctx.send(peer, Ping(n=i))
                await asyncio.wait_for(got["event"].wait(), 10)
                if i >= 20:
                    lat.append(time.perf_counter() - t)
            print(json.dumps(lat), flush=True)
            os._exit(0)
        asyncio.get_running_loop().create_task(run())
agent.run()
"""


# ----------------------------------------------------------------------------- the parent


class Child:
    """A server in its own process; its URL is the first line it prints. Closing stdin stops it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"{args[0]} did not start")

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def run_sova(n: int, ledger_kind: str, home: Path, *, admission: bool = True) -> list[float]:
    from runtime.a2a.client import A2AMessenger

    child = Child(
        "--serve-sova", str(home), ledger_kind, env={} if admission else {"SOVA_BENCH_NO_ADMISSION": "1"}
    )
    buyer, _, close = make_negotiator(home, "buyer", ledger_kind)
    latencies: list[float] = []
    try:
        async with A2AMessenger(buyer) as messenger:
            card = await messenger.connect(child.url)
            thid = ""
            for i in range(n + WARM_UP):
                if i % THREAD_LENGTH == 0:
                    thid = uuid.uuid4().hex
                    kind, body = "cfp", {"item": "bench"}
                else:
                    kind, body = "counter", {"price": str(i)}
                start = time.perf_counter()
                answer = await messenger.deliver(card.endpoint, card.did, kind, thid, body)
                elapsed = time.perf_counter() - start
                if len(answer.replies) != 1:
                    raise RuntimeError(f"round trip {i}: expected one signed reply, got {answer}")
                if i >= WARM_UP:
                    latencies.append(elapsed)
    finally:
        close()
        child.stop()
    return latencies


async def run_a2a(n: int) -> list[float]:
    import httpx
    from a2a.client import ClientConfig, ClientFactory
    from a2a.types import a2a_pb2 as a2a

    child = Child("--serve-a2a")
    latencies: list[float] = []
    try:
        async with httpx.AsyncClient() as http:
            client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(
                plain_card(child.url)
            )
            for i in range(n + WARM_UP):
                message = a2a.Message(message_id=uuid.uuid4().hex, role=a2a.ROLE_USER)
                message.parts.add().text = f"counter {i}"
                start = time.perf_counter()
                events = [e async for e in client.send_message(a2a.SendMessageRequest(message=message))]
                elapsed = time.perf_counter() - start
                if not events or not events[-1].HasField("message"):
                    raise RuntimeError(f"round trip {i}: no answer")
                if i >= WARM_UP:
                    latencies.append(elapsed)
    finally:
        child.stop()
    return latencies


def uagents_python() -> str | None:
    for candidate in (os.environ.get("SOVA_UAGENTS_PYTHON"), str(ROOT / ".venv-uagents" / "bin" / "python")):
        if candidate and Path(candidate).exists():
            return candidate
    try:
        import uagents  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def run_uagents(n: int) -> Run:
    python = uagents_python()
    if python is None:
        why = "not run: uagents is not installed (`make bench` installs it in .venv-uagents)"
        return Run("uAgents", [], why)
    from runtime.chain.anvil import free_port

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "pingpong.py"
        script.write_text(UAGENTS_SCRIPT)
        a, b = free_port(), free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        responder = subprocess.Popen(
            [python, str(script), "responder", str(b), str(a), "0"], cwd=folder, **quiet
        )
        try:
            time.sleep(2.0)
            out = subprocess.run([python, str(script), "initiator", str(a), str(b), str(n)], cwd=folder,
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
        except subprocess.TimeoutExpired:
            return Run("uAgents", [], "not run: the uAgents ping-pong timed out")
        finally:
            responder.terminate()
            responder.wait(timeout=10)
        lines = [line for line in out.stdout.splitlines() if line.startswith("[")]
        if not lines:
            return Run("uAgents", [], f"not run: uAgents failed ({out.stderr.strip().splitlines()[-1:]})")
        return Run("uAgents", json.loads(lines[-1]), f"uagents {uagents_version(python)}, 2 HTTP hops")


def uagents_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('uagents'))"],
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or "?"


async def measure(mode: str) -> list[Run]:
    n, rounds = {"smoke": (10, 1), "quick": (200, 1)}.get(mode, (1000, 3))
    runs: dict[str, list[list[float]]] = {"sova": [], "sova+ledger": [], "a2a-sdk": [], NO_ADMISSION: []}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            runs["a2a-sdk"].append(await run_a2a(n))
            # The same server without admission control, interleaved: what admission costs.
            runs[NO_ADMISSION].append(await run_sova(n, "memory", Path(folder) / f"n{r}", admission=False))
            runs["sova"].append(await run_sova(n, "memory", Path(folder) / f"m{r}"))
            runs["sova+ledger"].append(await run_sova(n // 2, "real", Path(folder) / f"l{r}"))
    chosen = []
    for name, samples in runs.items():
        by_rate = sorted(samples, key=lambda lat: len(lat) / sum(lat))
        chosen.append(Run(name, by_rate[len(by_rate) // 2]))
    chosen.append(run_uagents(n // 2))
    return chosen


def render(runs: list[Run]) -> tuple[str, list[str]]:
    base = next(r for r in runs if r.name == "a2a-sdk")
    lines = [
        f"{'configuration':<14}{'round trips/s':>14}{'signed msgs/s':>15}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'vs a2a-sdk':>12}  {'target':<26}result",
        "-" * 110,
    ]
    failed: list[str] = []
    for run in runs:
        if not run.latencies:
            lines.append(f"{run.name:<14}{run.note}")
            continue
        signed = {"sova": 2, "sova+ledger": 2, "uAgents": 2, NO_ADMISSION: 2}.get(run.name, 0)
        ratio = run.rate / base.rate
        target = result = ""
        if run.name == "sova":
            target = f">= {RATIO_TARGET:.1f}x, p50 <= {P50_TARGET_MS:.0f} ms"
            ok = ratio >= RATIO_TARGET and run.pct(0.5) <= P50_TARGET_MS
            result = "pass" if ok else "FAIL"
            if not ok:
                failed.append(f"sova: {ratio:.2f}x, p50 {run.pct(0.5):.2f} ms")
            plain = next((r for r in runs if r.name == NO_ADMISSION and r.latencies), None)
            if plain is not None:
                kept = run.rate / plain.rate
                result += f"; {kept:.2f}x of {NO_ADMISSION} (>= {ADMISSION_TARGET:.2f})"
                if kept < ADMISSION_TARGET:
                    result = result.replace("pass;", "FAIL;", 1)
                    failed.append(f"admission: {kept:.2f}x of {NO_ADMISSION}")
        lines.append(
            f"{run.name:<14}{run.rate:>14,.0f}{(f'{run.rate * signed:,.0f}' if signed else '-'):>15}"
            f"{run.pct(0.5):>9.2f}{run.pct(0.95):>9.2f}{ratio:>11.2f}x  {target:<26}{result}"
            + (f"  ({run.note})" if run.note else "")
        )
    lines += [
        "Sequential round trips, client and server in separate processes on 127.0.0.1, uvicorn (h11).",
        "sova: a signed counter out, a signed counter back; replay store, state machine and thread store on",
        "disk, ledger in memory. sova+ledger: the same plus 4 ledger entries in 2 fsynced commits.",
        f"{NO_ADMISSION}: sova without admission control (runtime/a2a/admission.py), interleaved in the run.",
        "a2a-sdk: unsigned text message, DefaultRequestHandler + AgentExecutor, a2a-sdk Client.",
        f"python {platform.python_version()}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d %H:%M')}",
    ]
    return "\n".join(lines) + "\n", failed


def main() -> None:
    """Measure, print and save the table; exit 1 when a target is missed (not in a smoke run)."""
    mode = "smoke" if "--smoke" in sys.argv else "quick" if "--quick" in sys.argv else "full"
    table, failed = render(asyncio.run(measure(mode)))
    print(table, end="")
    if mode == "smoke":
        # A smoke run proves the bench still runs end to end; its numbers mean nothing.
        print(f"smoke run: tiny counts, so targets not checked and {RESULTS.name} not written")
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    if failed:
        print(f"targets missed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-sova":
        asyncio.run(sova_server(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-a2a":
        a2a_server()
    else:
        main()
