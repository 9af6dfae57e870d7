"""Line-aware YAML for policy files: the data, the line of every path in it, and duplicate keys.

PyYAML's composer keeps a start mark on every node; the data is built from the node tree and, beside
it, a map from the data path (`("rules", 1, "per_day")`) to its 1-based line. A duplicate key (which
PyYAML would silently let win) is recorded as a problem; the first value is kept.

Any text gets an answer in bounded time and memory, as a YamlSyntaxError with a line: nesting deeper
than MAX_DEPTH (PyYAML composes recursively, so 100k `[` would exhaust the stack), more than
MAX_NODES values once aliases are expanded (an alias bomb composes to a few nodes but expands to
billions), an alias inside the node it names (a cycle), and scalars that PyYAML cannot construct (a
date like 2026-13-45, an integer over Python's 4,300-digit conversion limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists, aliases expanded; real configs and policies nest ~6 deep."""
MAX_NODES = 100_000
"""Most values (scalars, lists, mappings) in one document, every alias counted as what it stands for."""


class YamlSyntaxError(ValueError):
    """The text is not YAML; `line` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class LocatedYaml:
    """Parsed data, the line of each path, and (line, path, message) of each duplicate key."""

    data: Any = None
    lines: dict[YamlPath, int] = field(default_factory=dict)
    duplicates: list[tuple[int, YamlPath, str]] = field(default_factory=list)

    def line_of(self, path: YamlPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one (0 when none does)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line:
                return line
        return 0


def load_located(text: str) -> LocatedYaml:
    """Parse one YAML document with line numbers; YamlSyntaxError when it is not YAML or is past the
    bounds above."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(f"not valid YAML: {exc.problem or exc}", mark.line + 1 if mark else 0) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", 0) from None
    finally:
        loader.dispose()
    located = LocatedYaml()
    if node is not None:
        _Measure().size(node, 1)
        located.data = _build(node, (), located)
    return located


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting past MAX_DEPTH before it recurses any deeper."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _too_deep(self.peek_event().start_mark.line + 1)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _too_deep(line: int) -> YamlSyntaxError:
    return YamlSyntaxError(f"nested more than {MAX_DEPTH} levels deep: flatten the structure", line)


class _Measure:
    """Counts the values a composed node stands for once aliases are expanded, and how deep it nests,
    without expanding anything: an aliased node is one object in the tree, so its figures are kept.
    Refuses a cycle (an alias inside the node it names) and anything past MAX_DEPTH or MAX_NODES."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels)
        self.open: set[int] = set()

    def size(self, node: yaml.Node, depth: int) -> tuple[int, int]:
        """(values, levels) of `node`, found at nesting `depth` (the root is 1)."""
        line = node.start_mark.line + 1
        key = id(node)
        if key in self.open:
            raise YamlSyntaxError("an alias refers to the node that contains it: write the value out", line)
        values, levels = self.known.get(key) or self._count(node, depth, line)
        # The composer bounded the text's own nesting; an alias can still put a deep node deeper.
        if depth + levels - 1 > MAX_DEPTH:
            raise _too_deep(line)
        return values, levels

    def _count(self, node: yaml.Node, depth: int, line: int) -> tuple[int, int]:
        values, levels = 1, 1
        if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
            key = id(node)
            self.open.add(key)
            children = (
                node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            )
            for child in children:
                more, deep = self.size(child, depth + 1)
                values, levels = values + more, max(levels, deep + 1)
                if values > MAX_NODES:
                    raise YamlSyntaxError(
                        f"more than {MAX_NODES:,} values with aliases expanded: write fewer values "
                        "or use fewer aliases",
                        line,
                    )
            self.open.discard(key)
        self.known[id(node)] = (values, levels)
        return values, levels


def _build(node: yaml.Node, path: YamlPath, located: LocatedYaml) -> Any:
    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            line = key_node.start_mark.line + 1
            if isinstance(key, list | dict) or key is None:
                raise YamlSyntaxError("a mapping key must be a plain value", line)
            if key in out:
                first = located.lines[(*path, key)]
                message = f"duplicate key {key!r} (first on line {first}): keep one"
                located.duplicates.append((line, (*path, key), message))
                continue
            # The key's own line is the most useful place to point at, also for its value.
            located.lines[(*path, key)] = line
            out[key] = _build(value_node, (*path, key), located)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), located) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return [] if isinstance(node, yaml.SequenceNode) else {}
    constructor = yaml.SafeLoader("")  # a constructor that knows the safe tags
    try:
        return constructor.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        # PyYAML resolved the text to an int, a date or a float and could not build it.
        line, text = node.start_mark.line + 1, str(node.value)
        if node.tag.endswith(":int"):
            raise YamlSyntaxError(
                f"a number of {len(text):,} characters: far too long for any value", line
            ) from None
        kind = node.tag.rsplit(":", 1)[-1]
        shown = repr(text[:40] + ("…" if len(text) > 40 else ""))
        raise YamlSyntaxError(
            f"{shown} is not a valid {kind} ({exc}): quote it to keep it as text", line
        ) from None
    finally:
        constructor.dispose()
