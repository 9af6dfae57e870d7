"""Line-aware YAML for policy files: the data, the line of every path in it, and duplicate keys.

PyYAML's composer keeps a start mark on every node; the data is built from the node tree and, beside
it, a map from the data path (`("rules", 1, "per_day")`) to its 1-based line. A duplicate key (which
PyYAML would silently let win) is recorded as a problem; the first value is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]


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
    """Parse one YAML document with line numbers; YamlSyntaxError when it is not YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(f"not valid YAML: {exc.problem or exc}", mark.line + 1 if mark else 0) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", 0) from None
    located = LocatedYaml()
    if node is not None:
        located.data = _build(node, (), located)
    return located


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
    finally:
        constructor.dispose()
