"""Chain chores shared by `sova chain …` and `sova up`: start or attach the local node,
make sure the operator key exists, fund it on the local chain, deploy the contracts once."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from runtime.chain.anvil import ANVIL_CHAIN_ID, AnvilError, AnvilNode, rpc_call, rpc_chain_id
from runtime.config import AgentsFile, LocalChain, RemoteChain
from runtime.errors import SovaError
from runtime.home import Home
from runtime.secrets import write_private

WEI_PER_ETH = 10**18


class ChainNotRunning(SovaError):
    """The local chain is not up."""


@dataclass(frozen=True)
class NodeRecord:
    """What `<home>/chain/node.json` says about the running local node."""

    url: str
    pid: int
    port: int

    @classmethod
    def read(cls, path: Path) -> NodeRecord | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(url=str(data["url"]), pid=int(data["pid"]), port=int(data["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        write_private(path, json.dumps({"url": self.url, "pid": self.pid, "port": self.port}) + "\n")

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return rpc_chain_id(self.url, timeout=0.5) is not None


def running_local_node(home: Home) -> NodeRecord | None:
    """The local node this home started, if it still runs and answers."""
    record = NodeRecord.read(home.node_file)
    return record if record is not None and record.alive() else None


def start_local_node(home: Home, chain: LocalChain) -> AnvilNode:
    """Start anvil with its state in <home>/chain/ and record where it listens."""
    home.ensure()
    node = AnvilNode(
        port=chain.port,
        state_file=home.chain_state,
        block_time=chain.block_time.total_seconds() if chain.block_time else None,
        state_interval=max(1, math.ceil(chain.state_every.total_seconds())),  # anvil takes whole seconds
        log_file=home.chain_dir / "anvil.log",
    )
    try:
        node.start()
    except AnvilError:
        if home.chain_state.exists():
            raise AnvilError(
                f"anvil did not start with the saved state {home.chain_state}: it may be corrupt; "
                "move it away to start a fresh chain"
            ) from None
        raise
    assert node.pid is not None
    NodeRecord(url=node.url, pid=node.pid, port=node.port).write(home.node_file)
    return node


def chain_url(config: AgentsFile, home: Home) -> str:
    """The JSON-RPC URL to use: the running local node, or chain.rpc_url."""
    if isinstance(config.chain, RemoteChain):
        return config.chain.rpc_url
    record = running_local_node(home)
    if record is None:
        raise ChainNotRunning(
            f"the local chain is not running (no live node in {home.node_file}): "
            "start it with `sova chain up` (or `make run`)"
        )
    return record.url


def expected_chain_id(config: AgentsFile) -> int:
    return config.chain.chain_id if isinstance(config.chain, RemoteChain) else ANVIL_CHAIN_ID


def fund_local(url: str, address: str, eth: Decimal) -> None:
    """Give an address `eth` native currency on the local chain (anvil_setBalance), if it has less."""
    want = int(eth * WEI_PER_ETH)
    have = int(str(rpc_call(url, "eth_getBalance", [address, "latest"])), 16)
    if have < want:
        rpc_call(url, "anvil_setBalance", [address, hex(want)])
