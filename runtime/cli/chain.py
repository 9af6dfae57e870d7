"""`sova chain up|down|deploy|status` — the local anvil node and the contracts on any chain."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime.chain.anvil import AnvilNode, rpc_call
from runtime.chain.ops import chain_url, running_local_node, start_local_node
from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, load, out, print_json, warn
from runtime.config import RemoteChain
from runtime.errors import SovaError
from runtime.pidfile import stop_and_wait

if TYPE_CHECKING:
    from runtime.chain.provision import Deployed


def _deploy(*args: Any) -> Deployed:
    # Imported here: web3 and eth-account take ~0.7 s to import, which `sova --help` should not pay.
    from runtime.chain.provision import deploy_contracts

    return asyncio.run(deploy_contracts(*args))


app = typer.Typer(help="Run the local chain and deploy Sova's contracts.", no_args_is_help=True)


def _print_deployed(result: Deployed) -> None:
    verb = "deployed" if result.fresh else "already deployed"
    out.print(f"chain {result.chain_id} at {result.url}; contracts {verb} (operator {result.operator}):")
    for name, address in sorted(result.deployments.contracts.items()):
        out.print(f"  {name:<16} {address}")


@app.command("up")
def up(
    file: ConfigOption = DEFAULT_CONFIG,
    detach: Annotated[bool, typer.Option("--detach", help="return once the chain is ready")] = False,
) -> None:
    """Start (or attach to) the local anvil chain, state kept in .sova/chain/, and deploy the contracts."""
    config, home = load(file)
    if isinstance(config.chain, RemoteChain):
        raise SovaError(
            f"chain.kind is rpc ({config.chain.rpc_url}): there is no local chain to start; "
            "run `sova chain deploy` to deploy the contracts there"
        )
    record = running_local_node(home)
    node: AnvilNode | None = None
    if record is None:
        node = start_local_node(home, config.chain)
        url = node.url
        out.print(f"started anvil at {url} (pid {node.pid}, state in {home.chain_state})")
    else:
        url = record.url
        out.print(f"attached to the running local chain at {url} (pid {record.pid})")
    try:
        _print_deployed(_deploy(config, file, home, url, warn))
    except BaseException:
        if node is not None and not detach:
            node.stop()
        raise
    if detach or node is None:
        out.print("the chain keeps running: stop it with `sova chain down`")
        return
    out.print("press Ctrl-C to stop (the chain state is saved)")
    _wait_for_signal(node)
    home.node_file.unlink(missing_ok=True)
    out.print("chain stopped, state saved")


def _wait_for_signal(node: AnvilNode) -> None:
    stop = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop:
        if node.process is not None and node.process.poll() is not None:
            raise SovaError(f"anvil exited by itself with code {node.process.returncode}; see its log")
        time.sleep(0.2)
    node.stop()


@app.command("down")
def down(file: ConfigOption = DEFAULT_CONFIG) -> None:
    """Stop the local chain started with `sova chain up --detach` (its state is saved)."""
    _, home = load(file)
    record = running_local_node(home)
    if record is None:
        out.print("the local chain is not running")
        return
    stop_and_wait(record.pid, timeout=10, poll=0.1)  # anvil saves its state as it goes
    home.node_file.unlink(missing_ok=True)
    out.print(f"stopped the local chain (pid {record.pid}); state saved in {home.chain_state}")


@app.command("deploy")
def deploy(file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Deploy the contracts once (to the local chain or chain.rpc_url) and record their addresses."""
    config, home = load(file)
    result = _deploy(config, file, home, chain_url(config, home), warn)
    if as_json:
        print_json(_deployed_json(result))
    else:
        _print_deployed(result)


def _deployed_json(result: Deployed) -> dict[str, Any]:
    return {
        "url": result.url,
        "chain_id": result.chain_id,
        "operator": result.operator,
        "fresh": result.fresh,
        "contracts": dict(result.deployments.contracts),
    }


@app.command("status")
def status(file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Where the chain is, whether it answers, its block height and the deployed contracts."""
    config, home = load(file)
    info: dict[str, Any] = {"kind": config.chain.kind}
    try:
        url = chain_url(config, home)
    except SovaError as exc:
        info.update(running=False, problem=str(exc))
        url = None
    if url is not None:
        info["url"] = url
        try:
            info["chain_id"] = int(str(rpc_call(url, "eth_chainId", [], timeout=2)), 16)
            info["block"] = int(str(rpc_call(url, "eth_blockNumber", [], timeout=2)), 16)
            info["running"] = True
        except OSError:
            info.update(running=False, problem=f"RPC at {url} does not answer")
    deployments = _read_deployments(home.deployments(info["chain_id"])) if "chain_id" in info else None
    info["contracts"] = deployments or {}
    if as_json:
        print_json(info)
        return
    if not info["running"]:
        out.print(f"chain ({info['kind']}): not running — {info['problem']}")
        raise typer.Exit(1)
    out.print(f"chain {info['chain_id']} at {info['url']}: block {info['block']}")
    if not deployments:
        out.print("  no contracts deployed yet: run `sova chain deploy`")
    for name, address in sorted(info["contracts"].items()):
        out.print(f"  {name:<16} {address}")


def _read_deployments(path: Path) -> dict[str, str] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))["contracts"])
    except (OSError, ValueError, KeyError):
        return None


@app.command("fund")
def fund(
    address: Annotated[str, typer.Argument(help="0x address or a key name in the keystore folder")],
    eth: Annotated[str, typer.Option("--eth", help="native currency to hold afterwards")] = "100",
    file: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Top up an address with native currency on the local chain (anvil_setBalance)."""
    from decimal import Decimal, InvalidOperation

    from runtime.chain.ops import fund_local

    config, home = load(file)
    if isinstance(config.chain, RemoteChain):
        raise SovaError("`sova chain fund` works on the local chain only: send native currency from a wallet")
    try:
        amount = Decimal(eth)
    except InvalidOperation:
        raise SovaError(f"--eth {eth!r} is not a number: give e.g. --eth 10") from None
    keys_dir = home.keys_dir(config, file.parent)
    target = address if address.startswith("0x") else _key_address(keys_dir, address)
    fund_local(chain_url(config, home), target, amount)
    out.print(f"{target} holds at least {amount} ETH on the local chain")


def _key_address(keys_dir: Path, name: str) -> str:
    from wallet import Keystore

    return Keystore(keys_dir).info(name).address
