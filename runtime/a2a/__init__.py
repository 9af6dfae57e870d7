"""Agent-to-agent messaging: the signed agent `card`, the negotiation `protocol` (transport-free), its
thread state machine (`threads`), the handler interface (`handler`), its ledger entries
(`protocol_log`), and the A2A transport: `server` (Starlette + a2a-sdk, behind the body `guard`) and
`client` (the messenger that talks to peers).
"""
