"""`sova vc revoke`: a running issuer revokes through its own executor (its operator API); a stopped
one is unlocked here and sends the transaction itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runtime.chain.provision import key_passphrase
from runtime.config import AgentsFile, RemoteChain
from runtime.errors import SovaError
from runtime.home import Home

__all__ = ["revoke"]


async def revoke(config: AgentsFile, home: Home, keys_dir: Path, name: str, credential_id: str) -> str:
    """Revoke `credential_id` as issuer `name`; the transaction's hash."""
    from runtime.operator.client import agent_api

    running = agent_api(home, name)
    if running is not None:
        # The running agent allots its wallet's nonces: a transaction signed here would take the one
        # it is about to use. It revokes itself, through its executor, policy and ledger.
        return await _revoke_through(running, name, credential_id)
    _not_running(home, name)
    return await _revoke(config, home, keys_dir, name, credential_id)


def _not_running(home: Home, name: str) -> None:
    """SovaError while agent `name` runs without an operator API to ask: its process allots its
    wallet's nonces, so a transaction signed here would take the one it is about to use."""
    from runtime.pidfile import pid_alive, read_ready

    ready = read_ready(home, name) or {}
    pid = ready.get("pid")
    if isinstance(pid, int) and pid_alive(pid):
        raise SovaError(
            f"agent {name} is running (pid {pid}) and signs with this wallet: a transaction sent from "
            f"here would take the nonce it is about to use; stop it first (`sova down`), then run this again"
        )


async def _revoke_through(api: tuple[str, str], name: str, credential_id: str) -> str:
    """Ask running agent `name` to revoke (`POST /v1/credentials/revoke`); its tx hash."""
    from runtime.operator.client import OperatorClient

    async with OperatorClient(*api, timeout=120, label=f"agent {name}") as client:
        status, answer = await client.request(
            "POST", "/v1/credentials/revoke", json_body={"credential_id": credential_id}
        )
    message = answer.get("error") if isinstance(answer, dict) else None
    if status == 202:
        raise SovaError(
            f"agent {name}'s policy escalated the revocation: approval {answer.get('approval_id')} waits "
            "for the operator (`sova console`)"
        )
    if status != 200 or not isinstance(answer, dict):
        raise SovaError(f"agent {name} did not revoke {credential_id}: {message or f'HTTP {status}'}")
    return str(answer.get("tx_hash", ""))


async def _revoke(config: AgentsFile, home: Home, keys_dir: Path, name: str, credential_id: str) -> str:
    from decimal import Decimal

    from identity import IdentityKeyStore
    from runtime.chain.ops import fund_local
    from runtime.chain.session import chain_session
    from wallet import Keystore

    secret = key_passphrase(config, home)
    signer = await asyncio.to_thread(Keystore(keys_dir).unlock, name, secret)
    key = await asyncio.to_thread(IdentityKeyStore(keys_dir).unlock, name, secret)
    async with chain_session(config, home) as session:
        if not isinstance(config.chain, RemoteChain):
            await asyncio.to_thread(
                fund_local, session.client.url, signer.address, Decimal(config.chain.fund)
            )
        await session.registry.register(signer, key)
        receipt = await session.registry.revoke(signer, credential_id)
    tx_hash = getattr(receipt, "tx_hash", b"")
    return "0x" + tx_hash.hex() if isinstance(tx_hash, bytes) else str(tx_hash)
