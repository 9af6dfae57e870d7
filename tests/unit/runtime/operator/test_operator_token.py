"""The operator token file: random, 0600, created once, refused when others may read it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runtime.home import Home
from runtime.operator.token import TokenError, ensure_token, read_token, token_matches, token_path


def test_the_token_is_created_once_random_and_private(tmp_path: Path) -> None:
    home = Home(tmp_path / ".sova")
    assert read_token(home) is None
    token = ensure_token(home)
    assert len(token) >= 43
    assert stat.S_IMODE(token_path(home).stat().st_mode) == 0o600
    assert ensure_token(home) == token == read_token(home)
    assert ensure_token(Home(tmp_path / "other")) != token


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_token_file_others_can_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    home = Home(tmp_path)
    ensure_token(home)
    path = token_path(home)
    path.chmod(mode)
    with pytest.raises(TokenError) as caught:
        ensure_token(home)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"chmod 600 {path}" in message


def test_a_file_that_is_not_a_token_is_refused(tmp_path: Path) -> None:
    home = Home(tmp_path)
    token_path(home).write_text("short\n")
    token_path(home).chmod(0o600)
    with pytest.raises(TokenError, match="is not a token"):
        read_token(home)


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer T", False),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Basic {t}", False),
        ("Bearer {t}", True),
        ("bearer {t}", True),
        ("Bearer  {t} ", True),
        ("Bearer {t}x", False),
        ("Bearer x{t}", False),
        ("{t}", False),
    ],
)
def test_only_a_bearer_header_with_the_exact_token_matches(header: str | None, ok: bool) -> None:
    token = "A" * 43
    value = None if header is None else header.replace("{t}", token)
    assert token_matches(token, value) is ok


def test_an_empty_expected_token_matches_nothing() -> None:
    assert not token_matches("", "Bearer ")
