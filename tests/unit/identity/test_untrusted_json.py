"""Deeply nested JSON from a peer is refused, never parsed — even after the eth stack has raised the
recursion limit to 100,000 (py_ecc does at import), where json.loads would overflow the C stack."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity import IdentityError, IdentityKey, InvalidEnvelope, ReplayStore, sign_envelope, verify_envelope
from identity.untrusted_json import BadNumber, NotUnicode, TooDeep, loads_untrusted, lone_surrogate, too_deep

DEEP = "[" * 200_000 + "]" * 200_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_deep_json_is_refused_before_parsing() -> None:
    with pytest.raises(TooDeep):
        loads_untrusted(DEEP)
    assert loads_untrusted('{"a": [[1]], "s": "[[[[[[[[[["}') == {"a": [[1]], "s": "[[[[[[[[[["}


def test_brackets_inside_strings_do_not_count() -> None:
    assert not too_deep('"' + "[" * 1000 + '"')
    assert too_deep("[" * 65 + "]" * 65)
    assert not too_deep("[" * 64 + "]" * 64)


def test_deep_envelope_payload_is_rejected_as_malformed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import wallet.chain  # noqa: F401 - the eth stack, which raises the recursion limit

    assert sys.getrecursionlimit() >= 1000
    key, me = IdentityKey.generate(), IdentityKey.generate()
    good = sign_envelope(key, type="cfp", thid="t", to=me.did, body={})
    header = good.split(".")[0]
    forged = f"{header}.{b64(DEEP.encode())}.{b64(bytes(64))}"
    replay = ReplayStore(tmp_path / "replay.sqlite")
    try:
        with pytest.raises((InvalidEnvelope, IdentityError)):
            verify_envelope(forged, recipient=me.did, replay=replay)
    finally:
        replay.close()


def test_process_with_eth_stack_survives_deep_credential_and_card() -> None:
    code = (
        "import wallet.chain, sys, asyncio, httpx\n"
        "from identity import parse_credential\n"
        "from runtime.a2a.card import fetch_card, InvalidCard\n"
        "deep = '[' * 200000 + ']' * 200000\n"
        "try:\n    parse_credential(deep)\n"
        "except Exception as e:\n    print('credential', type(e).__name__)\n"
        "async def main():\n"
        "    t = httpx.MockTransport(lambda r: httpx.Response(200, content=deep.encode()))\n"
        "    async with httpx.AsyncClient(transport=t) as http:\n"
        "        try:\n            await fetch_card('http://a.test', http=http)\n"
        "        except InvalidCard as e:\n            print('card', e.reason)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    assert "credential InvalidCredential" in result.stdout
    assert "card malformed" in result.stdout


# Code units to build JSON strings from: plain text, escaped backslashes, and every kind of surrogate.
_UNITS = [
    "a",
    "\\\\",
    "\\u0041",
    "\\ud83d",
    "\\ude00",
    "\\udbff",
    "\\udc00",
    "\\ud800",
    "\\udfff",
    '\\"',
    "é",
]


@given(units=st.lists(st.sampled_from(_UNITS), max_size=8), upper=st.booleans())
def test_lone_surrogate_is_exactly_what_utf8_cannot_encode(units: list[str], upper: bool) -> None:
    text = '"' + "".join(u.upper().replace("\\U", "\\u") if upper else u for u in units) + '"'
    value = json.loads(text)
    try:
        value.encode("utf-8")
        unicode = True
    except UnicodeEncodeError:
        unicode = False
    assert lone_surrogate(text) is not unicode
    assert lone_surrogate(text.encode()) is not unicode
    if unicode:
        assert loads_untrusted(text) == value
    else:
        with pytest.raises(NotUnicode):
            loads_untrusted(text)


def test_a_raw_surrogate_in_a_python_string_counts_too() -> None:
    assert lone_surrogate('"\ud800"')
    assert not lone_surrogate('"\U0001f600"')


@pytest.mark.parametrize("text", ["1e400", "-1e400", "[1, 2e308]", '{"a": NaN}', "Infinity", "-Infinity"])
def test_numbers_no_double_holds_are_refused(text: str) -> None:
    with pytest.raises(BadNumber):
        loads_untrusted(text)


def test_ordinary_numbers_still_parse() -> None:
    assert loads_untrusted('[0, -0.5, 1e308, 12345678901234567890, 2.5e-300]') == [
        0, -0.5, 1e308, 12345678901234567890, 2.5e-300,
    ]  # fmt: skip
