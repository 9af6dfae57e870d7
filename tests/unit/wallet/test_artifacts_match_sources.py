"""The committed artifacts in wallet/artifacts/ are exactly what the pinned solcjs makes of contracts/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from wallet.artifacts import CONTRACT_NAMES, load_artifact
from wallet.errors import ArtifactError

ROOT = REPO_ROOT
SCRIPT = ROOT / "tools" / "compile_contracts.py"
COMMITTED = ROOT / "wallet" / "artifacts"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "tools" / "node_modules" / "solc").is_dir():
        pytest.skip("solcjs not installed in tools/: run `make setup`")
    out = tmp_path_factory.mktemp("artifacts")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow  # solcjs compiles every contract afresh (~7 s)
@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_committed_artifact_equals_a_fresh_compile(fresh: Path, name: str) -> None:
    committed = json.loads((COMMITTED / f"{name}.json").read_text())
    rebuilt = json.loads((fresh / f"{name}.json").read_text())
    hint = "contracts changed without `make contracts`: run it and commit wallet/artifacts/"
    assert committed["sourceHash"] == rebuilt["sourceHash"], hint
    assert committed["abi"] == rebuilt["abi"], hint
    assert committed["bytecode"] == rebuilt["bytecode"], hint
    assert committed["deployedBytecode"] == rebuilt["deployedBytecode"], hint
    assert (COMMITTED / f"{name}.json").read_bytes() == (fresh / f"{name}.json").read_bytes()


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_load_artifact_reads_the_packaged_json(name: str) -> None:
    artifact = load_artifact(name)
    assert artifact.name == name
    assert artifact.bytecode.startswith("0x")
    assert len(artifact.bytecode) > 2
    assert artifact.deployed_bytecode.startswith("0x")
    assert len(artifact.source_hash) == 64
    assert any(item.get("type") == "function" for item in artifact.abi)


def test_load_artifact_of_an_unknown_contract_says_to_run_make_contracts() -> None:
    with pytest.raises(ArtifactError, match=r"wallet/artifacts/NoSuchContract\.json.*make contracts"):
        load_artifact("NoSuchContract")
