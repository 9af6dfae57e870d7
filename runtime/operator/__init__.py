"""The operator's side of one agent: the HTTP `api` and its `routes`, the event stream (`events`), the
facts it answers from (`facts`), the operator chat (`chat`, with ledger `entries` in its words),
EIP-712 operator decisions (`auth`), the bearer `token`, the `client` the console and the CLI use,
and `start` (serving it beside an agent, which it sees only through the small `OperatorSite`
protocol). Buying: `purchase` (the Purchaser behind `POST /v1/buy`, built by `purchase_site`),
`buy_models` (its request and result), `buying` (`SovaClient`, the Python client).
"""
