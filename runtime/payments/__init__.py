"""Per-request payments over x402 v2 (DESIGN §13): the wire format and its headers, the buyer's paid
fetch (a 402 -> the `pay_x402` skill through the executor -> retry -> the settlement checked on-chain),
a facilitator for scheme `exact` on `eip155:<chainId>` (`/supported`, `/verify`, `/settle`) and its
client, and the seller's paywall that verifies before a handler runs and settles after it."""
