"""`sova config check|schema`."""

from __future__ import annotations

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, check_services, out, print_json
from runtime.config import config_schema
from runtime.config_check import check_config
from runtime.errors import ConfigError

app = typer.Typer(help="Validate agents.yaml and print its schema.", no_args_is_help=True)


@app.command("check")
def check(file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Validate agents.yaml and what it names (skills, agents, policy files) as `sova up` would: one
    line per problem (file:line: path: what and how to fix), exit 2."""
    try:
        config = check_config(file)
        check_services(config, file)
    except ConfigError as exc:
        if as_json:
            print_json({"ok": False, "problems": exc.problems})
            raise typer.Exit(2) from None
        raise
    if as_json:
        print_json({"ok": True, "agents": [a.name for a in config.agents], "chain": config.chain.kind})
    else:
        names = ", ".join(a.name for a in config.agents)
        out.print(f"{file}: ok — {len(config.agents)} agents ({names}), chain {config.chain.kind}")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of agents.yaml (point your editor's YAML plugin at it)."""
    print_json(config_schema())
