"""The `x402:` block of an agent in agents.yaml: sell the agent's services per call over x402.

    - name: seller
      x402: {facilitator: local}            # or the http(s) URL of any x402 facilitator
      goals: [{kind: sell, service: wordcount}]

With it, the running agent serves `POST /x402/services/{name}` on a loopback port of its own (`port`,
or one kept across restarts), each call paid to its wallet in TestUSD on the fleet's chain and settled
by the facilitator. `local` is Sova's own facilitator (`sova facilitator`), which `sova up` starts
with the fleet when an agent names it: its own key, policy and ledger.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LOCAL", "X402Sales"]

LOCAL = "local"
"""The facilitator name that means Sova's own, started by `sova up`."""
_URL = re.compile(r"^https?://[^\s/?#@]+(?::[0-9]{1,5})?(?:/[^\s?#]*)?$")


class X402Sales(BaseModel):
    """Sell this agent's services per call over x402 (services needing a buyer credential excepted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facilitator: str = Field(
        LOCAL,
        max_length=2048,
        description='"local": Sova\'s facilitator, started by `sova up`; or the http(s) URL of any '
        "x402 facilitator (for other chains)",
    )
    port: int = Field(
        0, ge=0, le=65535, description="loopback port of the sales; 0: a free one, kept across restarts"
    )

    @field_validator("facilitator")
    @classmethod
    def _local_or_url(cls, value: str) -> str:
        if value == LOCAL or _URL.match(value):
            return value.rstrip("/") if value != LOCAL else value
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(
            f'facilitator {shown!r} is neither "local" nor an http(s) URL: write local (Sova\'s own, '
            "started by `sova up`) or a facilitator's URL such as https://x402.org/facilitator"
        )

    @property
    def local(self) -> bool:
        """Whether Sova's own facilitator settles the sales."""
        return self.facilitator == LOCAL
