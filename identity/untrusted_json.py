"""JSON from peers, parsed with a nesting limit checked *before* the parser runs.

The eth stack (py_ecc) raises Python's recursion limit to 100,000 at import, so the C JSON scanner
no longer stops deep input with RecursionError: `[[[[…` a few tens of thousands deep overflows
the C stack and kills the process. Anything a peer or the network hands us goes through
`loads_untrusted`, which refuses such input cheaply and then parses normally.

It also refuses, as I-JSON (RFC 7493) does, what JSON's grammar allows but no one can use: a string
holding an unpaired UTF-16 surrogate escape (`"\\ud800"`: no Unicode text), and a number a double
cannot hold (`1e400`, which Python reads as inf) or Python's non-JSON `NaN` / `Infinity`. Each passes
`json.loads` and fails later wherever the value is stored, signed or sent on (UTF-8 encoding, JCS,
SQLite, `json.dumps(allow_nan=False)`), far from the input; here it is a ValueError at the edge.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
# Any escape that could start a surrogate; absent (the usual case), there is nothing more to check.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
# One escape sequence. `\\` is one too, so the JSON text "\\ud800" (an escaped backslash, then text) has none.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


class TooDeep(ValueError):
    """The JSON text nests arrays/objects deeper than allowed."""


class NotUnicode(ValueError):
    """A JSON string holds an unpaired UTF-16 surrogate (escaped, or raw in a Python str)."""


class BadNumber(ValueError):
    """A JSON number no double can hold (1e400), or NaN / Infinity (not JSON at all)."""


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadNumber(f"the number {text[:40]} is out of range: no double holds it")
    return value


def _constant(name: str) -> Any:
    raise BadNumber(f"{name} is not a JSON number")


# One decoder for every call: json.loads with hooks builds a new one each time (~3 µs of a ~6 µs parse).
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)


def lone_surrogate(text: bytes | bytearray | str) -> bool:
    """True when the JSON `text` holds a surrogate escape (\\ud800-\\udfff) that is not a high one
    directly followed by a low one, or (for a str) a raw surrogate code point."""
    if isinstance(text, str):
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return True
    else:
        data = bytes(text)
    if _SURROGATE_HINT.search(data) is None:
        return False
    high_ends = -1  # where the last unmatched high surrogate escape ended
    for match in _ESCAPE.finditer(data):
        unit = int(match.group(1), 16) if match.group(1) else -1
        if high_ends >= 0:
            if match.start() == high_ends and 0xDC00 <= unit <= 0xDFFF:
                high_ends = -1
                continue
            return True
        if 0xD800 <= unit <= 0xDBFF:
            high_ends = match.end()
        elif 0xDC00 <= unit <= 0xDFFF:
            return True
    return high_ends >= 0


def too_deep(text: bytes | bytearray | str, max_depth: int = MAX_DEPTH) -> bool:
    """True when `text` nests arrays/objects deeper than `max_depth` (brackets in strings ignored)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def loads_untrusted(text: bytes | bytearray | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, but TooDeep (a ValueError) for input nested deeper than `max_depth`, NotUnicode
    for a string holding a lone surrogate, and BadNumber for NaN, Infinity or a number past a double."""
    if too_deep(text, max_depth):
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    if lone_surrogate(text):
        raise NotUnicode("a JSON string holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text")
    if not isinstance(text, str):  # as json.loads does with bytes
        text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)
