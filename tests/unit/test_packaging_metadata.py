"""The package metadata setuptools reads during `make setup`: in the forms that build without warnings
(a license table made setuptools >= 77 print ~60 lines of deprecation warnings per install)."""

from __future__ import annotations

import tomllib

from tests.support.paths import REPO_ROOT


def test_the_license_is_an_spdx_string_with_the_setuptools_that_reads_it() -> None:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(data["project"]["license"], str), 'a table is deprecated: license = "MIT"'
    assert not [c for c in data["project"].get("classifiers", []) if c.startswith("License ::")]
    requires = data["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    assert setuptools == "setuptools>=77", "SPDX license strings need setuptools 77 or newer"


def test_the_readme_says_how_to_reach_the_sova_command_make_installs() -> None:
    import subprocess
    import sys
    from pathlib import Path

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in readme
    # What it says is so: the console script sits beside the venv's interpreter, and answers.
    sova = Path(sys.executable).with_name("sova")
    assert sova.is_file()
    done = subprocess.run([str(sova), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "vc" in done.stdout
