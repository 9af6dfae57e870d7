"""`sova did …`, `sova vc …` and `sova policy check` as a user runs them, with a real chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PASS = {"SOVA_PASSPHRASE": "test passphrase"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A project with the demo agents.yaml, a running local chain and keys for issuer and seller."""
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(ROOT / "policies" / "presets", root / "policies" / "presets")
    shutil.copy(ROOT / "agents.yaml", root / "agents.yaml")
    config = root / "agents.yaml"
    assert sova("chain", "up", "--detach", "-f", str(config), env=PASS).code == 0
    for name in ("issuer", "seller"):
        assert sova("keys", "new", name, "--dir", str(root / ".sova" / "keys"), env=PASS).code == 0
    yield config
    sova("chain", "down", "-f", str(config))


def issue(fleet: Path, out: Path, *extra: str) -> dict[str, str]:
    result = sova(
        "vc", "issue", "--issuer", "issuer", "--subject", "seller", "--type", "VerifiedSupplier",
        "--claims", '{"service": "compute"}', "--out", str(out), "-f", str(fleet), *extra, env=PASS,
    )  # fmt: skip
    assert result.code == 0, result.err
    text = out.read_text().strip()
    return {"text": text, "id": json.loads(text)["id"] if text.startswith("{") else ""}


def test_did_show_gives_did_key_and_did_pkh(fleet: Path) -> None:
    info = json.loads(sova("did", "show", "issuer", "--json", "-f", str(fleet)).out)
    assert info["did"].startswith("did:key:z6Mk")
    assert info["did_pkh"] == f"did:pkh:eip155:31337:{info['address']}"


def test_did_resolve_prints_document(fleet: Path) -> None:
    did = json.loads(sova("did", "show", "issuer", "--json", "-f", str(fleet)).out)["did"]
    doc = json.loads(sova("did", "resolve", did).out)
    assert doc["id"] == did


def test_unsupported_and_malformed_dids_are_bad_input(fleet: Path) -> None:
    unsupported = sova("did", "resolve", "did:foo:bar")
    assert unsupported.code == 2
    assert "unsupported DID method 'foo'" in one_error_line(unsupported)
    malformed = sova("did", "resolve", "not-a-did")
    assert malformed.code == 2
    assert "not-a-did" in one_error_line(malformed)


def test_issued_ldp_credential_verifies_and_is_listed(fleet: Path, tmp_path: Path) -> None:
    vc = issue(fleet, tmp_path / "vc.json")
    result = sova("vc", "verify", str(tmp_path / "vc.json"), "--json", "-f", str(fleet))
    assert result.code == 0, result.err
    verified = json.loads(result.out)
    assert verified["verified"] is True
    assert verified["revocation_checked"] is True
    listed = json.loads(sova("vc", "list", "issuer", "--json", "-f", str(fleet)).out)
    assert vc["id"] in [c["id"] for c in listed]


def test_issued_jwt_credential_verifies(fleet: Path, tmp_path: Path) -> None:
    issue(fleet, tmp_path / "vc.jwt", "--format", "jwt")
    result = sova("vc", "verify", str(tmp_path / "vc.jwt"), "-f", str(fleet))
    assert result.code == 0, result.err
    assert result.out.startswith("valid:")


def test_tampered_credential_exits_1_with_reason(fleet: Path, tmp_path: Path) -> None:
    issue(fleet, tmp_path / "vc.json")
    doc = json.loads((tmp_path / "vc.json").read_text())
    doc["credentialSubject"]["service"] = "everything"
    (tmp_path / "vc.json").write_text(json.dumps(doc))
    result = sova("vc", "verify", str(tmp_path / "vc.json"), "--offline", "-f", str(fleet))
    assert result.code == 1
    assert "error:" in one_error_line(result)


def test_untrusted_issuer_is_refused(fleet: Path, tmp_path: Path) -> None:
    issue(fleet, tmp_path / "vc.json")
    seller = json.loads(sova("did", "show", "seller", "--json", "-f", str(fleet)).out)["did"]
    result = sova("vc", "verify", str(tmp_path / "vc.json"), "--offline", "--trust", seller, "-f", str(fleet))
    assert result.code == 1
    assert "trust" in one_error_line(result)


def test_revoked_credential_is_refused_on_chain_but_not_offline(fleet: Path, tmp_path: Path) -> None:
    vc = issue(fleet, tmp_path / "vc.json")
    revoked = sova("vc", "revoke", "issuer", vc["id"], "-f", str(fleet), env=PASS)
    assert revoked.code == 0, revoked.err
    online = sova("vc", "verify", str(tmp_path / "vc.json"), "-f", str(fleet))
    assert online.code == 1
    assert "revoked" in one_error_line(online)
    offline = sova("vc", "verify", str(tmp_path / "vc.json"), "--offline", "-f", str(fleet))
    assert offline.code == 0
    assert "revocation not checked" in offline.out


def test_vc_verify_exit_code_is_right_every_time(fleet: Path, tmp_path: Path) -> None:
    """didkit can crash the interpreter at exit: the CLI must still report its own code, 30 times."""
    issue(fleet, tmp_path / "good.json")
    bad = json.loads((tmp_path / "good.json").read_text())
    bad["issuanceDate"] = "2020-01-01T00:00:00Z"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    codes = []
    for i in range(30):
        name = "good.json" if i % 2 == 0 else "bad.json"
        codes.append(sova("vc", "verify", str(tmp_path / name), "--offline", "-f", str(fleet)).code)
    assert codes == [0, 1] * 15


def test_policy_check_explains_escalation_with_fleet_names(fleet: Path, tmp_path: Path) -> None:
    dids = {
        n: json.loads(sova("did", "show", n, "--json", "-f", str(fleet)).out) for n in ("issuer", "seller")
    }
    intent = {
        "skill": "open_escrow",
        "agent": dids["issuer"]["did"],
        "chain_id": 31337,
        "counterparty": {
            "did": dids["seller"]["did"],
            "address": dids["seller"]["address"],
            "credentials": [{"type": "VerifiedSupplier", "issuer": dids["issuer"]["did"]}],
        },
        "token": "TUSD",
        "amount": "45",
        "contract": "DealEscrow",
        "method": "open",
    }
    (tmp_path / "intent.json").write_text(json.dumps(intent))
    policy = str(fleet.parent / "policies" / "presets" / "buyer.yaml")
    result = sova(
        "policy", "check", "--policy", policy, "--intent", str(tmp_path / "intent.json"), "-f", str(fleet)
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("ESCALATE")
    assert any("require_credential" in line and "allow" in line for line in lines)


def test_policy_check_bad_policy_names_line_and_fix(fleet: Path, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "version: 1\nrules:\n  - {kind: spend_limit, token: TUSD, per_day: 2.5}\n"
    )
    (tmp_path / "i.json").write_text('{"skill": "send_message", "agent": "did:key:z6Mk", "chain_id": 1}')
    result = sova(
        "policy", "check", "--policy", str(tmp_path / "p.yaml"), "--intent", str(tmp_path / "i.json")
    )
    assert result.code == 2
    assert f"{tmp_path / 'p.yaml'}:3: rules[0].per_day" in result.err
    assert 'write "2.5" in quotes' in result.err
