"""The engine: compile a policy once (`compile_policy`), then `evaluate(policy, intent, facts)`.

What the rules mean:

- Default deny. Only `allow_skills` grants: an intent whose skill no `allow_skills` rule lists is denied
  with "no rule allows skill X". Every other kind only restricts (deny) or escalates, and only the
  intents it applies to:
  - `spend_limit`: intents with an amount > 0 of its token (transfers, approvals, a buyer's deal
    signatures and escrow opens); denies over `per_action`, and, for intents whose `spend` is true (all
    but approvals of the agent's own escrow), over `per_day` counting facts.spent_today, over
    `per_counterparty_day` counting facts.spent_today_with.
  - `deal_price`: the intents of its `for_skills` (sign_deal, open_escrow) with an amount of its token;
    denies a deal over `max`.
  - `spenders`: intents with a `spender` (approvals); denies a spender not listed. Without a
    `spenders` rule only DealEscrow may be approved (the engine applies that default itself).
  - `counterparties`: intents with a counterparty; denies one on `deny` (matched by DID, address or
    agent name) and, when `allow` is non-empty, one not on it.
  - `require_credential`: the `for_skills` (default: every intent with a counterparty); denies unless
    the counterparty presented a credential of `type` from one of `issuers` (no counterparty: deny).
  - `contracts`: intents that call a contract; denies an unlisted contract or method.
  - `domains`: intents with a `resource` (x402 payments: the URL); denies a host on `deny` and,
    when `allow` is non-empty, one not on it (or a URL without an http(s) host).
  - `rate_limit`: every intent; denies when facts.actions_last_period ≥ `max`.
  - `time_window`: every intent; denies when facts.now is outside the UTC window (end excluded).
  - `min_reputation` / `min_settled_deals` (policies/trust.py): the intents of their `for_skills`;
    deny unless facts.reputation / facts.settled_deals of the counterparty reach the minimum (a
    number the runtime could not read denies). `Policy.trust_need(intent)` says what to read.
  - a custom kind (policies/custom.py, registered by the runtime's plugins): the intents its
    `evaluate` says it applies to; its "deny" denies, its "allow" only adds a reason (it grants no
    skill), a failure or a malformed answer denies.
  - `approval`: escalates a spend over `amount_over` (in units of the intent's token, or only of
    `when.token`), or an intent whose counterparty is not in facts.known_counterparties.
- A spend of a token that no `spend_limit` covers is denied: a policy must say how much of a token
  may go. An intent the engine cannot judge (unknown token, more decimals than the token has) is
  denied with kind "intent".
- Deny beats escalate beats allow. The decision carries the reason of every rule that applied, in rule
  order, then the engine's own. An escalation asks for the most approvers and the shortest timeout of
  the rules that escalated.
- `evaluate` is pure and never raises: an unexpected error is a deny with kind "engine".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from policies.budget import ActionRate, SpendLimits
from policies.custom import custom_check
from policies.decision import Approval, Decision, Reason
from policies.intent import Facts, Intent
from policies.plan import (
    Check,
    Ctx,
    ReasonCache,
    allow_skills,
    contracts,
    counterparties,
    domains,
    rate_limit,
    require_credential,
    time_window,
)
from policies.plan_trust import min_reputation, min_settled_deals, reputation_query
from policies.plan_value import approval, deal_price, spend_limit, spenders
from policies.rules import (
    AllowSkills,
    ApprovalRule,
    Contracts,
    Counterparties,
    DealPrice,
    Domains,
    MinReputation,
    MinSettledDeals,
    PolicyFile,
    RateLimit,
    RequireCredential,
    Rule,
    RuleContext,
    Spenders,
    SpendLimit,
    TimeWindow,
)
from policies.trust import ReputationQuery, TrustNeed
from policies.units import EXACT, TokenInfo, TokenRegistry, to_base_units


class Policy:
    """A compiled policy: the validated rules and the checks built from them. Make it with
    `compile_policy` or `load_policy`; it is immutable and safe to share between threads."""

    __slots__ = (
        "_approvals", "_checks", "_default", "_limits", "_skills", "_trust", "_unlimited",
        "rate_limits", "rate_period", "rules", "source", "tokens",
    )  # fmt: skip

    def __init__(self, file: PolicyFile, context: RuleContext, source: str) -> None:
        self.source = source
        self.rules: tuple[Rule, ...] = file.rules
        self.tokens: TokenRegistry = context.tokens
        self._skills: frozenset[str] = frozenset()
        self._limits: dict[str, SpendLimits] = {}
        self._approvals: dict[int, Approval] = {}
        self._default, self._unlimited = ReasonCache(None, "default"), ReasonCache(None, "spend_limit")
        self.rate_period: timedelta | None = None
        """The rate_limit period: count facts.actions_last_period over it (None: no rate limit)."""
        self.rate_limits: tuple[ActionRate, ...] = ()
        """Every rate_limit rule, for `Budget.admit` (which checks and counts an action atomically)."""
        self._trust: dict[str, TrustNeed] = {}
        checks: list[Check] = []
        allowed_spenders: list[tuple[int, Spenders]] = []
        for i, rule in enumerate(file.rules):
            match rule:
                case AllowSkills():
                    self._skills |= frozenset(rule.skills)
                    checks.append(allow_skills(i, rule))
                case SpendLimit():
                    token = self._token(rule.token)
                    checks.append(spend_limit(i, rule, token))
                    self._limits[token.key] = self._limits.get(token.key, SpendLimits()).tighten(
                        *(
                            None if v is None else to_base_units(v, token.decimals)
                            for v in (rule.per_action, rule.per_day, rule.per_counterparty_day)
                        )
                    )
                case Counterparties() | RequireCredential() | Contracts():
                    checks.append(_WITH_CONTEXT[type(rule)](i, rule, context))
                case RateLimit():
                    checks.append(rate_limit(i, rule))
                    self.rate_period = min(rule.per, self.rate_period or rule.per)
                    self.rate_limits += (ActionRate(rule.max, rule.per),)
                case TimeWindow() | Domains():
                    checks.append(_PLAIN[type(rule)](i, rule))
                case ApprovalRule():
                    checks.append(approval(i, rule, self.tokens))
                    self._approvals[i] = _approval_of(rule)
                case Spenders():
                    allowed_spenders.append((i, rule))
                case DealPrice():
                    checks.append(deal_price(i, rule, self._token(rule.token)))
                case MinReputation() | MinSettledDeals():
                    checks.append(self._trust_check(i, rule, context))
                case _:  # a custom kind (policies/custom.py): validated by its model, judged by it
                    checks.append(custom_check(i, rule))
        checks.append(spenders(allowed_spenders, context))
        self._checks = tuple(checks)

    def _token(self, ref: str) -> TokenInfo:
        token = self.tokens.find(ref)
        if token is None:  # the rules were validated against the same registry
            raise ValueError(f"unknown token {ref!r}")
        return token

    def _trust_check(self, i: int, rule: MinReputation | MinSettledDeals, context: RuleContext) -> Check:
        """A trust rule's check; notes what the runtime must read for its skills."""
        if isinstance(rule, MinSettledDeals):
            need, check = TrustNeed(settled_deals=True), min_settled_deals(i, rule)
        else:
            query = reputation_query(rule, context)
            need, check = TrustNeed(reputation=(query,)), min_reputation(i, rule, query)
        for skill in rule.for_skills:
            had = self._trust.get(skill, TrustNeed())
            queries: tuple[ReputationQuery, ...] = tuple(dict.fromkeys(had.reputation + need.reputation))
            self._trust[skill] = TrustNeed(queries, had.settled_deals or need.settled_deals)
        return check

    def trust_need(self, intent: Intent) -> TrustNeed | None:
        """What the runtime must read of `intent`'s counterparty (reputation summaries, settled deals)
        and put into the Facts before `evaluate`; None when no trust rule applies (or no counterparty)."""
        if intent.counterparty is None:
            return None
        return self._trust.get(intent.skill)

    def spend_limits(self, token: str) -> SpendLimits | None:
        """The tightest limits of all spend_limit rules on `token` (symbol or address), in base units;
        None when no rule covers it. Pass them to `Budget.reserve`."""
        found = self.tokens.find(token)
        return None if found is None else self._limits.get(found.key)

    def __repr__(self) -> str:
        return f"Policy({self.source!r}, {len(self.rules)} rules)"


_PLAIN: dict[type, Callable[[int, Any], Check]] = {TimeWindow: time_window, Domains: domains}
"""Rule kinds whose check needs nothing but the rule."""
_WITH_CONTEXT: dict[type, Callable[[int, Any, RuleContext], Check]] = {
    Counterparties: counterparties, RequireCredential: require_credential, Contracts: contracts,
}  # fmt: skip
"""Rule kinds whose check needs the rule and the names it may refer to."""


def _approval_of(rule: ApprovalRule) -> Approval:
    return Approval(approvers=rule.approvers, timeout=rule.timeout)


def compile_policy(file: PolicyFile, context: RuleContext, source: str = "<policy>") -> Policy:
    """Compile validated rules into a Policy (names resolved, amounts in base units); do it once."""
    return Policy(file, context, source)


def evaluate(policy: Policy, intent: Intent, facts: Facts) -> Decision:
    """Judge one intent against a compiled policy and the facts; pure, never raises."""
    try:
        return _evaluate(policy, intent, facts)
    except Exception as exc:  # fail closed: an engine bug must never allow
        reason = Reason(rule=None, kind="engine", verdict="deny", message=f"engine error: {exc!r}")
        return Decision(verdict="deny", reasons=(reason,))


def _evaluate(policy: Policy, intent: Intent, facts: Facts) -> Decision:
    reasons: list[Reason] = []
    problems: list[Reason] = []
    ctx = _digest(policy, intent, facts, problems)
    for check in policy._checks:
        reason = check(ctx)
        if reason is not None:
            reasons.append(reason)
    reasons += problems
    if intent.skill not in policy._skills:
        skill = intent.skill
        reasons.append(policy._default(skill, "deny", lambda: f"no rule allows skill {skill}"))
    token = ctx.token
    if ctx.amount and token is not None and token.key not in policy._limits:
        symbol = token.symbol
        message = lambda: f"no spend_limit rule covers {symbol}: this policy spends none"  # noqa: E731
        reasons.append(policy._unlimited(token.key, "deny", message))
    verdicts = [r.verdict for r in reasons]
    if "deny" in verdicts:
        return Decision(verdict="deny", reasons=tuple(reasons))
    if "escalate" in verdicts:
        needed = [
            policy._approvals[r.rule] for r in reasons if r.verdict == "escalate" and r.rule is not None
        ]
        need = needed[0]
        if len(needed) > 1:
            need = Approval(
                approvers=max(a.approvers for a in needed), timeout=min(a.timeout for a in needed)
            )
        return Decision(verdict="escalate", reasons=tuple(reasons), approval=need)
    return Decision(verdict="allow", reasons=tuple(reasons))


def _engine(kind: str, message: str) -> Reason:
    return Reason(rule=None, kind=kind, verdict="deny", message=message)


def _digest(policy: Policy, intent: Intent, facts: Facts, problems: list[Reason]) -> Ctx:
    parties = intent.counterparty.ids() if intent.counterparty is not None else ()
    token, amount, spent_day, spent_with, with_units = None, 0, 0, 0, _ZERO
    if intent.token is not None:
        token = policy.tokens.find(intent.token)
        if token is None:
            problems.append(
                _engine("intent", f"unknown token {intent.token!r}: the runtime does not know it")
            )
    if token is not None:
        if intent.amount is not None:
            try:
                amount = to_base_units(intent.amount, token.decimals)
            except ValueError:
                problems.append(
                    _engine(
                        "intent",
                        f"{intent.amount:f} has more decimals than {token.symbol} ({token.decimals})",
                    )
                )
        spent_day = _ceil_base(facts.spent_today, token.decimals)
        with_ = facts.spent_today_with
        if with_ and parties:
            found = [v for p in parties if (v := with_.get(p)) is not None]
            if found:
                with_units = max(found)
                spent_with = _ceil_base(with_units, token.decimals)
    return Ctx(intent, facts, token, amount, spent_day, spent_with, with_units, parties)


_ZERO = Decimal(0)


def _ceil_base(value: Decimal, decimals: int) -> int:
    """Usage in base units, rounded up: facts with too many decimals never loosen a limit."""
    return int(value.scaleb(decimals, context=EXACT).to_integral_value(ROUND_CEILING, EXACT)) if value else 0
