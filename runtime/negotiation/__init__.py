"""Deals from the first offer to release: the `buyer` side (and the peer book), the `seller` side,
`settlement` (sign, fund, deliver, release, refund), `resume` (deals a previous run left open) and
the per-agent deal store (`deals`).
"""
