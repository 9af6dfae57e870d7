"""`sova buy SERVICE --as BUYER --input JSON` — a running buyer agent buys a service and prints the result.

The agent does the purchase (its keys stay in its process): this command posts to its operator API
(`POST /v1/buy`, runtime/operator/purchase.py) through `SovaClient`. Exit 0: released, the result
printed; 1: no deal (the reason on one line), or the agent is not reachable; 2: bad input (JSON that
does not parse, a max price that is not an amount, input that does not match the seller's schema),
refused before anything is signed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, NoReturn

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, out, print_json
from runtime.errors import EXIT_BAD_INPUT, EXIT_PROBLEM

__all__ = ["buy"]

ServiceArg = Annotated[str, typer.Argument(help="the service to buy (sellers register under its name)")]
AsOption = Annotated[str, typer.Option("--as", help="the buyer agent (running) that buys and pays")]
InputOption = Annotated[
    str, typer.Option("--input", help='the service\'s input as JSON, e.g. \'{"text": "a b"}\'')
]
MaxPriceOption = Annotated[
    str | None, typer.Option("--max-price", help="pay at most this (only lowers the agent's policy cap)")
]
SellerOption = Annotated[str | None, typer.Option("--seller", help="buy from this agent (name or DID)")]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="seconds to wait for the deal to end")]


def buy(
    service: ServiceArg, buyer: AsOption, input: InputOption = "{}", max_price: MaxPriceOption = None,
    seller: SellerOption = None, as_json: JsonOption = False, file: ConfigOption = DEFAULT_CONFIG,
    timeout: TimeoutOption = 180.0,
) -> None:  # fmt: skip
    """Buy SERVICE as agent BUYER from a registered seller; print the result (exit 0) or why not (1)."""
    from runtime.operator.buy_models import max_price_problem, parse_input
    from runtime.operator.buying import BuyRefused, SovaClient
    from runtime.operator.client import OperatorApiError

    try:
        data = parse_input(input)
    except ValueError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    problem = max_price_problem(max_price)
    if problem is not None:
        _fail(problem, EXIT_BAD_INPUT)
    if not 0 < timeout <= 600:
        _fail(f"--timeout must be over 0 and at most 600 seconds, not {timeout:g}", EXIT_BAD_INPUT)
    try:
        client = SovaClient.for_agent(buyer, file)
    except OperatorApiError as exc:
        _fail(str(exc), EXIT_PROBLEM)

    async def run() -> object:
        async with client:
            return await client.buy(service, data, max_price=max_price, seller=seller, timeout=timeout)

    try:
        result = asyncio.run(run())
    except BuyRefused as exc:
        _fail(f"not bought: {exc}", EXIT_BAD_INPUT if exc.status in (400, 413, 422) else EXIT_PROBLEM)
    except OperatorApiError as exc:
        _fail(str(exc), EXIT_PROBLEM)
    from runtime.operator.buy_models import BuyResult

    assert isinstance(result, BuyResult)
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif result.ok:
        out.print(f"deal {result.deal_id or result.thread}: {result.service} from {result.seller}, "
                  f"{result.price} {result.token}, released")  # fmt: skip
        out.print(json.dumps(result.output, indent=2, sort_keys=True))
    if not result.ok:
        _fail(f"no deal: {result.reason or result.state}", EXIT_PROBLEM)


def _fail(line: str, code: int) -> NoReturn:
    sys.stderr.write(" ".join(line.split()) + "\n")
    raise typer.Exit(code)
