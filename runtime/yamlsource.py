"""YAML loading that remembers where every value came from, so errors can name the line.

PyYAML's composer keeps a start mark on every node; we build plain Python data from the node tree
and, beside it, a map from the data path (`("agents", 1, "brain", "target")`) to its line number.
Duplicate keys in a mapping, which PyYAML silently lets the last one win, are reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class YamlProblem(Exception):
    """The text is not YAML we accept; `line` is 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class LocatedYaml:
    """Parsed data and the 1-based line of every path in it."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line:
                return line
        return 0


def load_located(text: str) -> LocatedYaml:
    """Parse one YAML document with line numbers; raise YamlProblem on bad YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlProblem(f"not valid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from None
    if node is None:
        return LocatedYaml(data=None)
    located = LocatedYaml(data=None)
    located.data = _build(node, (), located.lines)
    return located


def load_located_file(path: Path) -> LocatedYaml:
    return load_located(path.read_text(encoding="utf-8"))


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if isinstance(key, list | dict):
                raise YamlProblem("a mapping key must be a plain value", key_node.start_mark.line + 1)
            if key in out:
                raise YamlProblem(
                    f"duplicate key {key!r} (the first is on line {lines[(*path, key)]})",
                    key_node.start_mark.line + 1,
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines)
            # The key's own line is the most useful place to point at for the value too.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return [] if isinstance(node, yaml.SequenceNode) else {}
    constructor = yaml.SafeLoader(node.value)  # a constructor that knows the safe tags
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()
