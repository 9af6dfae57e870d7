"""JSON Canonicalization Scheme (RFC 8785): one byte string for one JSON value.

Objects have their members sorted by the UTF-16 code units of the names, no whitespace, strings escaped
minimally (only `"`, `\\` and control characters) and written as UTF-8, numbers written the way
ECMAScript's `Number.prototype.toString` writes IEEE-754 doubles.

Integers outside ±(2**53 - 1) are refused rather than silently rounded: send big amounts as strings.

Fast path: most values signed here (envelopes, ledger entry data) hold only str / int / bool / None in
dicts with ASCII keys and lists. For those, the C encoder of the standard library writes the very same
text (`_plain` decides, see there), ~2x faster than the writer below, which handles everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_encode_string = json.JSONEncoder(ensure_ascii=False).encode
# The value is known acyclic and finite when it is used (`_plain` walked it all), hence no checks.
_encode_plain = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False, allow_nan=False
).encode


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None).

    Raises ValueError for values JSON cannot carry exactly: NaN, infinities, integers beyond 2**53 - 1,
    non-string object keys, lone surrogates, and types other than the JSON ones.
    """
    try:
        return canonical_text(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("JCS: a string holds a lone surrogate, which is not valid Unicode") from None


def canonical_text(value: Any) -> str:
    """The canonical JSON text (a str; encode it as UTF-8, which fails on lone surrogates)."""
    if _plain(value):
        return _encode_plain(value)
    return written_text(value)


def written_text(value: Any) -> str:
    """The canonical JSON text by the general writer alone (what the fast path must equal)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def json_string(text: str) -> str:
    """One JSON string literal as JCS writes it."""
    return _encode_string(text)


def _plain(value: Any) -> bool:
    """True when `json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))` is the
    canonical text: exact dict / list / tuple / str / int / bool / None, every int within ±(2**53 - 1)
    (json writes it as digits, like ECMAScript), no float (repr is not ECMAScript's format), every key a
    str of ASCII only. Python sorts keys by code point, JCS by UTF-16 code unit: the orders differ only
    for keys mixing astral characters with U+E000..U+FFFF, impossible with ASCII keys. Strings are
    escaped by the same `c_encode_basestring` as `_encode_string` (only `"`, `\\`, controls; lone
    surrogates pass through to fail at the UTF-8 encoding as in the writer). Leaves are checked inline
    (no call per leaf): this walk must stay well under the cost of the writer it saves."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                return False
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return (
            kind is str
            or value is None
            or kind is bool
            or (kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
        )
    for item in items:
        leaf = type(item)
        if leaf is str or item is None or leaf is bool:
            continue
        if leaf is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if (leaf is dict or leaf is list or leaf is tuple) and _plain(item):
            continue
        return False
    return True


def _write(value: Any, out: list[str]) -> None:  # noqa: C901 - one branch per JSON type, the hot path
    kind = type(value)  # exact types first: this runs for every message signed
    if kind is str:
        out.append(_encode_string(value))
    elif kind is dict:
        _write_object(value, out)
    elif kind is int:
        out.append(_int(value))
    elif kind is list or kind is tuple:
        _write_array(value, out)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is float:
        out.append(format_number(value))
    elif isinstance(value, str):
        out.append(_encode_string(str(value)))
    elif isinstance(value, int):
        out.append(_int(int(value)))
    elif isinstance(value, float):
        out.append(format_number(float(value)))
    elif isinstance(value, Mapping):
        _write_object(value, out)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        _write_array(value, out)
    else:
        raise ValueError(f"JCS: {type(value).__name__} is not a JSON type")


def _int(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    raise ValueError(f"JCS: integer {value} is outside ±(2**53 - 1): send it as a string")


def _write_array(value: Sequence[Any], out: list[str]) -> None:
    out.append("[")
    first = True
    for item in value:
        if not first:
            out.append(",")
        first = False
        _write(item, out)
    out.append("]")


def _write_object(value: Mapping[Any, Any], out: list[str]) -> None:
    try:
        names = sorted(value, key=_utf16_key)
    except AttributeError:  # a key without .encode: not a string
        bad = next(k for k in value if not isinstance(k, str))
        raise ValueError(f"JCS: object key {bad!r} is not a string") from None
    out.append("{")
    first = True
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"JCS: object key {name!r} is not a string")
        if not first:
            out.append(",")
        first = False
        out.append(_encode_string(name))
        out.append(":")
        _write(value[name], out)
    out.append("}")


def _utf16_key(name: str) -> bytes:
    # Sorting by UTF-16 code units; "surrogatepass" keeps lone surrogates sortable (encoding fails later).
    return name.encode("utf-16-be", "surrogatepass")


def format_number(value: float) -> str:
    """An IEEE-754 double as ECMAScript writes it (RFC 8785 §3.2.2.3): shortest round-trip digits."""
    if not math.isfinite(value):
        raise ValueError(f"JCS: {value} is not a JSON number")
    if value == 0:
        return "0"  # also for -0.0
    sign = "-" if value < 0 else ""
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # value = 0.<digits> * 10**n, where the decimal point sits len(int_part) places into int_part+frac_part.
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    n = len(int_part) - leading_zeros + (int(exp_text) if exp_text else 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exponent = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        text = (digits if k == 1 else digits[0] + "." + digits[1:]) + exponent
    return sign + text
