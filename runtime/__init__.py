"""The agent runtime: config, CLI, chain chores; later the executor, ledger, protocol and supervisor."""
