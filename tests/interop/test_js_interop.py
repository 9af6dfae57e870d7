"""Interop: Sova's credentials verify with other stacks, offline, in node.

- LD proofs (Ed25519Signature2020) with Digital Bazaar's @digitalbazaar/vc, contexts served from the
  installed npm packages and did:key documents derived locally (tools/interop/loader.mjs);
- JWT VCs with jose, given the public key taken from the issuer's did:key;
- LD presentations with vc.js for the expected challenge and domain; JWT presentations (Sova's DID-auth
  default) with jose, for the expected audience (domain) and nonce (challenge).

Needs `npm ci` in tools/interop (make setup does it). Skipped only when node itself is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from identity import Credential, IdentityKey, issue_credential, new_challenge, present
from tests.support.paths import REPO_ROOT

INTEROP = REPO_ROOT / "tools" / "interop"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture(scope="module", autouse=True)
def npm_packages() -> None:
    if not (INTEROP / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        pytest.fail(f"npm packages missing: run `npm ci` in {INTEROP} (make setup does)")


@pytest.fixture(scope="module")
def issuer() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def holder() -> IdentityKey:
    return IdentityKey.generate()


def node(script: str, path: Path, *args: str) -> dict[str, Any]:
    assert NODE is not None
    out = subprocess.run(
        [NODE, script, str(path), *args], cwd=INTEROP, capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), f"{script} failed to run: {out.stderr.strip()}"
    result: dict[str, Any] = json.loads(out.stdout)
    assert result["verified"] == (out.returncode == 0)
    return result


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


async def credentials(issuer: IdentityKey, holder: IdentityKey, fmt: Any) -> list[Credential]:
    expires = datetime.now(UTC) + timedelta(days=30)
    supplier = {"service": "translation", "name": "Ana"}
    operator = {"agent": issuer.did, "role": "owner"}
    return [
        await issue_credential(issuer, holder.did, "VerifiedSupplier", supplier, format=fmt, expires=expires),
        await issue_credential(issuer, holder.did, "Operator", operator, format=fmt),
    ]


async def test_ld_credentials_verify_with_digital_bazaar_vc(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    for vc in await credentials(issuer, holder, "ldp"):
        result = node("verify-ldp.mjs", write(tmp_path, "vc.json", vc.text))
        assert result == {"verified": True, "error": None}, f"{vc.type}: {result}"


async def test_digital_bazaar_vc_refuses_a_tampered_ld_credential(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    doc = json.loads((await credentials(issuer, holder, "ldp"))[0].text)
    doc["credentialSubject"]["service"] = "everything"
    result = node("verify-ldp.mjs", write(tmp_path, "vc.json", json.dumps(doc)))
    assert result["verified"] is False
    assert "Invalid signature" in result["error"]


async def test_jwt_credentials_verify_with_jose(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    for vc in await credentials(issuer, holder, "jwt"):
        result = node("verify-jwt.mjs", write(tmp_path, "vc.jwt", vc.text))
        assert result == {"verified": True, "error": None}, f"{vc.type}: {result}"


async def test_jose_refuses_a_jwt_signed_by_another_key(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    genuine = (await credentials(issuer, holder, "jwt"))[0].text
    forged = (await credentials(IdentityKey.generate(), holder, "jwt"))[0].text
    spliced = ".".join([*genuine.split(".")[:2], forged.split(".")[2]])
    result = node("verify-jwt.mjs", write(tmp_path, "vc.jwt", spliced))
    assert result["verified"] is False
    assert "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" in result["error"]


async def test_presentations_verify_with_digital_bazaar_vc(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    challenge, domain = new_challenge(), issuer.did
    vp = await present(holder, await credentials(issuer, holder, "ldp"), challenge, domain, format="ldp")
    path = write(tmp_path, "vp.json", json.dumps(vp))
    assert node("verify-vp.mjs", path, challenge, domain) == {"verified": True, "error": None}
    wrong = node("verify-vp.mjs", path, new_challenge(), domain)
    assert wrong["verified"] is False
    assert "challenge" in wrong["error"]


async def test_jwt_presentations_verify_with_jose(
    issuer: IdentityKey, holder: IdentityKey, tmp_path: Path
) -> None:
    challenge, domain = new_challenge(), issuer.did
    vp = await present(holder, await credentials(issuer, holder, "jwt"), challenge, domain)
    path = write(tmp_path, "vp.jwt", vp)
    assert node("verify-jwt.mjs", path, domain, challenge) == {"verified": True, "error": None}
    wrong = node("verify-jwt.mjs", path, domain, new_challenge())
    assert wrong["verified"] is False
    assert "nonce" in wrong["error"]
    other = node("verify-jwt.mjs", path, holder.did, challenge)
    assert other["verified"] is False
    assert "aud" in other["error"]
