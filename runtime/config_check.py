"""Everything `sova up` will need from agents.yaml and the files it names, checked before anything
starts: `sova config check` and `sova up` call `check_config`.

Beyond `runtime.config.load_config` (the file itself, amounts, durations, policy files present):
- every plugin an agent names imports and registers without error (runtime/services/plugins.py);
- every skill, sold service, strategy and goal kind an agent names is built in or registered by one
  of its plugins, and a plugin goal's options validate against its kind's config model;
- every agent name it refers to exists (`trusted_issuers`, an issue goal's `to`, a sell goal's
  `validator`), and a validator can work: the seller has `request_validation`, the validator
  `answer_validation` and a plugin registering the service;
- an LLM brain that sells has its `fallback` rules brain (the agent would fail at start);
- an `llm_task` goal belongs to an agent with an LLM brain (its model does the task);
- every policy file is read like agents.yaml (size, encoding, bounded YAML) and validated by the
  policy loader (rule kinds — the plugins' too —, skills, tokens, agent names, floats), and its
  amounts are held to the strict grammar of `runtime.config_amounts`. A policy file is checked once
  per distinct set of plugins of the agents that use it.

All problems are reported at once, one line each: `FILE:LINE: path: what is wrong: how to fix it`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from policies.yamlsource import LocatedYaml, YamlPath, YamlSyntaxError, load_located
from runtime.config import (
    TUSD_DECIMALS,
    AgentsFile,
    IssueGoal,
    LlmBrain,
    SellGoal,
    TaskGoal,
    load_config_located,
)
from runtime.config_amounts import check_amount
from runtime.config_report import format_path
from runtime.config_text import read_config_text
from runtime.errors import ConfigError
from runtime.services.errors import PluginError
from runtime.services.extensions import Extensions

# Without a deployed chain TestUSD's address is unknown; policies name it by symbol anyway.
_PLACEHOLDER_TUSD = "0x" + "00" * 19 + "01"
# Keys whose values are amounts in policy rules (spend_limit, approval's `when`, deal_price's `max`;
# rate_limit's `max` is a count, and a count passes this check whenever it is a valid count).
POLICY_AMOUNT_KEYS = frozenset({"per_action", "per_day", "per_counterparty_day", "amount_over", "max"})

Problem = tuple[str, int, str, str]  # file, line, YAML path, message


def check_config(path: Path) -> AgentsFile:
    """Validate agents.yaml and everything it names; ConfigError with every problem found."""
    config, located = load_config_located(path)
    found: list[Problem] = []
    extensions = _plugins(path, config, located, found)
    found += _names(path, config, located)
    found += _validators(path, config, located, extensions)
    found += _brains(path, config, located)
    found.sort(key=lambda problem: problem[1])  # in file order (all are agents.yaml's)
    lines = [f"{file}:{line}: {where}: {message}" for file, line, where, message in found]
    checked: set[tuple[Path, tuple[str, ...]]] = set()
    for agent, ext in zip(config.agents, extensions, strict=True):
        if ext is None:
            continue  # its plugins did not load: its policy would only repeat that (rule kinds, skills)
        policy = path.parent / agent.policy
        if (policy, tuple(agent.plugins)) not in checked:
            checked.add((policy, tuple(agent.plugins)))
            lines += [line for line in _policy_problems(policy, config, ext) if line not in lines]
    if lines:
        raise ConfigError(lines)
    return config


def _plugins(
    path: Path, config: AgentsFile, located: LocatedYaml, found: list[Problem]
) -> list[Extensions | None]:
    """Each agent's plugins loaded (None for one whose plugins fail); their problems
    and the names its config uses that neither the built-ins nor its plugins have, into `found`."""
    from runtime.services.loading import name_problems
    from runtime.services.plugins import load_extensions

    out: list[Extensions | None] = []
    for i, agent in enumerate(config.agents):
        where: YamlPath
        try:
            ext = load_extensions(agent.plugins, path.parent)
        except PluginError as exc:
            j = agent.plugins.index(exc.plugin) if exc.plugin in agent.plugins else None
            where = ("agents", i, "plugins") if j is None else ("agents", i, "plugins", j)
            found.append((str(path), located.line_of(where), format_path(where), str(exc)))
            out.append(None)
            continue
        for inner, message in name_problems(agent, ext):
            where = ("agents", i, *inner)
            found.append((str(path), located.line_of(where), format_path(where), message))
        out.append(ext)
    return out


def _names(path: Path, config: AgentsFile, located: LocatedYaml) -> list[Problem]:
    agents = [a.name for a in config.agents]
    out = []

    def check(where: YamlPath, name: str, what: str) -> None:
        if name not in agents:
            message = (
                f"unknown agent {name[:40]!r}: {_suggest(name, agents)}{what} (agents: {', '.join(agents)})"
            )
            out.append((str(path), located.line_of(where), format_path(where), message))

    for i, agent in enumerate(config.agents):
        for j, ref in enumerate(agent.trusted_issuers):
            if not ref.startswith("did:"):
                check(("agents", i, "trusted_issuers", j), ref, "name an agent of this file or give a DID")
        for g, goal in enumerate(agent.goals):
            for j, name in enumerate(goal.to if isinstance(goal, IssueGoal) else []):
                check(("agents", i, "goals", g, "to", j), name, "name an agent of this file")
            if isinstance(goal, SellGoal) and goal.validator is not None:
                check(("agents", i, "goals", g, "validator"), goal.validator, "name an agent of this file")
    return out


def _validators(
    path: Path, config: AgentsFile, located: LocatedYaml, extensions: list[Extensions | None]
) -> list[Problem]:
    """A sell goal's validator answers (skill `answer_validation`) and runs the service (its plugins);
    its seller asks (skill `request_validation`)."""
    out = []
    agents = {agent.name: (agent, ext) for agent, ext in zip(config.agents, extensions, strict=True)}
    for i, agent in enumerate(config.agents):
        for g, goal in enumerate(agent.goals):
            if not isinstance(goal, SellGoal) or goal.validator not in agents:
                continue
            validator, ext = agents[goal.validator]
            where: YamlPath = ("agents", i, "goals", g, "validator")
            name, why = validator.name, []
            if "request_validation" not in agent.skills:
                why.append("add request_validation to this agent's skills")
            if "answer_validation" not in validator.skills:
                why.append(f"add answer_validation to {name}'s skills")
            if ext is not None and goal.service not in ext.services:
                why.append(
                    f"add a plugin registering {goal.service!r} to {name}'s plugins (it re-runs the service)"
                )
            if why:
                line = f"validation by {name} cannot work: {'; '.join(why)}"
                out.append((str(path), located.line_of(where), format_path(where), line))
    return out


def _brains(path: Path, config: AgentsFile, located: LocatedYaml) -> list[Problem]:
    out = []
    for i, agent in enumerate(config.agents):
        sells = any(goal.kind == "sell" for goal in agent.goals)
        if isinstance(agent.brain, LlmBrain) and sells and agent.brain.fallback is None:
            where: YamlPath = ("agents", i, "brain")
            message = (
                "an llm brain that sells needs a `fallback:` rules brain: its reservation is the lowest "
                'price the model may agree to (add fallback: {kind: rules, target: "14", reservation: "9"})'
            )
            out.append((str(path), located.line_of(where), format_path(where), message))
        for g, goal in enumerate(agent.goals):
            if isinstance(goal, TaskGoal) and not isinstance(agent.brain, LlmBrain):
                where = ("agents", i, "goals", g, "kind")
                message = (
                    "an llm_task goal needs an llm brain: its model does the task (give the agent "
                    'brain: {kind: llm, model: "openai:gpt-4o-mini"}, or remove the goal)'
                )
                out.append((str(path), located.line_of(where), format_path(where), message))
    return out


def _policy_problems(policy: Path, config: AgentsFile, ext: Extensions) -> list[str]:
    """One line per problem of a policy file (as an agent with plugins `ext` reads it): the loader's,
    then amounts past the strict grammar."""
    from policies import PolicyFileError, TokenInfo, parse_policy

    try:
        text = read_config_text(policy, missing="policy file not found")
    except ConfigError as exc:
        return exc.problems
    source = str(policy)
    found: list[str] = []
    overflowed = False
    try:
        parse_policy(
            text,
            source=source,
            tokens=[TokenInfo(symbol="TUSD", address=_PLACEHOLDER_TUSD, decimals=TUSD_DECIMALS)],
            # The agents' DIDs and addresses come with their keys; here it is enough that names exist.
            names={agent.name: () for agent in config.agents},
            skills=ext.skill_names(),
            rule_kinds=ext.rule_kinds,
        )
    except PolicyFileError as exc:
        found += exc.problems
    except ArithmeticError:
        # The policy loader's Decimal arithmetic gave up on an amount such as "1e999999"; the strict
        # pass below names it with its line.
        overflowed = True
    try:
        located = load_located(text)
    except YamlSyntaxError:
        return found  # the loader reported it
    for where, value in _walk(located.data, ()):
        if where and where[-1] in POLICY_AMOUNT_KEYS:
            try:
                check_amount(value, decimals=TUSD_DECIMALS, unit="TUSD")
            except ValueError as exc:
                head = f"{source}:{located.line_of(where)}: {format_path(where)}: "
                if not any(line.startswith(head) for line in found):  # the loader said it already
                    found.append(f"{head}{exc}")
    if overflowed and not found:
        found.append(f'{source}: an amount is out of range: write amounts as plain decimals like "12.5"')
    return sorted(found, key=lambda line: _line_number(line, source))


def _line_number(problem: str, source: str) -> int:
    """The LINE of a `SOURCE:LINE: ...` problem (0 when it has none), to list problems in file order."""
    head = problem.removeprefix(f"{source}:").split(":", 1)[0]
    return int(head) if head.isascii() and head.isdigit() else 0


def _walk(data: Any, path: YamlPath) -> list[tuple[YamlPath, Any]]:
    """Every (path, value) under `data`, mappings and lists included (bounded: the YAML was)."""
    out: list[tuple[YamlPath, Any]] = [(path, data)]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _walk(value, (*path, i))
    return out


def _suggest(value: str, options: list[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1)
    return f"did you mean {close[0]!r}? " if close else ""
