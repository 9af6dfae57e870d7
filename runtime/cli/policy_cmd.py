"""`sova policy check` — explain a verdict for an action given as JSON, without running anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, out, print_json
from runtime.errors import ConfigError, SovaError

if TYPE_CHECKING:
    from policies import TokenInfo
    from runtime.services import Extensions

app = typer.Typer(help="Check actions against a policy.", no_args_is_help=True)

# Without a deployed chain the token's address is unknown; intents name it by symbol anyway.
PLACEHOLDER_TUSD = "0x" + "00" * 19 + "01"
TUSD_DECIMALS = 6


@app.command("check")
def check(
    policy: Annotated[Path, typer.Option("--policy", help="policy YAML file")],
    intent: Annotated[Path, typer.Option("--intent", help="the action as JSON (DESIGN §6 format)")],
    facts: Annotated[
        Path | None, typer.Option("--facts", help="usage so far as JSON; missing = zero")
    ] = None,
    file: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> None:
    """Print the verdict (allow, deny, escalate) and every reason. Exit 0 whatever the verdict;
    2 when a file is invalid. Agent names in the policy resolve through agents.yaml's keys, and
    token addresses through its deployments, when they exist; the skills and rule kinds of the
    plugins of the first agent of agents.yaml with this policy are known too."""
    from policies import Facts, Intent, evaluate, explain, load_policy

    tokens, names = _fleet_context(file)
    ext = _plugins_of(policy, file)
    loaded = load_policy(
        policy, tokens=tokens, names=names, skills=ext.skill_names(), rule_kinds=ext.rule_kinds
    )
    action = _model(Intent, intent, "--intent")
    usage = _model(Facts, facts, "--facts") if facts is not None else Facts()
    decision = evaluate(loaded, action, usage)
    if as_json:
        print_json(json.loads(decision.model_dump_json()))
        return
    for line in explain(decision):
        out.print(line)


def _model(model: Any, path: Path, flag: str) -> Any:
    from pydantic import ValidationError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SovaError(f"{flag} {path}: cannot read: {exc.strerror}") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(problems) from None


def _fleet_context(file: Path) -> tuple[list[TokenInfo], dict[str, list[str]]]:
    """Tokens from the deployments and agent names -> [DID, address] from the keys, if any."""
    from policies import TokenInfo

    tusd = PLACEHOLDER_TUSD
    names: dict[str, list[str]] = {}
    if file.exists():
        from runtime.chain.ops import expected_chain_id
        from runtime.cli.common import load

        config, home = load(file)
        record = home.deployments(expected_chain_id(config))
        if record.exists():
            tusd = json.loads(record.read_text(encoding="utf-8"))["contracts"].get("TestUSD", tusd)
        keys = home.keys_dir(config, file.parent)
        for agent in config.agents:
            names[agent.name] = _agent_ids(keys, agent.key_name)
    return [TokenInfo(symbol="TUSD", address=tusd, decimals=TUSD_DECIMALS)], names


def _plugins_of(policy: Path, file: Path) -> Extensions:
    """The plugins of the first agent of agents.yaml `file` whose policy is `policy` (none: empty)."""
    from runtime.services import Extensions, load_extensions

    if file.exists():
        from runtime.config import load_config

        config = load_config(file, check_files=False)
        for agent in config.agents:
            if (file.parent / agent.policy).resolve() == policy.resolve():
                return load_extensions(agent.plugins, file.parent)
    return Extensions()


def _agent_ids(keys: Path, name: str) -> list[str]:
    ids: list[str] = []
    did_file, wallet_file = keys / f"{name}.did.json", keys / f"{name}.json"
    for path, field in ((did_file, "did"), (wallet_file, "address")):
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get(field)
        except (OSError, ValueError):
            continue
        if isinstance(value, str):
            ids.append(value if field == "did" or value.startswith("0x") else "0x" + value)
    return ids
