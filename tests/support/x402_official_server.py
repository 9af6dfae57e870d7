"""A resource server protected by the official x402 SDK's FastAPI middleware (run as a process by the
interop tests; not a test). `GET /paid` costs `--amount` base units of `--asset` to `--pay-to` on
`eip155:<--chain-id>`. Its facilitator is either one over HTTP (`--facilitator URL`: Sova's) or the
SDK's own facilitator logic in-process (`--facilitator official --facilitator-key 0x… --rpc URL`).
It prints `READY <url>` once it listens.

    python tests/support/x402_official_server.py --chain-id 31337 --asset 0x… --pay-to 0x… \
        --amount 250000 --facilitator http://127.0.0.1:8402
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn
from fastapi import FastAPI
from x402 import x402Facilitator, x402ResourceServer
from x402.http import FacilitatorConfig, HTTPFacilitatorClient
from x402.http.middleware.fastapi import PaymentMiddlewareASGI
from x402.http.types import PaymentOption, RouteConfig
from x402.mechanisms.evm import FacilitatorWeb3Signer
from x402.mechanisms.evm.exact import register_exact_evm_facilitator, register_exact_evm_server


def build(args: argparse.Namespace) -> FastAPI:
    network = f"eip155:{args.chain_id}"
    if args.facilitator == "official":
        facilitator = x402Facilitator()
        signer = FacilitatorWeb3Signer(private_key=args.facilitator_key, rpc_url=args.rpc)
        register_exact_evm_facilitator(facilitator, signer, networks=network)
        client = facilitator
    else:
        client = HTTPFacilitatorClient(FacilitatorConfig(url=args.facilitator))
    server = register_exact_evm_server(x402ResourceServer(client), networks=network)
    price = {"amount": str(args.amount), "asset": args.asset, "extra": {"name": "Test USD", "version": "1"}}
    routes = {
        "GET /paid": RouteConfig(
            accepts=PaymentOption(scheme="exact", pay_to=args.pay_to, price=price, network=network),
            description="a paid joke",
        )
    }
    app = FastAPI()

    @app.get("/paid")
    async def paid() -> dict[str, str]:
        return {"joke": "a buyer, a seller and a facilitator walk into a block"}

    app.add_middleware(PaymentMiddlewareASGI, routes=routes, server=server)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain-id", type=int, required=True)
    parser.add_argument("--asset", required=True)
    parser.add_argument("--pay-to", required=True)
    parser.add_argument("--amount", type=int, required=True)
    parser.add_argument("--facilitator", required=True)
    parser.add_argument("--facilitator-key", default="")
    parser.add_argument("--rpc", default="")
    args = parser.parse_args()
    app = build(args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    print(f"READY http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    sys.exit(0)


if __name__ == "__main__":
    main()
