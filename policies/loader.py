"""Reading policy files: `load_policy(path, tokens=..., names=...)` -> a compiled `Policy`.

A bad file raises PolicyFileError with one line per problem, e.g.
`policies/presets/buyer.yaml:7: rules[1].per_day: amounts are decimal strings, not floats: write
"200.5" in quotes`. Every problem found is reported, duplicate keys included, not only the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.custom import RuleKinds
from policies.engine import Policy, compile_policy
from policies.errors import PolicyFileError
from policies.rules import (
    DEFAULT_SKILLS,
    RULE_KINDS,
    ApprovalRule,
    PolicyFile,
    RateLimit,
    RuleContext,
    When,
    builtin_rule_models,
)
from policies.units import TokenInfo, TokenRegistry
from policies.yamlsource import LocatedYaml, YamlPath, YamlSyntaxError, load_located

_MODELS: dict[str, type[BaseModel]] = dict(zip(RULE_KINDS, builtin_rule_models(), strict=True))
Names = Mapping[str, str | Iterable[str]]
"""Agent (and contract) names -> the DIDs and 0x addresses they stand for."""


def load_policy(
    path: str | Path,
    *,
    tokens: TokenRegistry | Iterable[TokenInfo],
    names: Names | None = None,
    skills: Iterable[str] | None = None,
    extra_rules: Iterable[Mapping[str, Any]] = (),
    rule_kinds: RuleKinds | None = None,
) -> Policy:
    """Read, validate and compile a policy file; PolicyFileError lists every problem.

    `tokens` are the tokens the policy may name; `names` resolves agent names in `counterparties` and
    `issuers` (None: names are kept as given and match a counterparty's `name`); `skills` are the skill
    names that exist (default: the catalog's). `extra_rules` (rules as YAML would give them) are added
    after the file's own: what the agent's configuration binds besides its policy file, such as the
    `deal_price` of its buy goals. `rule_kinds`: custom rule kinds the file may use besides the
    built-in ones (policies/custom.py)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(
            [f"{where}: file not found: check the path (presets are in policies/presets/)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError([f"{where}: cannot read the file: {exc}"]) from None
    return parse_policy(
        text, source=where, tokens=tokens, names=names, skills=skills, extra_rules=extra_rules,
        rule_kinds=rule_kinds,
    )  # fmt: skip


def parse_policy(
    text: str,
    *,
    source: str = "<policy>",
    tokens: TokenRegistry | Iterable[TokenInfo],
    names: Names | None = None,
    skills: Iterable[str] | None = None,
    extra_rules: Iterable[Mapping[str, Any]] = (),
    rule_kinds: RuleKinds | None = None,
) -> Policy:
    """Like load_policy, for policy text; `source` names it in error lines."""
    kinds = rule_kinds if rule_kinds is not None else RuleKinds()
    registry = tokens if isinstance(tokens, TokenRegistry) else TokenRegistry(tokens)
    resolver = (
        None if names is None else {k: (v,) if isinstance(v, str) else tuple(v) for k, v in names.items()}
    )
    context = RuleContext(
        tokens=registry, skills=DEFAULT_SKILLS if skills is None else frozenset(skills), names=resolver
    )
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        raise PolicyFileError([f"{source}:{exc.line}: {exc}"]) from None
    if not isinstance(located.data, dict):
        raise PolicyFileError([f"{source}:1: a policy is a mapping: write `version: 1` and a `rules:` list"])
    found = [(line, _format(path), message) for line, path, message in located.duplicates]
    extra = [dict(rule) for rule in extra_rules]
    if extra and isinstance(located.data.get("rules"), list):
        located.data["rules"] = [*located.data["rules"], *extra]
    file: PolicyFile | None = None
    try:
        file = kinds.file_model().model_validate(located.data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        found += [_problem(err, located, kinds) for err in errors if not _echo(err)]
    if file is not None:
        found += _whole_file_problems(file, located)
    if found or file is None:
        raise PolicyFileError(
            [f"{source}:{line}: {path}: {message}" for line, path, message in sorted(found)]
        )
    return compile_policy(file, context, source)


def _echo(err: Any) -> bool:
    """pydantic adds 'too short' to a list whose items all failed: those items are reported already."""
    got = err.get("input")
    return bool(err["type"] == "too_short" and isinstance(got, list) and len(got) >= err["ctx"]["min_length"])


def _whole_file_problems(file: PolicyFile, located: LocatedYaml) -> list[tuple[int, str, str]]:
    rates = [i for i, rule in enumerate(file.rules) if isinstance(rule, RateLimit)]
    path: YamlPath
    out = []
    for i in rates[1:]:
        path = ("rules", i, "kind")
        message = f"a second rate_limit (the first is rules[{rates[0]}]): keep one, facts count one period"
        out.append((located.line_of(path), _format(path), message))
    return out


def _format(path: YamlPath) -> str:
    """('rules', 1, 'per_day') -> 'rules[1].per_day'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problem(err: Any, located: LocatedYaml, kinds: RuleKinds) -> tuple[int, str, str]:
    loc: YamlPath = tuple(err["loc"])
    if len(loc) > 2 and loc[0] == "rules" and (loc[2] in RULE_KINDS or loc[2] in kinds):
        loc = loc[:2] + loc[3:]  # drop the union tag pydantic inserts
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "kind")
    return located.line_of(loc), _format(loc), _explain(err, loc, located, kinds)


def _explain(err: Any, loc: YamlPath, located: LocatedYaml, custom: RuleKinds) -> str:
    kind, msg, got = err["type"], err["msg"], err.get("input")
    every = [*RULE_KINDS, *custom.names()]
    kinds = ", ".join(every)
    if kind == "union_tag_invalid":
        tag = str(err["ctx"]["tag"])
        close = difflib.get_close_matches(tag, every, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown rule kind {tag!r}: {hint}(kinds: {kinds})"
    if kind == "union_tag_not_found":
        return f"`kind` is missing: add one of {kinds}"
    if kind == "extra_forbidden":
        keys = _keys_at(loc[:-1], located, custom)
        return f"unknown key {loc[-1]!r}: remove it or check its spelling" + (
            f" (keys: {keys})" if keys else ""
        )
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing: add it"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {got!r}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list like [a, b], got {got!r}"
    if kind == "dict_type":
        return f"expected a mapping like {{key: value}}, got {got!r}"
    if kind == "string_type":
        return f"expected a string, got {got!r}: quote it"
    if kind == "too_short":
        return "must not be empty: list at least one"
    return f"{msg} (got {got!r})" if got is not None and not isinstance(got, dict | list) else str(msg)


def _keys_at(path: YamlPath, located: LocatedYaml, custom: RuleKinds) -> str:
    """The keys the model at `path` takes, for an 'unknown key' hint."""
    model: type[BaseModel] | None = PolicyFile if not path else None
    if len(path) >= 2 and path[0] == "rules":
        rule = _at(located.data, path[:2])
        kind = rule.get("kind", "") if isinstance(rule, dict) else ""
        model = _MODELS.get(kind) or custom.model(kind) if isinstance(kind, str) else None
        if model is ApprovalRule and path[2:] == ("when",):
            model = When
        elif len(path) > 2:
            model = None
    return ", ".join(model.model_fields) if model is not None else ""


def _at(data: Any, path: YamlPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
