"""Compiling rules into checks: names resolved, amounts in base units, windows in minutes, once.

Each rule becomes a closure `check(ctx) -> Reason | None` over pre-computed values; None means the
rule does not apply to the intent (e.g. `contracts` for an intent that calls no contract). Reasons
whose message does not depend on amounts are built once and cached per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from policies.decision import Reason, Verdict
from policies.hosts import host_matches, host_of
from policies.intent import Facts, Intent
from policies.rules import (
    AllowSkills,
    Contracts,
    Counterparties,
    Domains,
    RateLimit,
    RequireCredential,
    RuleContext,
    TimeWindow,
)
from policies.units import TokenInfo, format_duration, normalize_id


@dataclass(slots=True)
class Ctx:
    """One intent and its facts, pre-digested for the checks (amounts in base units, ids normalized)."""

    intent: Intent
    facts: Facts
    token: TokenInfo | None
    amount: int
    spent_day: int
    spent_with: int
    with_units: Decimal
    parties: tuple[str, ...]


Check = Callable[[Ctx], Reason | None]
_CACHE_SIZE = 4096
_ZERO = Decimal(0)


def reason_of(rule: int, kind: str, verdict: Verdict, message: str) -> Reason:
    return Reason(rule=rule, kind=kind, verdict=verdict, message=message)


class ReasonCache:
    """Builds each distinct (key, verdict) reason of one rule once; `message` may be a callable so that
    a hit costs no formatting. Bounded: keys may include counterparties or skills."""

    __slots__ = ("_cache", "_kind", "_rule")

    def __init__(self, rule: int | None, kind: str) -> None:
        self._rule, self._kind = rule, kind
        self._cache: dict[tuple[object, Verdict], Reason] = {}

    def __call__(self, key: object, verdict: Verdict, message: str | Callable[[], str]) -> Reason:
        found = self._cache.get((key, verdict))
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            text = message if isinstance(message, str) else message()
            found = Reason(rule=self._rule, kind=self._kind, verdict=verdict, message=text)
            self._cache[(key, verdict)] = found
        return found


def resolve(entries: Iterable[str], ctx: RuleContext) -> frozenset[str]:
    """DIDs, addresses and agent names -> every identifier they stand for (normalized)."""
    out: set[str] = set()
    for entry in entries:
        out.add(normalize_id(entry))
        if ctx.names is not None:
            out.update(normalize_id(v) for v in ctx.names.get(entry, ()))
    return frozenset(out)


def allow_skills(i: int, rule: AllowSkills) -> Check:
    """Allows the skills it lists (the only kind that grants)."""
    skills = frozenset(rule.skills)
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        skill = ctx.intent.skill
        return reason(skill, "allow", f"{skill} is allowed") if skill in skills else None

    return check


def counterparties(i: int, rule: Counterparties, rctx: RuleContext) -> Check:
    """Denies listed counterparties and, with a non-empty allow list, everyone not on it."""
    denied, allowed = resolve(rule.deny, rctx), resolve(rule.allow, rctx)
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        if not ctx.parties:
            return None
        who = ctx.parties[0]
        if not denied.isdisjoint(ctx.parties):
            return reason(who, "deny", f"counterparty {who} is on the deny list")
        if allowed and allowed.isdisjoint(ctx.parties):
            return reason(who, "deny", f"counterparty {who} is not on the allow list")
        return reason(who, "allow", f"counterparty {who} is not denied")

    return check


def require_credential(i: int, rule: RequireCredential, rctx: RuleContext) -> Check:
    """Denies the listed skills unless the counterparty presented a `type` credential from an issuer."""
    issuers, kind, skills = resolve(rule.issuers, rctx), rule.type, frozenset(rule.for_skills)
    reason = ReasonCache(i, rule.kind)
    names = ", ".join(rule.issuers)

    def check(ctx: Ctx) -> Reason | None:
        skill, party = ctx.intent.skill, ctx.intent.counterparty
        if (skill not in skills) if skills else party is None:
            return None
        if party is None:
            return reason("", "deny", f"{skill} needs a counterparty with a {kind} credential; there is none")
        types = [c for c in party.credentials if c.type == kind]
        if any(normalize_id(c.issuer) in issuers for c in types):
            return reason("ok", "allow", f"counterparty has a {kind} credential from a trusted issuer")
        if types:
            return reason("issuer", "deny", f"counterparty's {kind} credential is not from {names}")
        return reason("none", "deny", f"counterparty has no {kind} credential (from {names})")

    return check


def contracts(i: int, rule: Contracts, rctx: RuleContext) -> Check:
    """Denies calls to contracts or methods not on the allow list."""
    methods: dict[str, frozenset[str]] = {}
    for name, listed in rule.allow.items():
        for ident in resolve([name], rctx):
            methods[ident] = methods.get(ident, frozenset()) | {normalize_id(m) for m in listed}
    allowed_names = ", ".join(rule.allow)
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        contract = ctx.intent.contract
        if contract is None:
            return None
        ok = methods.get(normalize_id(contract))
        method = ctx.intent.method or ctx.intent.selector
        key = f"{contract}.{method}"
        if ok is None:
            return reason(key, "deny", f"contract {contract} is not on the allow list ({allowed_names})")
        if method is None:
            return reason(key, "deny", f"a call to {contract} names no method")
        selector = ctx.intent.selector
        if normalize_id(method) in ok or (selector is not None and selector.lower() in ok):
            return reason(key, "allow", f"{contract}.{method} is allowed")
        return reason(key, "deny", f"method {method} of {contract} is not allowed ({', '.join(sorted(ok))})")

    return check


def rate_limit(i: int, rule: RateLimit) -> Check:
    """Denies an action when `max` actions already ran in the period."""
    limit, per = rule.max, format_duration(rule.per)
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        done = ctx.facts.actions_last_period
        if done >= limit:
            return reason("deny", "deny", f"{done} actions in the last {per}: the limit is {limit} per {per}")
        return reason("allow", "allow", f"under {limit} actions per {per}")

    return check


def time_window(i: int, rule: TimeWindow) -> Check:
    """Denies actions outside a UTC window; a window whose end is before its start spans midnight."""
    start_text, end_text = rule.utc.split("-")
    start = int(start_text[:2]) * 60 + int(start_text[3:])
    end = int(end_text[:2]) * 60 + int(end_text[3:])
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        now = ctx.facts.now
        minute = now.hour * 60 + now.minute
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if inside:
            return reason("in", "allow", f"inside the UTC window {rule.utc}")
        return reason(minute, "deny", lambda: f"{now:%H:%M} UTC is outside the window {rule.utc}")

    return check


def domains(i: int, rule: Domains) -> Check:
    """Denies a payment for a resource whose URL's host is denied, or not allowed by a non-empty allow."""
    allowed, denied = rule.allow, rule.deny
    reason = ReasonCache(i, rule.kind)

    def check(ctx: Ctx) -> Reason | None:
        url = ctx.intent.resource
        if url is None:
            return None
        host = host_of(url)
        if host is None:
            return reason(url, "deny", lambda: f"resource {url[:80]!r} has no http(s) host to judge")
        if any(host_matches(host, p) for p in denied):
            return reason(host, "deny", f"host {host} is on the deny list")
        if allowed and not any(host_matches(host, p) for p in allowed):
            return reason(host, "deny", f"host {host} is not on the allow list ({', '.join(allowed)})")
        return reason(host, "allow", f"host {host} is allowed")

    return check
