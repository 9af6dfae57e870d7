"""One-line answers of the console chat for actions the console itself takes (pause, resume, approve,
reject), from the agent's JSON answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def describe_pause(name: str, result: Mapping[str, Any]) -> str:
    """One line for a pause/resume result: what happened locally and on-chain."""
    verb = "paused" if result.get("paused") else "resumed"
    local = result.get("local") or {}
    here = (
        f"locally: not done ({local['error']})"
        if isinstance(local, dict) and local.get("error")
        else ("locally: no signature from now on" if result.get("paused") else "locally: signing again")
    )
    onchain = result.get("onchain") or {}
    there = (
        f"on-chain: AgentRegistry {'pause' if result.get('paused') else 'unpause'} in tx {onchain.get('tx')}"
        if onchain.get("ok")
        else f"on-chain: not done ({onchain.get('error')})"
    )
    return f"{verb} {name} — {here}; {there}"


def describe_decision(verb: str, approval: Any) -> str:
    """One line for an approve/reject answer: the approval's number, skill and state now."""
    if not isinstance(approval, dict):
        return f"{verb}d"
    number = approval.get("number", approval.get("id"))
    state = approval.get("state", "?")
    got = len(approval.get("approvers") or [])
    needed = approval.get("needed", 1)
    if state == "pending":
        return f"{verb}d #{number} ({approval.get('skill')}): {got} of {needed} approvals, still pending"
    return f"{verb}d #{number} ({approval.get('skill')}): now {state}"
