"""The chain an agent lives on: the local anvil node (`anvil`), node operations (`ops`: start, find,
fund), contract provisioning and key files (`provision`), the AgentRegistry reader (`registry`) and
the per-process chain session (`session`).

Nothing here signs for an agent: its effects on the chain go through the executor and the skills.
"""
