"""The checks of the rules about value: `spend_limit`, `deal_price`, `spenders` and `approval`.

Like policies/plan.py (whose `Ctx` and `ReasonCache` they use): each rule becomes a closure over
values computed once (amounts in base units), returning None when the rule does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal

from policies.decision import Reason
from policies.plan import Check, Ctx, ReasonCache, reason_of, resolve
from policies.refs import ESCROW
from policies.rules import ApprovalRule, DealPrice, RuleContext, Spenders, SpendLimit
from policies.units import EXACT, TokenInfo, format_duration, normalize_id, to_base_units

_ZERO = Decimal(0)


def spend_limit(i: int, rule: SpendLimit, token: TokenInfo) -> Check:
    """Denies a spend of its token over the per-action, rolling-day or per-counterparty-day limit."""
    dec, sym = token.decimals, token.symbol
    per_action = None if rule.per_action is None else to_base_units(rule.per_action, dec)
    per_day = None if rule.per_day is None else to_base_units(rule.per_day, dec)
    per_cp = None if rule.per_counterparty_day is None else to_base_units(rule.per_counterparty_day, dec)
    key = token.key

    def check(ctx: Ctx) -> Reason | None:
        if ctx.token is None or ctx.token.key != key or ctx.amount == 0:
            return None
        amount = ctx.intent.amount or _ZERO
        over = []
        if per_action is not None and ctx.amount > per_action:
            over.append(f"{amount:f} {sym} is over the per-action limit of {rule.per_action:f}")
        spends = ctx.intent.spend  # else only per_action: something else holds the amount
        if spends and per_day is not None and ctx.spent_day + ctx.amount > per_day:
            over.append(
                f"{ctx.facts.spent_today:f} {sym} spent in the last 24 h + {amount:f} would pass the daily "
                f"limit of {rule.per_day:f}"
            )
        if spends and per_cp is not None and ctx.spent_with + ctx.amount > per_cp:
            over.append(
                f"{ctx.with_units:f} {sym} spent with this counterparty in the last 24 h + {amount:f} would "
                f"pass the per-counterparty limit of {rule.per_counterparty_day:f}"
            )
        if over:
            return reason_of(i, rule.kind, "deny", "; ".join(over))
        within = [f"{amount:f} {sym} is within the limits"]
        if spends and per_day is not None:
            within.append(f"{ctx.facts.spent_today + amount:f} of {rule.per_day:f} today")
        if spends and per_cp is not None and ctx.parties:
            within.append(
                f"{ctx.with_units + amount:f} of {rule.per_counterparty_day:f} with this counterparty"
            )
        return reason_of(i, rule.kind, "allow", ", ".join(within))

    return check


def deal_price(i: int, rule: DealPrice, token: TokenInfo) -> Check:
    """Denies a deal (of `for_skills`) that costs the agent more than `max` of its token."""
    cap, skills, key, sym = (
        to_base_units(rule.max, token.decimals),
        frozenset(rule.for_skills),
        token.key,
        token.symbol,
    )
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        if ctx.intent.skill not in skills or ctx.token is None or ctx.token.key != key or ctx.amount == 0:
            return None
        if ctx.amount > cap:
            amount = ctx.intent.amount or _ZERO
            return reason_of(
                i,
                rule.kind,
                "deny",
                f"a deal of {amount:f} {sym} is over the {rule.max:f} {sym} a deal may cost",
            )
        return reason("ok", "allow", f"within the {rule.max:f} {sym} a deal may cost")

    return check


def spenders(rules: Iterable[tuple[int, Spenders]], rctx: RuleContext) -> Callable[[Ctx], Reason | None]:
    """Denies an approval whose spender no `spenders` rule allows; without such a rule only the
    agent's DealEscrow is allowed (see policies.rules.Spenders). One check for all the rules."""
    listed = list(rules)
    allowed = (
        resolve([entry for _, rule in listed for entry in rule.allow], rctx)
        if listed
        else frozenset({normalize_id(ESCROW)})
    )
    where: int | None = listed[0][0] if listed else None
    reason = ReasonCache(where, "spenders")
    names = ", ".join(entry for _, rule in listed for entry in rule.allow) or ESCROW

    def check(ctx: Ctx) -> Reason | None:
        spender = ctx.intent.spender
        if spender is None:
            return None
        if normalize_id(spender) in allowed:
            return reason(spender, "allow", f"{spender} may be approved to pull tokens")
        return reason(
            spender,
            "deny",
            lambda: (
                f"{spender} may not be approved to pull this agent's tokens (only {names}; "
                "list it in a `spenders` rule to allow it)"
            ),
        )

    return check


def approval(i: int, rule: ApprovalRule, tokens: Iterable[TokenInfo]) -> Check:
    """Escalates spends over an amount, or intents with a counterparty not seen before."""
    when = rule.when
    reason = ReasonCache(i, rule.kind)
    needs = f"needs {rule.approvers} approval(s) within {format_duration(rule.timeout)}"
    if when.amount_over is not None:
        over = when.amount_over
        thresholds: Mapping[str, int] = {
            t.key: int(over.scaleb(t.decimals, context=EXACT).to_integral_value(ROUND_FLOOR, EXACT))
            for t in tokens
            if when.token is None or t.symbol == when.token or t.key == normalize_id(when.token)
        }

        def check_amount(ctx: Ctx) -> Reason | None:
            token = ctx.token
            if token is None or ctx.amount == 0 or token.key not in thresholds:
                return None
            if ctx.amount > thresholds[token.key]:
                return reason_of(
                    i,
                    rule.kind,
                    "escalate",
                    f"{ctx.intent.amount:f} {token.symbol} is over {over:f}: {needs}",
                )
            return reason(token.key, "allow", f"not over {over:f} {token.symbol}: no approval needed")

        return check_amount

    def check_new(ctx: Ctx) -> Reason | None:
        if not ctx.parties:
            return None
        who = ctx.parties[0]
        if ctx.facts.known_counterparties.isdisjoint(ctx.parties):
            return reason(who, "escalate", f"{who} is a new counterparty: {needs}")
        return reason(who, "allow", f"{who} is a known counterparty")

    return check_new
