"""The agent runtime, as subpackages over a small floor (docs/architecture.md has the map).

Layers, top to bottom (import-linter checks them, `make imports`): `cli` > `agent` | `fleet` >
`operator` > `negotiation` > `brains` > `executor` | `a2a` | `chain` > `ledger` > the floor
(`errors`, `config`, `home`, `secrets`, `sqlite_store`, `pidfile`, `key_handoff`), which imports no
subpackage. Subpackages' `__init__` modules import nothing, so importing one module loads only what
it needs.
"""
