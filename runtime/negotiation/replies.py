"""Reading a peer's replies to one message (the list `Send` returns), the same way on both sides."""

from __future__ import annotations

from typing import Any

__all__ = ["first", "peer_said"]


def first(replies: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    """The first reply of type `type_` that has a body, or None."""
    return next((r for r in replies if r.get("type") == type_ and isinstance(r.get("body"), dict)), None)


def peer_said(replies: list[dict[str, Any]]) -> str:
    """The seller's reason when it rejected, as one line for a deal record; empty when it did not."""
    for reply in replies:
        if reply.get("type") == "reject" and isinstance(reply.get("body"), dict):
            return f"the seller rejected: {str(reply['body'].get('reason', ''))[:300]}"
    return ""
