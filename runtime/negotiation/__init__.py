"""Deals from the first offer to release: the `buyer` side, the agents met (`peers`), the `seller`
side, `settlement` (sign, fund, deliver, release, refund), `resume` (deals a previous run left open),
the per-agent deal store (`deals`, whose `advance` is the one path per deal step) and the shared
reading of a peer's `replies`.
"""
