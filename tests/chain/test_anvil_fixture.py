import os

from runtime.chain.anvil import ANVIL_CHAIN_ID, AnvilNode, rpc_chain_id


def test_anvil_answers_on_loopback_with_local_chain_id(anvil: AnvilNode) -> None:
    assert anvil.url.startswith("http://127.0.0.1:")
    assert rpc_chain_id(anvil.url) == ANVIL_CHAIN_ID


def test_stopped_anvil_process_is_gone_and_port_closed() -> None:
    node = AnvilNode().start()
    pid = node.pid
    assert pid is not None
    node.stop()
    assert rpc_chain_id(node.url, timeout=0.3) is None
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
