"""`sova config check` sees everything `sova up` would, and answers any file with one line, exit 2.

Each case runs the real `sova` console script on a file in a temp folder, as a user would. A good
answer is exit 2 with one `error:` line per problem naming the file and line, no traceback; never
exit 70 (internal error).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.cli import SOVA, Result, one_error_line, sova

GOOD_POLICY = "version: 1\nrules:\n  - kind: allow_skills\n    skills: [sign_deal]\n"


def fleet(tmp_path: Path, agents: str, policy: str = GOOD_POLICY) -> Path:
    """agents.yaml (dedented) and its policy file p.yaml in tmp_path."""
    (tmp_path / "p.yaml").write_text(textwrap.dedent(policy).lstrip())
    path = tmp_path / "agents.yaml"
    path.write_text(textwrap.dedent(agents).lstrip())
    return path


def buyer(**fields: str) -> str:
    """A one-agent agents.yaml: a buyer whose fields (YAML text) override the defaults."""
    values = {
        "skills": "[sign_deal]",
        "brain": '{kind: rules, target: "8", reservation: "12"}',
        "goals": '[{kind: buy, service: compute, every: 20s, max_price: "12"}]',
        **fields,
    }
    return "agents:\n  - name: buyer\n    policy: p.yaml\n" + "".join(
        f"    {k}: {v}\n" for k, v in values.items()
    )


def check(path: Path, timeout: float = 60) -> Result:
    return sova("config", "check", "-f", str(path), timeout=timeout)


def refused(path: Path, timeout: float = 60) -> str:
    """The one error line of a refused check (exit 2)."""
    result = check(path, timeout)
    assert result.code == 2, (result.code, result.out, result.err)
    return one_error_line(result)


def test_a_valid_fleet_with_its_policy_passes(tmp_path: Path) -> None:
    result = check(fleet(tmp_path, buyer()))
    assert result.code == 0, result.err
    assert "ok — 1 agents (buyer)" in result.out


# --- policy files are opened and validated ---------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "line", "expected"),
    [
        (GOOD_POLICY + "  - kind: teleport\n", 5, "rules[1].kind: unknown rule kind 'teleport'"),
        (
            GOOD_POLICY + "  - kind: spend_limit\n    token: TUSD\n    per_day: 200.5\n",
            7,
            'rules[1].per_day: amounts are decimal strings, not floats: write "200.5" in quotes',
        ),
        ("version: 1\nrules:\n  - kind: allow_skills\n    skills: [sign_deal, dance]\n", 4,
         "rules[0].skills[1]: unknown skill 'dance'"),
        (
            GOOD_POLICY + '  - kind: spend_limit\n    token: TUSD\n    per_action: "1e400"\n',
            7,
            "rules[1].per_action: '1e400' is not a decimal amount: write plain digits",
        ),
        # The policy loader's Decimal arithmetic overflows on this one: still a line, not exit 70.
        (
            GOOD_POLICY + '  - kind: spend_limit\n    token: TUSD\n    per_day: "1e999999"\n',
            7,
            "rules[1].per_day: '1e999999' is not a decimal amount: write plain digits",
        ),
    ],
    ids=["unknown-rule-kind", "float-amount", "unknown-skill", "exponent-amount", "overflowing-amount"],
)  # fmt: skip
def test_policy_file_problem_is_one_line_with_its_file_and_line(
    tmp_path: Path, policy: str, line: int, expected: str
) -> None:
    error = refused(fleet(tmp_path, buyer(), policy))
    assert error.startswith(f"error: {tmp_path / 'p.yaml'}:{line}: {expected}"), error


def test_every_policy_file_is_checked_once_even_when_agents_share_it(tmp_path: Path) -> None:
    agents = buyer() + "  - name: seller\n    policy: p.yaml\n"
    result = check(fleet(tmp_path, agents, GOOD_POLICY + "  - kind: teleport\n"))
    assert result.code == 2
    assert one_error_line(result).count("teleport") == 1


# --- agents.yaml: skills, names, intervals ------------------------------------------------------


def test_skill_the_catalog_does_not_know_is_refused(tmp_path: Path) -> None:
    error = refused(fleet(tmp_path, buyer(skills="[sign_deal, sign_dael]")))
    assert error.startswith(
        f"error: {tmp_path / 'agents.yaml'}:4: agents[0].skills[1]: unknown skill 'sign_dael'"
    )
    assert "did you mean 'sign_deal'?" in error


def test_sova_up_refuses_an_unknown_skill_before_starting_anything(tmp_path: Path) -> None:
    path = fleet(tmp_path, buyer(skills="[fly]"))
    result = sova("up", "--detach", "-f", str(path), timeout=60)
    assert result.code == 2
    assert "agents[0].skills[0]: unknown skill 'fly'" in one_error_line(result)
    assert not (tmp_path / ".sova" / "chain").exists()


def test_trusted_issuer_that_is_no_agent_is_refused(tmp_path: Path) -> None:
    error = refused(fleet(tmp_path, buyer(trusted_issuers="[isuer]")))
    assert "agents[0].trusted_issuers[0]: unknown agent 'isuer'" in error


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"goals": '[{kind: buy, service: compute, every: 0s, max_price: "12"}]'}, "goals[0].every"),
        ({"brain": '{kind: rules, target: "8", reservation: "12", deadline: 0ms}'}, "brain.deadline"),
        ({"goals": "[{kind: issue, type: VerifiedSupplier, valid_for: 0d}]"}, "goals[0].valid_for"),
    ],
    ids=["every", "deadline", "valid_for"],
)
def test_zero_interval_is_refused(tmp_path: Path, fields: dict[str, str], where: str) -> None:
    error = refused(fleet(tmp_path, buyer(**fields)))
    assert f"agents[0].{where}: duration '0" in error
    assert 'is zero: write a positive duration like "20s"' in error


def test_interval_too_long_for_a_timedelta_is_a_line_not_a_crash(tmp_path: Path) -> None:
    goals = '[{kind: buy, service: compute, every: 99999999999999999999d, max_price: "12"}]'
    error = refused(fleet(tmp_path, buyer(goals=goals)))
    assert "agents[0].goals[0].every: duration '99999999999999999999d' is too long" in error


# --- amounts: plain ASCII decimals, the token's decimals, uint256 -------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ('"1e400"', "'1e400' is not a decimal amount: write plain digits"),
        ('"٣٠"', "'٣٠' is not a decimal amount: use the ASCII digits 0-9"),
        ('"0.' + "1" * 80 + '"', "has 80 decimals, but TUSD has 6: round it to at most 6"),
        ('"8.1234567"', "has 7 decimals, but TUSD has 6"),
        ("9" * 400, "is too large: no TUSD amount is over 2**256 - 1 base units"),
        ('"' + "9" * 73 + '"', "is too large"),
        ('"-8"', "is negative"),
    ],
    ids=["exponent", "arabic-indic-digits", "80-decimals", "7-decimals", "400-digit-int", "73-digits",
         "negative"],
)  # fmt: skip
def test_amount_outside_the_strict_grammar_is_refused(tmp_path: Path, target: str, expected: str) -> None:
    error = refused(fleet(tmp_path, buyer(brain=f'{{kind: rules, target: {target}, reservation: "12"}}')))
    assert error.startswith(f"error: {tmp_path / 'agents.yaml'}:5: agents[0].brain.target: "), error
    assert expected in error
    assert len(error) < 300  # a hostile amount is never echoed in full


def test_largest_amount_a_token_can_hold_is_accepted(tmp_path: Path) -> None:
    most = str((2**256 - 1) // 10**6)  # 72 digits of TUSD, 6 decimals: uint256 in base units
    result = check(
        fleet(tmp_path, buyer(brain=f'{{kind: rules, target: "8", reservation: "{most}.639935"}}'))
    )
    assert result.code == 0, result.err


def test_fund_is_in_eth_so_it_may_have_18_decimals(tmp_path: Path) -> None:
    agents = 'chain: {kind: local, fund: "0.000000000000000001"}\n' + buyer()
    assert check(fleet(tmp_path, agents)).code == 0
    error = refused(fleet(tmp_path, 'chain: {kind: local, fund: "0.0000000000000000001"}\n' + buyer()))
    assert "chain.fund: amount '0.0000000000000000001' has 19 decimals, but ETH has 18" in error


# --- any file: one line, exit 2 -------------------------------------------------------------------


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "agents.yaml"
    path.write_text("\n".join(lines) + "\nagents: []\n")
    start = time.monotonic()
    error = refused(path, timeout=30)
    assert time.monotonic() - start < 15  # interpreter start included; the bomb itself costs ms
    assert "more than 100,000 values with aliases expanded" in error


def test_alias_bomb_in_a_policy_file_is_refused(tmp_path: Path) -> None:
    bomb = "x0: &x0 [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n" for i in range(1, 8)
    )
    error = refused(fleet(tmp_path, buyer(), "version: 1\nrules: []\n" + bomb))
    assert error.startswith(f"error: {tmp_path / 'p.yaml'}:")
    assert "aliases expanded" in error


def test_file_over_the_size_cap_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("# padding\n" * 200_000)
    error = refused(path)
    assert "2,000,000 bytes is too large for a config file (at most 1,048,576)" in error


def test_non_utf8_byte_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_bytes(b"agents:\n  - name: b\xffyer\n")
    error = refused(path)
    assert error == f"error: {path}:2: not UTF-8 (byte 0xff at column 12): save the file as UTF-8"


def test_hundred_thousand_nested_brackets_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents: " + "[" * 100_000)
    error = refused(path)
    assert error == f"error: {path}:1: nested more than 64 levels deep: flatten the structure"


def test_impossible_date_is_one_line(tmp_path: Path) -> None:
    error = refused(fleet(tmp_path, "agents:\n  - name: 2026-13-45\n    policy: p.yaml\n"))
    assert "agents.yaml:2: '2026-13-45' is not a valid timestamp" in error


def test_directory_is_one_line(tmp_path: Path) -> None:
    error = refused(tmp_path)
    assert error == f"error: {tmp_path}: not a regular file (a directory): give the path of a YAML file"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    os.mkfifo(path)
    error = refused(path, timeout=30)
    assert "not a regular file (a pipe)" in error


@pytest.mark.skipif(
    shutil.which("setpriv") is None, reason="needs setpriv (util-linux) to drop root's override"
)
def test_unreadable_file_is_one_line_not_a_usage_box(tmp_path: Path) -> None:
    path = fleet(tmp_path, buyer())
    path.chmod(0)
    # As root, reading ignores file modes; without these two capabilities it does not.
    command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    proc = subprocess.run(
        [*command, str(SOVA), "config", "check", "-f", str(path)],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2
    error = one_error_line(Result(proc.returncode, proc.stdout, proc.stderr))
    assert error == f"error: {path}: cannot read: permission denied: let this user read it (chmod u+r)"
