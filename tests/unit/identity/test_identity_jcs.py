"""RFC 8785 JSON canonicalization: the vectors of the RFC, and numbers against node's own output."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import canonicalize
from identity.jcs import MAX_SAFE_INTEGER, canonical_text, format_number, written_text

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
RFC_NUMBERS = {
    0x0000000000000000: "0",
    0x8000000000000000: "0",
    0x0000000000000001: "5e-324",
    0x8000000000000001: "-5e-324",
    0x7FEFFFFFFFFFFFFF: "1.7976931348623157e+308",
    0xFFEFFFFFFFFFFFFF: "-1.7976931348623157e+308",
    0x4340000000000000: "9007199254740992",
    0xC340000000000000: "-9007199254740992",
    0x4430000000000000: "295147905179352830000",
    0x44B52D02C7E14AF5: "9.999999999999997e+22",
    0x44B52D02C7E14AF6: "1e+23",
    0x44B52D02C7E14AF7: "1.0000000000000001e+23",
    0x444B1AE4D6E2EF4E: "999999999999999700000",
    0x444B1AE4D6E2EF4F: "999999999999999900000",
    0x444B1AE4D6E2EF50: "1e+21",
    0x3EB0C6F7A0B5ED8C: "9.999999999999997e-7",
    0x3EB0C6F7A0B5ED8D: "0.000001",
    0x41B3DE4355555553: "333333333.3333332",
    0x41B3DE4355555554: "333333333.33333325",
    0x41B3DE4355555555: "333333333.3333333",
    0x41B3DE4355555556: "333333333.3333334",
    0x41B3DE4355555557: "333333333.33333343",
    0xBECBF647612F3696: "-0.0000033333333333333333",
    0x43143FF3C1CB0959: "1424953923781206.2",
}


def as_double(bits: int) -> float:
    return float(struct.unpack(">d", bits.to_bytes(8, "big"))[0])


@pytest.mark.parametrize(("bits", "text"), RFC_NUMBERS.items())
def test_numbers_match_rfc8785_appendix_b(bits: int, text: str) -> None:
    assert format_number(as_double(bits)) == text


def test_members_are_sorted_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3
    data = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonicalize(data)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_example_serializes_byte_for_byte() -> None:
    data = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(data) == expected.encode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1: "a"}, "not a string"),
        ([float("nan")], "not a JSON number"),
        ([float("inf")], "not a JSON number"),
        ([2**53], "send it as a string"),
        ([b"raw"], "bytes is not a JSON type"),
        (["\ud800"], "lone surrogate"),
    ],
)
def test_values_json_cannot_carry_exactly_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonicalize(value)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_random_doubles_match_ecmascript() -> None:
    rng = random.Random(8785)
    values = [as_double(rng.getrandbits(64)) for _ in range(3000)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    script = (
        "const a = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        " console.log(JSON.stringify(a.map(String)))"
    )
    out = subprocess.run(
        ["node", "-e", script], input=json.dumps(values), capture_output=True, text=True, check=True
    )
    expected = json.loads(out.stdout)
    mismatches = [
        (v, format_number(v), e) for v, e in zip(values, expected, strict=True) if format_number(v) != e
    ]
    assert mismatches == []


# Strings that stress the fast path's assumptions: controls (short and \uXXXX escapes), '/', quotes,
# U+2028/2029, U+E000..U+FFFF next to astral characters (UTF-16 vs code point order), lone surrogates.
_TRICKY = st.sampled_from(
    ["\x00", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", '"', "\\", "/", "\u2028", "\u2029", "\ue000",
     "\uffff", "\ufb33", "\U0001f600", "\U00010000", "\ud800", "\udfff", "a", "\u00e9"]
)  # fmt: skip
_TEXT = st.one_of(st.text(), st.lists(_TRICKY, max_size=6).map("".join))
_NUMBER = st.one_of(
    st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.one_of(_TEXT, st.text(alphabet="abcXYZ_09", max_size=4)), inner, max_size=5),
    ),
    max_leaves=20,
)


def _outcome(write: Callable[[object], str], value: object) -> str:
    try:
        return f"text {write(value)!r}"
    except (ValueError, RecursionError) as exc:
        return f"error {type(exc).__name__}: {exc}"


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(_JSON)
def test_fast_path_writes_what_the_general_writer_writes(value: object) -> None:
    assert _outcome(canonical_text, value) == _outcome(written_text, value)


def test_fast_path_keeps_utf16_key_order_and_escapes() -> None:
    text = '\x01\x1f\b\f\n\r\t\u2028\u2029/"\\'
    data = {"\ufb33": 1, "\U0001f600": 2, "a/b": text, "n": [2**53 - 1, None]}
    expected = (
        '{"a/b":"\\u0001\\u001f\\b\\f\\n\\r\\t\u2028\u2029/\\"\\\\","n":[9007199254740991,null],'
        '"\U0001f600":2,"\ufb33":1}'
    )
    assert canonical_text(data) == expected
    assert canonical_text({"k": text}) == written_text({"k": text})
