"""How agents.yaml problems are reported: the YAML path of a pydantic error, its line, and one
sentence saying what to do (used by `runtime.config`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from policies.yamlsource import LocatedYaml

__all__ = ["BUILTIN_GOALS", "PathError", "duplicate_names", "format_path", "problems"]

BUILTIN_GOALS = ("buy", "sell", "issue", "llm_task")
"""The goal kinds Sova has; a plugin may add more."""


class PathError(ValueError):
    """A root-level validation error that knows the path it is about."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def format_path(path: tuple[str | int, ...]) -> str:
    """('agents', 1, 'brain', 'target') -> 'agents[1].brain.target'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problems(exc: ValidationError, located: LocatedYaml) -> Iterator[tuple[int, str, str]]:
    for err in exc.errors(include_url=False):
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PathError):
            yield located.line_of(ctx_error.path), format_path(ctx_error.path), ctx_error.message
            continue
        # Drop the union tag pydantic inserts (e.g. 'local', 'rules') so paths match the YAML.
        path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _TAGS))
        yield located.line_of(path), format_path(path), _explain(err, path)


_TAGS = {"local", "rpc", "rules", "llm", "buy", "sell", "issue", "llm_task", "plugin"}


def _explain(err: Any, path: tuple[str | int, ...]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {path[-1]!r}: remove it or check its spelling (`sova config schema` lists keys)"
    if kind == "missing":
        return f"required key {path[-1]!r} is missing: add it"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind {ctx.get('tag')!r}: use one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        if len(path) >= 2 and path[-2] == "goals":
            return f"`kind` is missing: add one of {', '.join(BUILTIN_GOALS)} or a goal kind of a plugin"
        return f"`kind` is missing: add one of {err.get('ctx', {}).get('discriminator', 'kind')}"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    return f"{msg} (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else msg


def duplicate_names(located: LocatedYaml) -> list[tuple[int, str, str]]:
    agents = located.data.get("agents") if isinstance(located.data, dict) else None
    if not isinstance(agents, list):
        return []
    names = [a.get("name") if isinstance(a, dict) else None for a in agents]
    out = []
    for i, name in enumerate(names):
        if name is not None and name in names[:i]:
            first = names.index(name)
            path = ("agents", i, "name")
            msg = f"duplicate agent name {name!r} (also agents[{first}]): give each agent its own name"
            out.append((located.line_of(path), format_path(path), msg))
    return out
