"""A fleet of agents on one machine: the `supervisor` behind `sova up` and `sova down` (spawn, restart,
key handoff, ready file) and the operator console (`console_server`, `console_fleet` and the static
page in `console/`).
"""
