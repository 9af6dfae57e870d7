"""Shared parts of the operator API tests (no tests here): a real executor rig served by the real
operator app on a loopback socket, two operator keys and one stranger key."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account import Account

from runtime.a2a.server import listen
from runtime.executor.approvals import Approval, ApprovalQueue
from runtime.operator.api import OperatorServer, create_app
from runtime.operator.auth import Verdict, sign_decision
from runtime.operator.chat import OperatorChat
from runtime.operator.facts import AgentInfo, OperatorBackend
from tests.support.executor import CHAIN_ID, Rig
from wallet.signer import Signer

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal, send_message, transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
    per_counterparty_day: "80"
  - kind: counterparties
    allow: [seller]
  - kind: approval
    when: {amount_over: "20"}
    approvers: 1
    timeout: 30s
"""
TWO_APPROVERS = POLICY.replace("approvers: 1", "approvers: 2")
SHORT_TIMEOUT = POLICY.replace("timeout: 30s", "timeout: 1s")

OPERATOR = Signer.from_private_key(Account.create().key)
ALICE = Signer.from_private_key(Account.create().key)
STRANGER = Signer.from_private_key(Account.create().key)
OPERATORS = {OPERATOR.address: "operator", ALICE.address: "alice"}


@dataclass
class Served:
    """The rig, its backend and a client that sends the token."""

    rig: Rig
    backend: OperatorBackend
    url: str
    token: str
    client: httpx.AsyncClient

    def sign(self, approval: Approval, verdict: Verdict, reason: str = "", signer: Signer = OPERATOR) -> str:
        return sign_decision(signer, self.rig.signer.address, approval.id, verdict, reason, CHAIN_ID)

    async def decide(
        self, ref: str | int, verdict: Verdict, *, signer: Signer = OPERATOR, reason: str = "", **body: Any
    ) -> httpx.Response:
        approval = self.rig.executor.approvals.find(ref)
        assert approval is not None
        payload = {
            "signature": self.sign(approval, verdict, reason, signer),
            "approver": signer.address,
            "reason": reason,
            **body,
        }
        return await self.client.post(f"/v1/approvals/{ref}/{verdict}", json=payload)


async def next_pending(queue: ApprovalQueue, count: int = 1) -> list[Approval]:
    for _ in range(400):
        pending = queue.pending()
        if len(pending) >= count:
            return pending
        await asyncio.sleep(0.005)
    raise AssertionError("no approval was requested")


@asynccontextmanager
async def serve(
    rig: Rig,
    *,
    chat: Any = None,
    deals: Any = None,
    threads: Any = None,
    token: str | None = None,
    purchaser: Any = None,
) -> AsyncIterator[Served]:
    """The rig's operator API on 127.0.0.1 (a free port), and a client holding the token (`token`, or
    a fresh one). `chat`: a function of the backend giving the chat (default: the command chat)."""
    token = token or secrets.token_urlsafe(32)
    info = AgentInfo(
        name="buyer", role="buyer", did=rig.key.did, address=rig.signer.address, chain_id=CHAIN_ID,
        brain="rules (linear)", url="http://127.0.0.1:1", agent_id=7,
    )  # fmt: skip
    backend = OperatorBackend(
        info=info, executor=rig.executor, ledger=rig.ledger, operators=OPERATORS, deals=deals, threads=threads
    )
    sock, url = listen("127.0.0.1", 0)
    server = OperatorServer(
        create_app(
            backend, token, chat(backend) if chat else OperatorChat(backend, purchaser=purchaser), purchaser
        ),
        sock,
    )
    await server.start()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        try:
            yield Served(rig, backend, url, token, client)
        finally:
            await server.stop()
