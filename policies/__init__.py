"""Intents, decisions, policy rules, the engine and budgets (issue 4). Presets live in policies/presets/."""

from policies.budget import ActionRate, Admitted, Budget, Refusal, Reservation, Spend, SpendLimits
from policies.custom import CustomRule, RuleKindError, RuleKinds, RuleVerdict
from policies.decision import Approval, Decision, Reason, Verdict, explain
from policies.engine import Policy, compile_policy, evaluate
from policies.errors import BudgetError, PolicyError, PolicyFileError
from policies.intent import Counterparty, Credential, Facts, Intent, Reputation
from policies.loader import load_policy, parse_policy
from policies.rules import DEFAULT_SKILLS, PolicyFile, RuleContext
from policies.trust import ReputationQuery, TrustNeed
from policies.units import TokenInfo, TokenRegistry, format_units, parse_amount, to_base_units

__all__ = [
    "DEFAULT_SKILLS",
    "ActionRate",
    "Admitted",
    "Approval",
    "Budget",
    "BudgetError",
    "Counterparty",
    "Credential",
    "CustomRule",
    "Decision",
    "Facts",
    "Intent",
    "Policy",
    "PolicyError",
    "PolicyFile",
    "PolicyFileError",
    "Reason",
    "Refusal",
    "Reputation",
    "ReputationQuery",
    "Reservation",
    "RuleContext",
    "RuleKindError",
    "RuleKinds",
    "RuleVerdict",
    "Spend",
    "SpendLimits",
    "TokenInfo",
    "TokenRegistry",
    "TrustNeed",
    "Verdict",
    "compile_policy",
    "evaluate",
    "explain",
    "format_units",
    "load_policy",
    "parse_amount",
    "parse_policy",
    "to_base_units",
]
