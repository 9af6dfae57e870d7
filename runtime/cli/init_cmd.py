"""`sova init DIR` — a new project that runs as it is.

It writes, into a new or empty folder: agents.yaml (an issuer, a seller, a buyer), the seller's plugin
`wordcount.py` (service `wordcount`: {"text": string} -> {"words": integer}), the three agents'
policies (copied from Sova's presets: they name no agent but the project's own `issuer`), tests of the
plugin that pass with `pytest` in that folder, a README and a .gitignore. The files come from
`runtime/cli/templates/` (package data); nothing outside DIR is read or written but those.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from runtime.cli.common import out
from runtime.errors import SovaError

__all__ = ["TEMPLATES", "init", "project_files", "write_project"]

TEMPLATES = {
    "agents.yaml": "agents.yaml",
    "wordcount.py": "wordcount.py.txt",
    "tests/test_wordcount.py": "test_wordcount.py.txt",
    "README.md": "README.md",
    ".gitignore": "gitignore.txt",
}
"""Path in the new project -> template file in runtime/cli/templates/ (`.py.txt`: so that the checks
of Sova's own code do not take the templates for Sova modules)."""
POLICIES = ("issuer", "seller", "buyer")
"""The presets copied into policies/, one per agent of the template agents.yaml."""


def project_files(name: str) -> dict[str, str]:
    """The files of a new project called `name` (the folder's name): relative path -> text."""
    templates = files("runtime.cli") / "templates"
    made = {path: (templates / source).read_text(encoding="utf-8") for path, source in TEMPLATES.items()}
    made["README.md"] = made["README.md"].replace("{project}", name)
    presets = files("policies") / "presets"
    for role in POLICIES:
        made[f"policies/{role}.yaml"] = (presets / f"{role}.yaml").read_text(encoding="utf-8")
    return made


def write_project(directory: Path, made: dict[str, str]) -> None:
    """Write `made` into `directory` (created when missing). SovaError, with nothing written, when it
    is not a folder or not empty."""
    if directory.exists() and not directory.is_dir():
        raise SovaError(f"{directory} is a file: give sova init a new or empty folder")
    if directory.is_dir() and any(directory.iterdir()):
        raise SovaError(
            f"{directory} is not empty: sova init writes a new project only into a new or empty folder"
        )
    for relative, text in made.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o644)


def init(
    directory: Annotated[Path, typer.Argument(help="folder for the new project (new or empty)")],
) -> None:
    """Make a new project in DIRECTORY that runs as it is: agents.yaml with an issuer, a seller and a
    buyer, the seller's plugin (wordcount.py), policies, tests and a README."""
    write_project(directory, project_files(directory.resolve().name))
    out.print(f"made a Sova project in {directory}: agents.yaml (issuer, seller, buyer), wordcount.py, "
              "policies/, tests/, README.md")  # fmt: skip
    out.print(f"next: cd {directory} && pytest && sova up --detach && sova deals list buyer")
