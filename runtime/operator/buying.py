"""`SovaClient`: buy services and read deals from Python, through a running agent's operator API.

    async with SovaClient.for_agent("buyer", "agents.yaml") as client:
        result = await client.buy("wordcount", {"text": "a b c"}, max_price="12")
        if result.ok:
            print(result.output["words"])

The agent does the purchase (its keys stay in its process): `buy` posts to `POST /v1/buy`, which finds
a seller in AgentRegistry (or the one named), checks the input against the seller's schema, negotiates
and settles through the agent's executor and policy, and answers once the deal has ended. A request
the agent refuses before anything is signed (bad input, a max price that is not an amount) raises
`BuyRefused`; a purchase that ends without a deal is a `BuyResult` whose `ok` is False and whose
`reason` says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import SovaError
from runtime.operator.buy_models import BuyResult
from runtime.operator.client import OperatorApiError, OperatorClient

__all__ = ["BuyRefused", "BuyResult", "DealView", "SovaClient"]

SLACK = 15.0
"""Seconds the HTTP wait exceeds the purchase's own timeout (the agent answers first)."""


class BuyRefused(OperatorApiError):
    """The agent refused the purchase before sending or signing anything: `status` 400 (bad request,
    e.g. a max price that is not an amount) or 422 (the input does not match the service's schema)."""


class DealView(BaseModel):
    """One deal as an agent's operator API shows it (`GET /v1/deals`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    thread: str
    counterparty: str
    role: str
    state: str
    item: str = ""
    token: str = "TUSD"
    price: str = ""
    deal_id: str = ""
    reason: str = ""
    txs: dict[str, str] = Field(default_factory=dict)
    input: Any = None
    result: Any = None
    started: str = ""
    updated: str = ""


class SovaClient:
    """Async client of one running Sova agent (its operator API at `url`, with the fleet's `token`):
    `buy` services as that agent, list its `deals`, read one `deal`. Close it (or use `async with`)."""

    def __init__(self, url: str, token: str, *, label: str = "") -> None:
        self._api = OperatorClient(url, token, label=label or f"the agent at {url}")

    @classmethod
    def for_agent(cls, name: str, config: str | Path = "agents.yaml") -> SovaClient:
        """The client of agent `name` of the fleet of `config` (its agents.yaml), which must be running
        (`sova up`): its URL from `<home>/agents/<name>/agent.json`, the token from the fleet's home."""
        from runtime.config import load_config
        from runtime.home import Home
        from runtime.operator.token import read_token

        path = Path(config)
        loaded = load_config(path)
        loaded.agent(name)  # ConfigError naming the agents there are
        home = Home.for_config(path, loaded)
        try:
            ready = json.loads(home.ready_file(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            ready = {}
        url = ready.get("operator_url") if isinstance(ready, dict) else None
        token = read_token(home)
        if not isinstance(url, str) or not url.startswith("http://127.0.0.1:") or token is None:
            raise OperatorApiError(
                f"agent {name} is not running (no operator API in "
                f"{home.ready_file(name)}): start the fleet with `sova up --detach`",
                503,
            )
        return cls(url, token, label=f"agent {name}")

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> SovaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def buy(
        self, service: str, input: Any = None, *, max_price: str | None = None, seller: str | None = None,
        timeout: float = 180.0,  # noqa: ASYNC109 - the purchase's own wait, sent to the agent
    ) -> BuyResult:  # fmt: skip
        """Buy `service` on `input` (JSON-able) from a registered seller (or `seller`: agent name or
        DID), paying at most `max_price` (a decimal string; it only lowers the agent's policy cap).
        The BuyResult once the deal has ended; BuyRefused when refused before anything was signed."""
        body: dict[str, Any] = {"service": service, "input": {} if input is None else input,
                                "timeout": timeout}  # fmt: skip
        if max_price is not None:
            body["max_price"] = str(max_price)
        if seller is not None:
            body["seller"] = seller
        status, answer = await self._api.request("POST", "/v1/buy", json_body=body, timeout=timeout + SLACK)
        if status in (400, 409, 413, 422):
            message = answer.get("error") if isinstance(answer, dict) else None
            raise BuyRefused(str(message or f"the agent refused the purchase (HTTP {status})"), status)
        if status >= 400 or not isinstance(answer, dict):
            raise OperatorApiError(str(answer.get("error") if isinstance(answer, dict) else answer), status)
        return BuyResult.model_validate(answer)

    async def deals(self, limit: int = 50) -> list[DealView]:
        """The agent's deals, most recently updated first (at most `limit`, ≤ 500)."""
        body = await self._api.get("/v1/deals", limit=str(limit))
        return [DealView.model_validate(d) for d in body.get("deals", [])]

    async def deal(self, ref: str) -> DealView:
        """One deal by its deal id (0x…) or thread id (or a prefix of it); SovaError when there is none."""
        wanted = ref.lower()
        deals = await self.deals(500)
        for match in (lambda d: wanted in (d.deal_id.lower(), d.thread.lower()),
                      lambda d: d.thread.lower().startswith(wanted)):  # fmt: skip
            found = next((d for d in deals if match(d)), None)
            if found is not None:
                return found
        raise SovaError(f"the agent has no deal {ref!r} among its last 500")
