"""Chain health on a real anvil: the supervisor's checkpoint notices a chain that went back (a lower
head, or another block at the checkpoint's height) and keeps the event for `sova status`."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode, rpc_call
from runtime.chain.health import ChainWatch, chain_health, describe, head

pytestmark = pytest.mark.chain


def mine(url: str, blocks: int) -> None:
    rpc_call(url, "anvil_mine", [hex(blocks)])


def test_a_chain_that_only_grew_is_healthy(anvil: AnvilNode, tmp_path: Path) -> None:
    watch = ChainWatch(tmp_path / "health.json", anvil.url)
    assert watch.look() is None
    mine(anvil.url, 3)
    assert watch.look() is None
    info = chain_health(tmp_path / "health.json", anvil.url)
    assert info["state"] == "ok"
    assert info["last_rollback"] is None
    assert describe(info) == f"ok at block {info['head']}"


def test_a_head_below_the_checkpoint_is_a_rollback_kept_for_status(anvil: AnvilNode, tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    snapshot = rpc_call(anvil.url, "evm_snapshot", [])
    mine(anvil.url, 5)
    watch = ChainWatch(path, anvil.url)
    assert watch.look() is None
    rpc_call(anvil.url, "evm_revert", [snapshot])

    assert chain_health(path, anvil.url)["state"] == "went_back"  # seen before the supervisor looks
    found = watch.look()

    assert found is not None
    assert "below block 5" in found
    info = chain_health(path, anvil.url)
    assert info["state"] == "ok"  # the new head is the checkpoint now
    assert info["last_rollback"]["why"] == found
    assert "last went back at" in describe(info)
    assert ChainWatch(path, anvil.url).data["rollbacks"] == 1  # kept across supervisor restarts


def test_another_block_at_the_checkpoint_height_is_a_reorg(anvil: AnvilNode, tmp_path: Path) -> None:
    snapshot = rpc_call(anvil.url, "evm_snapshot", [])
    mine(anvil.url, 2)
    watch = ChainWatch(tmp_path / "health.json", anvil.url)
    watch.look()
    before = head(anvil.url)
    rpc_call(anvil.url, "evm_revert", [snapshot])
    rpc_call(anvil.url, "evm_setNextBlockTimestamp", [hex(4_000_000_000)])  # a different block 1
    mine(anvil.url, 3)

    found = watch.look()

    assert before is not None
    assert found is not None
    assert f"block {before.number} has another hash" in found


def test_a_silent_node_is_not_taken_for_a_rollback(tmp_path: Path) -> None:
    watch = ChainWatch(tmp_path / "health.json", "http://127.0.0.1:9")
    assert watch.look() is None
    assert chain_health(tmp_path / "health.json", "http://127.0.0.1:9")["state"] == "unreachable"
    assert chain_health(tmp_path / "health.json", None)["state"] == "not running"
