"""The catalog: explicit, decorator-filled, no global state; the built-in skills and their schemas."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from policies import DEFAULT_SKILLS
from skills import (
    Catalog,
    Planned,
    Skill,
    SkillArgs,
    SkillContext,
    SkillError,
    SkillNotFound,
    default_catalog,
)
from skills.signing import NarrowSigner


class PingArgs(SkillArgs):
    to: str


def make_ping(skill_name: str = "ping") -> type[Skill[PingArgs]]:
    class Ping(Skill[PingArgs]):
        """Say hello to someone."""

        name = skill_name
        args_model = PingArgs

        def plan(self, ctx: SkillContext, args: PingArgs) -> Planned[PingArgs]:
            return Planned(ctx.intent(self.name), args)

        async def run(
            self, ctx: SkillContext, planned: Planned[PingArgs], signer: NarrowSigner
        ) -> dict[str, Any]:
            return {"pong": planned.args.to}

    return Ping


def test_the_decorator_registers_on_its_own_catalog_only() -> None:
    one, two = Catalog(), Catalog()
    ping = one.skill(make_ping())
    assert "ping" in one
    assert "ping" not in two
    assert one["ping"].description == "Say hello to someone."
    assert isinstance(one["ping"], ping)
    pong = two.skill()(make_ping("pong"))  # the called form works too
    assert two.names() == ["pong"]
    assert isinstance(two["pong"], pong)


def test_a_name_registered_twice_is_refused() -> None:
    catalog = Catalog()
    catalog.skill(make_ping())
    with pytest.raises(SkillError, match="registered already"):
        catalog.skill(make_ping())


def test_unknown_skill_names_the_known_ones() -> None:
    with pytest.raises(
        SkillNotFound,
        match=r"unknown skill 'pay_everyone' \(known: anchor_log, answer_validation, approve_token",
    ):
        default_catalog()["pay_everyone"]


def test_default_catalog_is_fresh_each_time_and_has_the_policy_skill_names() -> None:
    one, two = default_catalog(), default_catalog()
    assert one is not two
    assert set(one.names()) == DEFAULT_SKILLS
    one.skill(make_ping())
    assert "ping" not in two


def test_only_narrows_to_an_agents_skills() -> None:
    seller = default_catalog().only(["send_message", "sign_deal"])
    assert seller.names() == ["send_message", "sign_deal"]
    with pytest.raises(SkillNotFound):
        default_catalog().only(["sign_deal", "teleport"])


@pytest.mark.parametrize("skill", sorted(DEFAULT_SKILLS))
def test_every_skill_refuses_unknown_arguments_and_documents_itself(skill: str) -> None:
    s = default_catalog()[skill]
    schema = s.args_model.model_json_schema()
    assert schema.get("additionalProperties") is False
    assert len(s.description) > 20
    assert s.args_model.model_config.get("extra") == "forbid"


def test_amounts_are_strings_in_the_schema_a_model_sees() -> None:
    schema = default_catalog()["transfer_token"].args_model.model_json_schema()
    assert schema["properties"]["amount"]["type"] == "string"


def test_importing_skills_loads_no_chain_or_model_framework() -> None:
    heavy = "{'web3', 'eth_account', 'langchain', 'didkit'}"
    loaded = "{m.split('.')[0] for m in sys.modules}"
    code = f"import sys, skills; skills.default_catalog(); print(sorted({loaded} & {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
