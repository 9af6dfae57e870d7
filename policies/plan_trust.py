"""Checks of the trust rule kinds (policies/trust.py): reputation and settled deals of a counterparty,
read from the facts the runtime filled in before evaluation."""

from __future__ import annotations

from policies.decision import Reason
from policies.plan import Check, Ctx, ReasonCache, resolve
from policies.rules import RuleContext
from policies.trust import MinReputation, MinSettledDeals, ReputationQuery
from policies.units import ADDRESS

__all__ = ["min_reputation", "min_settled_deals", "reputation_query"]


def reputation_query(rule: MinReputation, rctx: RuleContext) -> ReputationQuery:
    """The `getSummary` the rule needs: its clients resolved to wallets (validated to have one)."""
    wallets = [v for v in resolve(rule.clients, rctx) if ADDRESS.match(v)]
    if rule.clients and not wallets:  # validation guarantees one; an empty list would mean "everyone"
        raise ValueError(f"no wallet for the clients {', '.join(rule.clients)}")
    return ReputationQuery.of(tuple(wallets), rule.tag)


def _applies(ctx: Ctx, skills: frozenset[str]) -> bool:
    return ctx.intent.skill in skills


def min_reputation(i: int, rule: MinReputation, query: ReputationQuery) -> Check:
    """Denies the rule's skills unless the counterparty's paid feedback reaches `min` over
    `min_count` feedbacks."""
    skills, reason = frozenset(rule.for_skills), ReasonCache(i, rule.kind)
    whose = "paid feedback" + (f" with tag {rule.tag!r}" if rule.tag else "")
    whose += f" from {', '.join(rule.clients)}" if rule.clients else ""
    least, needed = rule.min, rule.min_count

    def check(ctx: Ctx) -> Reason | None:
        if not _applies(ctx, skills):
            return None
        skill = ctx.intent.skill
        if ctx.intent.counterparty is None:
            return reason(skill, "deny", f"{skill} needs a counterparty with a reputation; there is none")
        found = ctx.facts.reputation.get(query.key)
        if found is None:
            return reason(
                "unknown", "deny",
                "the counterparty's reputation could not be read (no ReputationRegistry, or the chain "
                "did not answer): a min_reputation rule denies until it can",
            )  # fmt: skip
        if found.count < needed:
            return Reason(
                rule=i, kind=rule.kind, verdict="deny",
                message=f"the counterparty has {found.count} {whose}; this policy needs at least {needed}",
            )  # fmt: skip
        if found.value < least:
            return Reason(
                rule=i, kind=rule.kind, verdict="deny",
                message=f"the counterparty's {whose} averages {found.value:f} over {found.count}, "
                f"under the minimum {least:f}",
            )  # fmt: skip
        return Reason(
            rule=i, kind=rule.kind, verdict="allow",
            message=f"the counterparty's {whose} averages {found.value:f} over {found.count} "
            f"(minimum {least:f})",
        )  # fmt: skip

    return check


def min_settled_deals(i: int, rule: MinSettledDeals) -> Check:
    """Denies the rule's skills unless the counterparty has `min` released deals on record."""
    skills, reason, least = frozenset(rule.for_skills), ReasonCache(i, rule.kind), rule.min

    def check(ctx: Ctx) -> Reason | None:
        if not _applies(ctx, skills):
            return None
        if ctx.intent.counterparty is None:
            skill = ctx.intent.skill
            return reason(skill, "deny", f"{skill} needs a counterparty with settled deals; there is none")
        found = ctx.facts.settled_deals
        if found is None:
            return reason(
                "unknown", "deny",
                "the counterparty's settled deals could not be read (no ReputationRegistry, or the chain "
                "did not answer): a min_settled_deals rule denies until they can",
            )  # fmt: skip
        verdict = "allow" if found >= least else "deny"
        return Reason(
            rule=i, kind=rule.kind, verdict=verdict,
            message=f"the counterparty has {found} settled deal(s) on record (minimum {least})",
        )  # fmt: skip

    return check
