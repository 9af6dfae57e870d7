"""What every command shares: options, the console, the config and state folder, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runtime.config import AgentsFile, load_config
from runtime.home import Home

# No markup, no emoji: DIDs contain ":key:" (an emoji code) and peers' strings may contain "[...]".
out = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)

# readable=False: click's own check would answer an unreadable file with a boxed usage error; the
# config loader answers it in one line (runtime/config_text.py).
ConfigOption = Annotated[
    Path, typer.Option("--file", "-f", help="agents.yaml to use", envvar="SOVA_CONFIG", readable=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]
DEFAULT_CONFIG = Path("agents.yaml")


def load(path: Path) -> tuple[AgentsFile, Home]:
    """Validate agents.yaml and find the state folder that goes with it."""
    config = load_config(path)
    return config, Home.for_config(path, config)


def check_services(config: AgentsFile, path: Path) -> None:
    """Load every agent's plugins and find every sold service; ConfigError (exit 2) listing what fails."""
    from runtime.errors import ConfigError
    from runtime.services.loading import config_problems

    problems = config_problems(config, path)
    if problems:
        raise ConfigError(problems)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def warn(message: str) -> None:
    err.print(f"warning: {message}", style="yellow")
