"""A fleet of agents on one machine: the `supervisor` behind `sova up` and `sova down` (spawn, restart,
key handoff, ready file), what it does first (`prepare`: keys, contracts, funds), the ports it keeps
per agent (`ports`), and the operator console (`console_server`, `console_fleet` and the static
page in `console/`).
"""
