"""`sova fetch URL --as AGENT [--max-amount A] [--json]` — fetch a URL as a running agent; a `402` is
paid over x402 by that agent, through its executor: its policy judges the payment, its narrow signer
signs the one authorization, its ledger records the exchange. The agent's key stays in its process:
this command only asks its operator API (`POST /v1/fetch`).

Exit 0 with the answer (paid or not needed), 2 when nothing was paid (refused by the policy, no offer
it can pay, a bad URL), 1 when a settlement is claimed that the chain does not show.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, load, out, print_json
from runtime.errors import CheckFailed, SovaError

UrlArg = Annotated[str, typer.Argument(help="the http(s) URL to fetch")]
AsOption = Annotated[str, typer.Option("--as", help="the agent (from agents.yaml) that fetches and pays")]
MaxOption = Annotated[
    str | None, typer.Option("--max-amount", help='the most one payment may cost, in token units ("0.5")')
]
MethodOption = Annotated[str, typer.Option("--method", "-X", help="GET or POST")]
DataOption = Annotated[str | None, typer.Option("--data", "-d", help="request body (text) for POST")]


def fetch(
    url: UrlArg,
    agent: AsOption,
    max_amount: MaxOption = None,
    method: MethodOption = "GET",
    data: DataOption = None,
    file: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> None:
    """Fetch URL as AGENT, paying an x402 402 under the agent's policy."""
    from runtime.operator.token import read_token
    from runtime.pidfile import read_ready

    config, home = load(file)
    config.agent(agent)  # an unknown name is one clear line
    ready = read_ready(home, agent) or {}
    base = ready.get("operator_url")
    if not isinstance(base, str) or not base.startswith("http://127.0.0.1:"):
        raise SovaError(f"agent {agent} is not running: start the fleet with `sova up` (see `sova status`)")
    token = read_token(home)
    if not token:
        raise SovaError(
            f"no operator token in {home.root / 'operator.token'}: start the fleet with `sova up`"
        )
    body: dict[str, Any] = {"url": url, "method": method.upper()}
    if max_amount is not None:
        body["max_amount"] = max_amount
    if data is not None:
        body["body"] = data
    result = asyncio.run(_ask(base, token, agent, body))
    if as_json:
        print_json(result)
        return
    payment = result.get("payment") or {}
    if result.get("paid"):
        out.print(f"paid {payment.get('price')} to {payment.get('pay_to')} (tx {payment.get('transaction')})")
    out.print(f"HTTP {result.get('status')} {result.get('content_type', '')}".rstrip())
    out.print(str(result.get("body", "")))


async def _ask(base: str, token: str, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    from runtime.operator.client import OperatorClient

    async with OperatorClient(base, token, timeout=180, label=f"agent {agent}") as client:
        status, answer = await client.request("POST", "/v1/fetch", json_body=body)
    message = answer.get("error") if isinstance(answer, dict) else None
    if status == 409:
        raise CheckFailed(str(message))
    if status >= 400:
        raise SovaError(str(message or f"agent {agent} answered HTTP {status}"))
    return dict(answer)
