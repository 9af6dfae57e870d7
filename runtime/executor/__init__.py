"""The one path to a side effect (DESIGN §3): the `executor` validates, plans, asks the policy, queues
escalations (`approvals`), signs only through a `narrow_signer` scoped to the approved Intent, and
writes every decision through the `action_log`.
"""
