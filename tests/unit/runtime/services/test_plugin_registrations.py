"""What a plugin registers besides services — skills, policy rule kinds, strategies, goal kinds — each
on the loading agent's own Extensions, and each bad registration refused with one line."""

from __future__ import annotations

import asyncio
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from policies import Facts, Intent, evaluate, parse_policy
from runtime.agent.goals import PluginGoalJob
from runtime.brains.rules import RuleDecider, Situation
from runtime.config import PluginGoal, RuleBrain
from runtime.services import Extensions, GoalContext, PluginError, load_extensions
from tests.support.executor import TUSD, make_rig

TIPJAR = "tests.fixtures.plugins.tipjar"

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [tip]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: max_tip
    max: "5"
"""


def tipjar() -> Extensions:
    return load_extensions([TIPJAR], Path("."))


def write(tmp_path: Path, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return name


def tip_intent(amount: str) -> Intent:
    return Intent(skill="tip", agent="did:key:z6Mk", chain_id=31337, token="TUSD", amount=Decimal(amount))


# --- skills ---------------------------------------------------------------------------------------


def test_a_plugin_skill_joins_the_built_in_skills_in_the_agents_catalog() -> None:
    ext = tipjar()
    assert ext.skills.names() == ["tip"]
    catalog = ext.catalog(["tip", "transfer_token"])
    assert catalog.names() == ["tip", "transfer_token"]
    assert "tip" in ext.skill_names()
    assert "sign_deal" in ext.skill_names()


def test_a_plugin_skill_plans_an_intent_and_exact_effects_and_a_denied_one_is_never_signed(
    tmp_path: Path,
) -> None:
    ext = tipjar()
    with make_rig(
        tmp_path, POLICY, catalog=ext.catalog(), rule_kinds=ext.rule_kinds, skills=sorted(ext.skill_names())
    ) as rig:
        planned = ext.catalog()["tip"].plan(
            rig.context, ext.catalog()["tip"].parse({"to": "seller", "amount": "2"})
        )
        assert planned.intent.skill == "tip"
        assert planned.intent.amount == Decimal(2)
        assert [e.describe()["label"] for e in planned.effects] == ["TestUSD.transfer"]
        outcome = asyncio.run(rig.executor.execute("tip", {"to": "seller", "amount": "9"}, origin="test"))
        assert outcome.status == "denied"
        assert "a tip of 9 is over 5" in outcome.message()
        assert rig.signer.signatures == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """
            from skills import Skill, SkillArgs
            class A(SkillArgs): pass
            class Pay(Skill[A]):
                name = "transfer_token"
                args_model = A
                def plan(self, ctx, args): ...
                async def run(self, ctx, planned, signer): ...
            def register(plugin):
                plugin.skill(Pay)
            """,
            "plugin bad: skill 'transfer_token' is built in: give yours another name",
        ),
        (
            """
            from skills import Skill, SkillArgs
            class A(SkillArgs): pass
            class Half(Skill[A]):
                name = "half"
                args_model = A
                def plan(self, ctx, args): ...
            def register(plugin):
                plugin.skill(Half)
            """,
            "plugin bad: skill Half does not define `run`",
        ),
        (
            """
            from skills import Skill, SkillArgs
            class A(SkillArgs): pass
            class Odd(Skill[A]):
                name = "Pay Me"
                args_model = A
                def plan(self, ctx, args): ...
                async def run(self, ctx, planned, signer): ...
            def register(plugin):
                plugin.skill(Odd)
            """,
            "plugin bad: skill Odd needs a `name` of a-z, 0-9 and _ (≤ 64), not 'Pay Me': it is also the "
            "LLM's tool name and what policies list",
        ),
        (
            """
            def register(plugin):
                plugin.skill(object)
            """,
            "plugin bad: @plugin.skill takes a skills.Skill subclass, not <class 'object'>",
        ),
    ],
)
def test_a_bad_plugin_skill_is_one_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PluginError) as raised:
        load_extensions([write(tmp_path, "bad", body)], tmp_path)
    assert str(raised.value) == message


# --- rule kinds -----------------------------------------------------------------------------------


def test_a_plugin_rule_kind_denies_and_deny_beats_every_allow() -> None:
    policy = parse_policy(POLICY, tokens=[TUSD], skills=["tip"], rule_kinds=tipjar().rule_kinds)
    assert evaluate(policy, tip_intent("4"), Facts()).verdict == "allow"
    decision = evaluate(policy, tip_intent("6"), Facts())
    assert decision.verdict == "deny"
    assert [(r.kind, r.verdict) for r in decision.reasons] == [
        ("allow_skills", "allow"),
        ("spend_limit", "allow"),
        ("max_tip", "deny"),
    ]


def test_a_plugin_rule_kinds_allow_grants_no_skill_default_deny_stays() -> None:
    text = POLICY.replace("skills: [tip]", "skills: [transfer_token]")
    policy = parse_policy(
        text, tokens=[TUSD], skills=["tip", "transfer_token"], rule_kinds=tipjar().rule_kinds
    )
    decision = evaluate(policy, tip_intent("1"), Facts())
    assert decision.verdict == "deny"
    assert any(r.kind == "max_tip" and r.verdict == "allow" for r in decision.reasons)
    assert any(r.message == "no rule allows skill tip" for r in decision.reasons)


def test_a_policy_without_the_plugin_does_not_know_its_rule_kind() -> None:
    from policies import PolicyFileError

    with pytest.raises(PolicyFileError) as raised:
        parse_policy(POLICY, tokens=[TUSD], skills=["tip"])
    assert raised.value.problems == [
        "<policy>:9: rules[2].kind: unknown rule kind 'max_tip': (kinds: allow_skills, spend_limit, "
        "counterparties, require_credential, contracts, rate_limit, time_window, approval, spenders, "
        "deal_price, domains)"
    ]


def test_a_plugin_rule_is_validated_like_a_built_in_one_with_lines() -> None:
    from policies import PolicyFileError

    text = POLICY.replace('max: "5"', "max: 5.5\n    maxx: 1")
    with pytest.raises(PolicyFileError) as raised:
        parse_policy(text, tokens=[TUSD], skills=["tip"], rule_kinds=tipjar().rule_kinds)
    assert raised.value.problems == [
        '<policy>:10: rules[2].max: amounts are decimal strings, not floats: write "5.5" in quotes',
        "<policy>:11: rules[2].maxx: unknown key 'maxx': remove it or check its spelling (keys: kind, max)",
    ]


RULE = """
from typing import Literal
from policies import CustomRule
class Odd(CustomRule):
    kind: Literal["odd"]
    {body}
def register(plugin):
    plugin.rule_kind(Odd)
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "limit: int = 1",
            "plugin bad: rule kind 'odd' (Odd) has no evaluation: define "
            "`def evaluate(self, intent, facts)` returning None or ('allow' | 'deny', why)",
        ),
    ],
)
def test_a_rule_kind_without_an_evaluation_is_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PluginError) as raised:
        load_extensions([write(tmp_path, "bad", RULE.format(body=body))], tmp_path)
    assert str(raised.value) == message


def test_a_rule_kind_without_a_kind_literal_or_with_a_built_in_name_is_refused(tmp_path: Path) -> None:
    body = RULE.replace('kind: Literal["odd"]', "kind: str").format(body="def evaluate(self, i, f): ...")
    with pytest.raises(PluginError, match=r'needs a field `kind: Literal\["its_name"\]`'):
        load_extensions([write(tmp_path, "bad1", body)], tmp_path)
    body = RULE.replace('"odd"', '"spend_limit"').format(body="def evaluate(self, i, f): ...")
    with pytest.raises(PluginError, match="rule kind 'spend_limit' is built in"):
        load_extensions([write(tmp_path, "bad2", body)], tmp_path)


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ("raise KeyError('x')", "rule kind odd failed: KeyError: 'x'"),
        (
            "return ('escalate', 'ask')",
            "rule kind odd answered ('escalate', 'ask'): an evaluation answers "
            "None or ('allow' | 'deny', why)",
        ),
        ("return True", "rule kind odd answered True: an evaluation answers None or ('allow' | 'deny', why)"),
    ],
)
def test_a_rule_kind_that_fails_or_answers_wrongly_denies(
    tmp_path: Path, evaluation: str, message: str
) -> None:
    body = RULE.format(body=f"def evaluate(self, intent, facts):\n        {evaluation}")
    ext = load_extensions([write(tmp_path, f"odd{abs(hash(evaluation))}", body)], tmp_path)
    text = "version: 1\nrules:\n  - {kind: allow_skills, skills: [tip]}\n  - {kind: odd}\n"
    policy = parse_policy(text, tokens=[TUSD], skills=["tip"], rule_kinds=ext.rule_kinds)
    decision = evaluate(policy, Intent(skill="tip", agent="did:x", chain_id=1), Facts())
    assert decision.verdict == "deny"
    assert decision.reasons[-1].message == message


# --- strategies -----------------------------------------------------------------------------------


def situation(their: str | None, round_no: int) -> Situation:
    price = None if their is None else Decimal(their)
    return Situation("seller", "x", "peer", "t", "TUSD", price, None, round_no, 0.0)


def test_a_plugin_strategy_shapes_the_rules_brain_within_its_reservation() -> None:
    config = RuleBrain(strategy="stubborn", target="20", reservation="10", rounds=10, deadline="1h")
    stubborn, linear = (
        RuleDecider(config, tipjar().strategies),
        RuleDecider(config.model_copy(update={"strategy": "linear"})),
    )
    assert stubborn.move(situation(None, 0)).price == Decimal(20)
    # halfway, linear has conceded half the way; stubborn t^4 = 1/16 of it
    assert linear.move(situation("1", 4)).price == Decimal(15)
    assert stubborn.move(situation("1", 4)).price == Decimal("19.375")


def test_a_strategy_never_moves_the_brain_past_its_reservation_and_a_failing_one_rejects(
    tmp_path: Path,
) -> None:
    body = """
    def register(plugin):
        plugin.strategy("wild")(lambda t: 7)
        plugin.strategy("broken")(lambda t: 1 / 0)
        plugin.strategy("words")(lambda t: "half")
    """
    ext = load_extensions([write(tmp_path, "strat", body)], tmp_path)
    config = RuleBrain(strategy="wild", target="20", reservation="10", rounds=10, deadline="1h")
    assert RuleDecider(config, ext.strategies).move(situation("1", 4)).price == Decimal(10)
    for name, why in (("broken", "ZeroDivisionError: division by zero"), ("words", "InvalidOperation")):
        move = RuleDecider(config.model_copy(update={"strategy": name}), ext.strategies).move(
            situation(None, 0)
        )
        assert move.kind == "reject"
        assert move.reason.startswith(f"strategy {name} failed: {why}")


# --- goals ----------------------------------------------------------------------------------------


def test_a_plugin_goal_reaches_effects_only_through_the_executor(tmp_path: Path) -> None:
    ext = tipjar()
    said: list[str] = []
    with make_rig(
        tmp_path, POLICY, catalog=ext.catalog(), rule_kinds=ext.rule_kinds, skills=sorted(ext.skill_names())
    ) as rig:

        async def execute(skill: str, args: dict) -> object:
            return await rig.executor.execute(skill, args, origin="goal")

        context = GoalContext("buyer", rig.key.did, rig.signer.address, tmp_path, execute, said.append)
        goal = PluginGoal.model_validate({"kind": "tip_jar", "to": "seller", "amount": "8"})
        asyncio.run(PluginGoalJob(goal, ext, context)())
        assert said == ["tip_jar: tip DENIED: max_tip: a tip of 8 is over 5"]
        (decision,) = rig.entries("decision")
        assert (decision["skill"], decision["origin"], decision["verdict"]) == ("tip", "goal", "deny")
        assert decision["reasons"][-1]["kind"] == "max_tip"
        assert rig.signer.signatures == 0


def test_a_goal_kind_with_a_built_in_name_or_twice_is_refused(tmp_path: Path) -> None:
    body = """
    from pydantic import BaseModel
    class C(BaseModel): pass
    def register(plugin):
        plugin.goal("{name}", config=C)(lambda config, context: None)
    """
    with pytest.raises(PluginError, match=r"^plugin g1: goal kind 'buy' is built in"):
        load_extensions([write(tmp_path, "g1", body.replace("{name}", "buy"))], tmp_path)
    text = body.replace("{name}", "chores")
    with pytest.raises(PluginError, match=r"^plugin g3: goal kind 'chores' is registered twice$"):
        load_extensions([write(tmp_path, "g2", text), write(tmp_path, "g3", text)], tmp_path)


# --- duplicates across plugins --------------------------------------------------------------------


def test_a_second_plugin_registering_a_name_the_first_has_is_refused_naming_it(tmp_path: Path) -> None:
    copy = write(
        tmp_path, "tipjar_copy", (Path(__file__).parents[3] / "fixtures/plugins/tipjar.py").read_text()
    )
    with pytest.raises(PluginError) as raised:
        load_extensions([TIPJAR, copy], tmp_path)
    assert (
        str(raised.value)
        == "plugin tipjar_copy: skill tip is registered already: give the new one another name"
    )
    assert raised.value.plugin == "tipjar_copy"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            "plugin.rule_kind(tipjar.MaxTip)",
            "plugin dup: rule kind 'max_tip' is registered already: give the new one another name",
        ),
        (
            "plugin.strategy('stubborn')(lambda t: t)",
            "plugin dup: strategy 'stubborn' is registered already: give the new one another name",
        ),
        (
            "plugin.goal('tip_jar', config=tipjar.TipJar)(lambda c, x: None)",
            "plugin dup: goal kind 'tip_jar' is registered twice",
        ),
        (
            "plugin.service('shout', input=tipjar.Text, output=tipjar.Text, price='1')(lambda i, c: i)",
            "plugin dup: service 'shout' is registered twice",
        ),
    ],
)
def test_every_kind_of_name_is_registered_once(tmp_path: Path, second: str, message: str) -> None:
    body = f"from tests.fixtures.plugins import tipjar\ndef register(plugin):\n    {second}\n"
    with pytest.raises(PluginError) as raised:
        load_extensions([TIPJAR, write(tmp_path, "dup", body)], tmp_path)
    assert str(raised.value) == message


# --- entry points ---------------------------------------------------------------------------------


def test_an_installed_plugin_is_found_by_its_sova_plugins_entry_point_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "site" / "tipjar_dist-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tipjar-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[sova.plugins]\ntips = {TIPJAR}:register\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ext = load_extensions(["tips"], tmp_path / "project")
    assert ext.skills.names() == ["tip"]
    assert ext.plugins == ["tips"]


def test_a_plugin_found_nowhere_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(PluginError) as raised:
        load_extensions(["nowhere_at_all"], tmp_path)
    assert str(raised.value) == (
        "plugin nowhere_at_all cannot be imported: ModuleNotFoundError: No module named 'nowhere_at_all' "
        f"(looked for {tmp_path / 'nowhere_at_all.py'}, an entry point in sova.plugins and an installed "
        "module)"
    )


def test_a_strategy_no_plugin_registers_makes_the_brain_reject_not_crash() -> None:
    config = RuleBrain(strategy="gone", target="20", reservation="10")
    move = RuleDecider(config).move(situation(None, 0))
    assert (move.kind, move.reason) == (
        "reject",
        "unknown strategy 'gone' (known: boulware, conceder, linear)",
    )
