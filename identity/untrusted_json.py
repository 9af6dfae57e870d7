"""JSON from peers, parsed with a nesting limit checked *before* the parser runs.

The eth stack (py_ecc) raises Python's recursion limit to 100,000 at import, so the C JSON scanner
no longer stops deep input with RecursionError: `[[[[…` a few tens of thousands deep overflows
the C stack and kills the process. Anything a peer or the network hands us goes through
`loads_untrusted`, which refuses such input cheaply and then parses normally.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The JSON text nests arrays/objects deeper than allowed."""


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
    """`json.loads`, but TooDeep (a ValueError) for input nested deeper than `max_depth`."""
    if too_deep(text, max_depth):
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)
