"""The `sova` command line. Commands live in one module per group; errors become one line here."""

from __future__ import annotations

import os
import sys

import click
import typer

from runtime.cli import chain, config_cmd, keys
from runtime.errors import user_message


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="sova",
        help="Sova: self-sovereign AI agents with DIDs, credentials, a policy-gated wallet and an audit log.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.add_typer(keys.app, name="keys")
    app.add_typer(chain.app, name="chain")
    app.add_typer(config_cmd.app, name="config")
    return app


def run(argv: list[str]) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user."""
    try:
        result = build_app()(argv, prog_name="sova", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        if os.environ.get("SOVA_DEBUG"):
            raise
        text, code = user_message(exc)
        sys.stderr.write(f"error: {text}\n")
        return code
    return result if isinstance(result, int) else 0


def main() -> None:
    code = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
