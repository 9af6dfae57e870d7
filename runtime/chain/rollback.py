"""An agent's watch for a chain that went back: re-send, from the outbox, what the chain lost.

A node restarted from an older state file (anvil SIGKILLed between two state dumps), or a reorg,
undoes transactions the agent already saw mined: a released escrow is open again, an anchor is gone,
and the node's nonce count of the agent's wallet is back below what the agent will sign next, so its
next transaction would wait in the node's queue behind a gap forever. The outbox still holds the
signed bytes of each of them (`wallet.recovery.reopen_vanished`): sent again in nonce order, they
restore the chain as the agent's databases already describe it, and nothing is signed twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wallet.chain import ChainClient
    from wallet.recovery import RecoveryReport

log = logging.getLogger(__name__)

# How often an agent looks (s): one nonce query and one SQLite read when nothing was lost.
WATCH_EVERY = 2.0


async def resend_lost(client: ChainClient, address: str, *, timeout: float = 30.0) -> RecoveryReport | None:  # noqa: ASYNC109 - receipt wait
    """Look once for transactions of `address` the chain lost; re-send them and wait for their receipts.
    None when nothing was lost. A re-sent transaction that reverts now (its effect no longer fits the
    chain) is logged, not raised: the deal's own checks (deadline watch, resume) take it from there."""
    from wallet.errors import WalletError
    from wallet.recovery import reopen_vanished

    try:
        if not await reopen_vanished(client, address):
            return None
    except WalletError as exc:  # the node is away (restarting): the supervisor's to handle, look again later
        log.info("rollback watch skipped a round: %s", exc)
        return None
    report = await client.recover(address)
    for tx_hash in report.resent:
        try:
            await client.wait(tx_hash, timeout=timeout)
        except WalletError as exc:
            log.warning("re-sent transaction 0x%s after the rollback: %s", tx_hash.hex(), exc)
    return report
