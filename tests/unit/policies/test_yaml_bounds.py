"""Line-aware YAML (policies/yamlsource.py) answers any text in bounded time and memory, with a line."""

from __future__ import annotations

import time

import pytest

from policies.yamlsource import MAX_DEPTH, MAX_NODES, YamlSyntaxError, load_located


def refused(text: str) -> YamlSyntaxError:
    with pytest.raises(YamlSyntaxError) as info:
        load_located(text)
    return info.value


def alias_bomb(levels: int = 9) -> str:
    """The billion laughs: each anchor is a list of nine aliases of the one before (9**9 values)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once_naming_the_line() -> None:
    start = time.perf_counter()
    error = refused(alias_bomb())
    assert time.perf_counter() - start < 1.0
    assert f"more than {MAX_NODES:,} values with aliases expanded" in str(error)
    assert 2 <= error.line <= 9


def test_aliases_within_the_bound_still_expand() -> None:
    located = load_located("base: &base {price: '5', token: TUSD}\nother: *base\n")
    assert located.data == {"base": {"price": "5", "token": "TUSD"}, "other": {"price": "5", "token": "TUSD"}}


def test_hundred_thousand_open_brackets_are_refused_as_too_deep() -> None:
    error = refused("[" * 100_000)
    assert f"nested more than {MAX_DEPTH} levels deep" in str(error)
    assert error.line == 1


def test_nesting_at_the_limit_is_accepted() -> None:
    located = load_located("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    depth, value = 0, located.data
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == MAX_DEPTH


def test_alias_that_puts_a_deep_node_deeper_is_refused() -> None:
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    error = refused(f"a: &deep {deep}\nb: [[*deep]]\n")
    assert "levels deep" in str(error)


def test_alias_inside_its_own_anchor_is_refused() -> None:
    error = refused("loop: &me [1, *me]\n")
    assert "an alias refers to the node that contains it" in str(error)
    assert error.line == 1


def test_impossible_date_is_a_line_not_a_crash() -> None:
    error = refused("name: ok\nwhen: 2026-13-45\n")
    assert error.line == 2
    assert "'2026-13-45' is not a valid timestamp" in str(error)
    assert "quote it" in str(error)


def test_integer_past_python_digit_limit_is_a_line_not_a_crash() -> None:
    error = refused("amount: " + "9" * 5000 + "\n")
    assert error.line == 1
    assert "a number of 5,000 characters" in str(error)
