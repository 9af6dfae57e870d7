"""Paid requests per second over x402, one buyer -> one seller on a real anvil, each payment verified and
settled on-chain, Sova against the official x402 Python SDK on the same chain in the same run.

- Sova: the buyer is `PaidFetch` through an executor (policy, race-free budget, narrow signer, ledger
  on disk, the settlement checked in the chain's receipt); the seller is Sova's paywall with Sova's
  facilitator in-process (its own executor, policy and ledger), in one server process.
- Official: the SDK's client (httpx transport, `exact` EVM scheme) pays a server protected by the SDK's
  FastAPI middleware with the SDK's own facilitator (tests/support/x402_official_server.py), in one
  server process.

Requests go one after another, in turns (one Sova, one official: a machine whose load changes weighs
on both alike); throughput = requests / the time spent in them; latency from the first request to the
paid answer; payer CPU = CPU time of the payer's thread / payments (the servers run in other
processes). Target: Sova ≥ 1.0x the official stack's paid requests/s. Prints a table, writes
bench/results/x402.txt, exits 1 when the target is missed or a payment went wrong.

Usage: .venv/bin/python -P bench/x402.py [--smoke] [--requests N]
    --smoke: 3 requests each; every one must still be paid and settled, the target is not checked and
    the results file is left alone (`make bench-smoke`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import AsyncExitStack  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "x402.txt"
OFFICIAL_SERVER = ROOT / "tests" / "support" / "x402_official_server.py"
PRICE = 10_000  # 0.01 TUSD
POLICY = """version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "100000"
  - kind: domains
    allow: [127.0.0.1]
"""


@dataclass
class Row:
    name: str
    paid: int
    seconds: float
    latencies: list[float]
    cpu: float

    @property
    def rate(self) -> float:
        return self.paid / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def deploy(url: str, folder: Path) -> dict[str, Any]:
    """Deploy the contracts from a fresh funded key; their addresses and the deployer's key."""
    from eth_account import Account

    from wallet.chain import ChainClient
    from wallet.deploy import deploy_all
    from wallet.signer import Signer

    key = Account.create().key
    client = await ChainClient.connect(url)
    deployer = Signer.from_private_key(key)
    await client.rpc.request("anvil_setBalance", [deployer.address, hex(10**20)])
    await deploy_all(client, deployer, folder / "deployments.json")
    await client.close()
    return {"deployments": str(folder / "deployments.json"), "deployer": "0x" + bytes(key).hex()}


async def open_chain(url: str, spec: dict[str, Any]) -> tuple[Any, dict[str, Any], Any, Any]:
    from policies import TokenInfo
    from wallet.chain import ChainClient
    from wallet.deploy import Deployments, contracts_for
    from wallet.signer import Signer

    client = await ChainClient.connect(url)
    contracts = contracts_for(client, Deployments.load(Path(spec["deployments"])))
    token = TokenInfo(symbol="TUSD", address=contracts["TestUSD"].address, decimals=6)
    return client, contracts, token, Signer.from_private_key(bytes.fromhex(spec["deployer"][2:]))


async def fund(client: Any, contracts: dict[str, Any], deployer: Any, address: str, usd: int) -> None:
    await client.rpc.request("anvil_setBalance", [address, hex(10**19)])
    await client.transact(deployer, contracts["TestUSD"].build("mint", address, usd * 10**6))


async def serve_sova(url: str, spec_path: str) -> None:
    """Server process: Sova's facilitator and a paywalled resource; prints `READY <url> <pay_to>`."""
    import uvicorn
    from eth_account import Account
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from identity import IdentityKey
    from runtime.a2a.server import listen, serve_started
    from runtime.ledger.ledger import Ledger
    from runtime.payments.assemble import open_facilitator
    from runtime.payments.facilitator_client import LocalFacilitator
    from runtime.payments.paywall import Offer, Paywall
    from runtime.payments.wire import Requirements, ResourceInfo
    from wallet.signer import Signer

    spec = json.loads(await asyncio.to_thread(Path(spec_path).read_text))
    folder = Path(spec_path).parent / "sova-server"
    client, contracts, token, _ = await open_chain(url, spec)
    gas = Signer.from_private_key(Account.create().key)
    await client.rpc.request("anvil_setBalance", [gas.address, hex(10**20)])
    parts = open_facilitator(
        folder / "facilitator", signer=gas, key=IdentityKey.generate(), chain=client,
        contracts={"TestUSD": contracts["TestUSD"]}, tokens=(token,),
    )  # fmt: skip
    seller = Account.create()
    seller_key = IdentityKey.generate()
    ledger = Ledger.open(folder / "seller-ledger.sqlite", seller_key, seller.address)
    # In-process, as the official server below runs the SDK's facilitator in its process.
    paywall = Paywall(LocalFacilitator(parts.facilitator), ledger)
    sock, base = listen()
    offer = Offer(
        Requirements(
            scheme="exact", network=f"eip155:{client.chain_id}", asset=token.address, amount=str(PRICE),
            pay_to=seller.address, max_timeout_seconds=300, extra={"name": "Test USD", "version": "1"},
        ),
        ResourceInfo(url=f"{base}/paid"),
    )  # fmt: skip

    async def paid(request: Request) -> Response:
        async def joke(_: bytes) -> tuple[int, bytes, str]:
            return (
                200,
                b'{"joke": "a buyer, a seller and a facilitator walk into a block"}',
                "application/json",
            )

        return await paywall.serve(request, offer, await request.body(), joke)

    app = Starlette(routes=[Route("/paid", paid, methods=["GET"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = await serve_started(server, sock, "seller")
    print(f"READY {base}/paid {seller.address}", flush=True)
    await task


async def start(stack: AsyncExitStack, *argv: str) -> tuple[str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )

    async def stop() -> None:
        proc.terminate()
        await proc.wait()

    stack.push_async_callback(stop)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 90)).decode().split()
    if not line or line[0] != "READY":
        raise RuntimeError(f"{argv[0]} did not start: {line}")
    return line[1], line[2] if len(line) > 2 else ""


def make_buyer(folder: Path, client: Any, contracts: dict[str, Any], token: Any, signer: Any) -> Any:
    from identity import IdentityKey
    from policies import Budget, TokenRegistry, parse_policy
    from runtime.executor.executor import Executor
    from runtime.ledger.ledger import Ledger
    from skills import SkillContext, default_catalog

    key = IdentityKey.generate()
    ledger = Ledger.open(folder / "buyer-ledger.sqlite", key, signer.address)
    context = SkillContext(
        agent_did=key.did, agent_address=signer.address, chain_id=client.chain_id,
        tokens=TokenRegistry((token,)), agent_name="buyer", contracts=dict(contracts), chain=client,
    )  # fmt: skip
    executor = Executor(
        catalog=default_catalog().only(["pay_x402"]), context=context,
        policy=parse_policy(POLICY, tokens=[token]), budget=Budget(folder / "buyer-budget.sqlite"),
        ledger=ledger, signer=signer, identity_key=key,
    )  # fmt: skip
    return executor, ledger


class Meter:
    """Latency and the payer thread's CPU of each call of one stack."""

    def __init__(self, name: str, one: Any) -> None:
        self.name, self.one = name, one
        self.latencies: list[float] = []
        self.cpu = 0.0

    async def __call__(self) -> None:
        cpu, started = time.thread_time(), time.perf_counter()
        await self.one()
        self.latencies.append(time.perf_counter() - started)
        self.cpu += time.thread_time() - cpu

    def row(self) -> Row:
        return Row(self.name, len(self.latencies), sum(self.latencies), self.latencies, self.cpu)


async def interleaved(count: int, *meters: Meter) -> list[Row]:
    """One warm-up call each, then `count` rounds of one call per stack in turn: a machine whose load
    changes during the run weighs on both alike."""
    for meter in meters:
        await meter.one()
    for _ in range(count):
        for meter in meters:
            await meter()
    return [m.row() for m in meters]


async def run(count: int) -> tuple[list[Row], list[str]]:
    from eth_account import Account

    from runtime.chain.anvil import AnvilNode
    from runtime.payments.buyer import PaidFetch
    from wallet.signer import Signer

    problems: list[str] = []
    node = AnvilNode().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            spec = await deploy(node.url, folder)
            (folder / "spec.json").write_text(json.dumps(spec))
            client, contracts, token, deployer = await open_chain(node.url, spec)
            async with AsyncExitStack() as stack:
                stack.push_async_callback(client.close)
                sova_url, sova_pay_to = await start(
                    stack, __file__, "--serve-sova", node.url, str(folder / "spec.json")
                )
                payer = Signer.from_private_key(Account.create().key)
                await fund(client, contracts, deployer, payer.address, 1000)
                executor, ledger = make_buyer(folder, client, contracts, token, payer)
                stack.callback(ledger.close)
                fetcher = PaidFetch(executor, ledger)
                stack.push_async_callback(fetcher.close)

                async def sova_one() -> None:
                    result = await fetcher.fetch(sova_url)
                    if result.status != 200 or not result.paid:
                        problems.append(f"sova: {result.status} {result.payment.get('status')}")

                sova = Meter("Sova buyer -> Sova paywall + facilitator", sova_one)
                official, official_seller = await official_stack(
                    stack, node.url, client, contracts, deployer, token, problems
                )
                rows = await interleaved(count, sova, official)
                for who, seller in (("sova", sova_pay_to), ("official", official_seller)):
                    held = int(await contracts["TestUSD"].call("balanceOf", seller))
                    if held != (count + 1) * PRICE:
                        problems.append(f"the {who} seller holds {held}, not {(count + 1) * PRICE}")
    finally:
        node.stop()
    return rows, problems


async def official_stack(
    stack: AsyncExitStack, url: str, client: Any, contracts: dict[str, Any], deployer: Any, token: Any,
    problems: list[str],
) -> tuple[Meter, str]:  # fmt: skip
    import httpx
    from eth_account import Account
    from x402 import x402Client
    from x402.http.clients.httpx import x402AsyncTransport
    from x402.mechanisms.evm.exact import register_exact_evm_client

    network = f"eip155:{client.chain_id}"
    gas = Account.create()
    await client.rpc.request("anvil_setBalance", [gas.address, hex(10**20)])
    seller = Account.create()
    server, _ = await start(
        stack, str(OFFICIAL_SERVER), "--chain-id", str(client.chain_id), "--asset", token.address,
        "--pay-to", seller.address, "--amount", str(PRICE), "--rpc", url, "--facilitator", "official",
        "--facilitator-key", "0x" + bytes(gas.key).hex(),
    )  # fmt: skip
    payer = Account.create()
    await fund(client, contracts, deployer, payer.address, 1000)
    sdk = register_exact_evm_client(x402Client(), payer, networks=network)
    sdk.set_spend_controls({"allowed_assets": [{"network": network, "asset": token.address}]})
    http = httpx.AsyncClient(transport=x402AsyncTransport(sdk), timeout=60)
    stack.push_async_callback(http.aclose)

    async def official_one() -> None:
        answer = await http.get(f"{server}/paid")
        if answer.status_code != 200 or "PAYMENT-RESPONSE" not in answer.headers:
            problems.append(f"official: {answer.status_code}")

    return Meter("official client -> official middleware + facilitator", official_one), seller.address


def render(rows: list[Row], count: int) -> tuple[str, bool]:
    sova, official = rows
    ratio = sova.rate / official.rate if official.rate else 0.0
    ok = ratio >= 1.0
    lines = [
        f"{'stack':<55} {'paid':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'payer CPU ms':>13}",
        "-" * 99,
    ]
    for row in rows:
        lines.append(
            f"{row.name:<55} {row.paid:>5} {row.rate:>7.1f} {row.pct(0.5):>7.1f} {row.pct(0.95):>7.1f} "
            f"{row.cpu / max(1, row.paid) * 1000:>13.2f}"
        )
    lines += [
        f"Sova / official paid requests per second: {ratio:.2f}x (target >= 1.0x: {'ok' if ok else 'FAIL'})",
        f"{count} paid requests each, in turns (one Sova, one official) after one warm-up each, every",
        "payment verified and settled by a transferWithAuthorization on one anvil (automine). Payer CPU:",
        "the payer's thread (servers and facilitators run in their own processes). Sova's buyer also goes",
        "through its executor (policy, budget, narrow signer, ledger on disk) and checks the settlement's",
        "Transfer in the receipt; Sova's facilitator settles through its own executor and ledger.",
        f"python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f} at the end, {time.strftime('%Y-%m-%d %H:%M')}",
    ]
    return "\n".join(lines) + "\n", ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 requests each; target not checked")
    parser.add_argument("--requests", type=int, default=0, help="paid requests per stack (default 40)")
    args = parser.parse_args()
    count = args.requests or (3 if args.smoke else 40)
    rows, problems = asyncio.run(run(count))
    table, ok = render(rows, count)
    print(table, end="")
    if args.smoke:
        print(f"smoke run: tiny counts, so the target is not checked and {RESULTS.name} not written")
        ok = True
    else:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(table, encoding="utf-8")
    if problems:
        print(f"payments went wrong: {'; '.join(problems[:5])}", file=sys.stderr)
    if problems or not ok:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--serve-sova":
        asyncio.run(serve_sova(sys.argv[2], sys.argv[3]))
    else:
        main()
