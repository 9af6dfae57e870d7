"""Ledger entries in the operator chat's words: whether one is a refusal, where and why it stopped,
and a one-line gist."""

from __future__ import annotations

from typing import Any

__all__ = ["gist", "is_denial", "reasons", "short_did", "stage"]


def is_denial(kind: str, data: dict[str, Any]) -> bool:
    """Whether a ledger entry records a refusal (a denied decision or effect, a rejected or
    timed-out approval)."""
    if kind == "decision":
        return data.get("verdict") == "deny"
    if kind == "approval":
        return data.get("state") in ("rejected", "timed_out")
    return kind == "effect" and data.get("status") == "denied"


def stage(kind: str, data: dict[str, Any]) -> str:
    """Where a refused action stopped, in a few words."""
    if kind == "approval":
        return f"approval {str(data.get('state', '')).replace('_', ' ')}"
    return f"{kind} at {data.get('stage', data.get('status', '?'))}"


def reasons(kind: str, data: dict[str, Any]) -> list[str]:
    """Why an entry refused, one line per reason (what denied or escalated it)."""
    if kind == "effect":
        return [str(data.get("error", "refused"))]
    out = []
    for r in data.get("reasons") or []:
        if isinstance(r, dict):
            if r.get("verdict") in ("deny", "escalate"):
                out.append(f"{r.get('kind')}: {r.get('message')}")
        else:
            out.append(str(r))
    if kind == "approval" and data.get("state") == "timed_out":
        out.append("no operator approved it in time")
    return out or ["no reason recorded"]


def short_did(did: str) -> str:
    """A DID short enough for a chat line."""
    return did if len(did) <= 40 else f"{did[:28]}…{did[-8:]}"


def gist(kind: str, data: Any) -> str:
    """One line of a ledger entry's data: its telling fields, in a fixed order."""
    if not isinstance(data, dict):
        return str(data)[:120]
    keys: tuple[str, ...] = ("event", "skill", "stage", "verdict", "state", "status", "type", "reason")
    keys = (*keys, "error")
    if kind == "operator":  # elsewhere `action` is an action id, here what the operator did
        keys = ("action", *keys)
    parts = [f"{k}={data[k]}" for k in keys if k in data and data[k] not in (None, "", [])]
    return (", ".join(parts) or ", ".join(sorted(data))[:120])[:200]
