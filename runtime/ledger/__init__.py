"""The ledger: one hash-chained, signed SQLite log per agent.

`ledger` (the writer: appends, barriers, readers), `format` (entry encoding and hashing), `store`
(SQLite layout and readers), `group` (group commit), `sync` (fsync barriers), `verify` and `report`
(offline verification), `onchain` and `proof` (anchors read back from the chain, Merkle proofs) and
`anchor` (the scheduled anchoring of Merkle roots). It knows nothing of skills, deals or messages.
"""
