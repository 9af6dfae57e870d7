"""The `sova` command line. Commands live in one module per group; errors become one line here."""

from __future__ import annotations

import os
import sys

import typer

from runtime.cli import (
    agent_cmd,
    buy_cmd,
    chain,
    config_cmd,
    console_cmd,
    deals_cmd,
    facilitator_cmd,
    fetch_cmd,
    fleet,
    identity_cmd,
    init_cmd,
    keys,
    log,
    policy_cmd,
    registry_cmd,
)
from runtime.errors import user_message


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="sova",
        help="Sova: self-sovereign AI agents with DIDs, credentials, a policy-gated wallet and an audit log.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.command("init")(init_cmd.init)
    app.command("up")(fleet.up)
    app.command("down")(fleet.down)
    app.command("status")(fleet.status)
    app.command("console")(console_cmd.console)
    app.add_typer(agent_cmd.app, name="agent")
    app.add_typer(keys.app, name="keys")
    app.add_typer(chain.app, name="chain")
    app.add_typer(config_cmd.app, name="config")
    app.add_typer(identity_cmd.did_app, name="did")
    app.add_typer(identity_cmd.vc_app, name="vc")
    app.add_typer(policy_cmd.app, name="policy")
    app.add_typer(log.app, name="log")
    app.add_typer(deals_cmd.app, name="deals")
    app.add_typer(registry_cmd.app, name="registry")
    app.command("buy")(buy_cmd.buy)
    app.command("fetch")(fetch_cmd.fetch)
    app.command("facilitator")(facilitator_cmd.facilitator)
    return app


def run(argv: list[str]) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user.

    Typer's standalone mode answers usage errors itself (exit 2) and raises SystemExit; every
    other exception comes out here and becomes one line through `user_message`."""
    try:
        build_app()(argv, prog_name="sova")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        if os.environ.get("SOVA_DEBUG"):
            raise
        text, code = user_message(exc)
        sys.stderr.write(f"error: {text}\n")
        return code
    return 0


def main() -> None:
    code = run(sys.argv[1:])
    # didkit (used by the did/vc commands) can crash the interpreter during teardown: end with
    # os._exit after flushing, so the exit code is always the command's own. Commands close their
    # files and databases before they return.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
