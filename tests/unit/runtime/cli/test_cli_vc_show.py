"""`sova vc show NAME ID`: a stored credential printed in full, as `sova vc verify` reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity import IdentityKeyStore
from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

PASS = {"SOVA_PASSPHRASE": "vc show passphrase"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vcshow")
    policy = REPO_ROOT / "policies" / "presets" / "issuer.yaml"
    config = root / "agents.yaml"
    config.write_text(
        f"agents:\n  - name: issuer\n    policy: {policy}\n  - name: seller\n    policy: {policy}\n"
    )
    keys = IdentityKeyStore(root / ".sova" / "keys", scrypt_n=2**10)
    for name in ("issuer", "seller"):
        keys.create(name, PASS["SOVA_PASSPHRASE"])
    return config


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ldp", "jwt"])
def test_show_prints_the_credential_as_issued(project: Path, tmp_path: Path, fmt: str) -> None:
    issued = tmp_path / "vc.txt"
    made = sova("vc", "issue", "--issuer", "issuer", "--subject", "seller", "--type", "VerifiedSupplier",
                "--claims", '{"service": "compute"}', "--format", fmt, "--out", str(issued),
                "-f", str(project), env=PASS)  # fmt: skip
    assert made.code == 0, made.err
    listed = json.loads(sova("vc", "list", "issuer", "--json", "-f", str(project)).out)
    cid = listed[-1]["id"]
    shown = sova("vc", "show", "issuer", cid, "-f", str(project))
    assert shown.code == 0, shown.err
    text = shown.out.strip()
    assert text == issued.read_text().strip()
    detail = json.loads(sova("vc", "show", "issuer", cid, "--json", "-f", str(project)).out)
    assert detail["id"] == cid
    if fmt == "jwt":
        assert detail["credential"] == text
        assert type(detail["jwt_claims"]["nbf"]) is int
        assert detail["jwt_claims"]["jti"] == cid
    else:
        assert detail["credential"]["proof"]["type"] == "Ed25519Signature2020"


def test_show_of_an_unknown_id_is_one_line(project: Path) -> None:
    result = sova("vc", "show", "issuer", "urn:uuid:nope", "-f", str(project))
    assert result.code == 2
    assert "sova vc list issuer" in one_error_line(result)
