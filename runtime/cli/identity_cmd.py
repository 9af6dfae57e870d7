"""`sova did show|resolve` and `sova vc issue|verify|list|show|revoke`.

didkit can crash the interpreter at exit, so `sova` ends every run with `os._exit` after flushing
(see runtime/cli/__init__.py); the commands here close their stores before returning.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from runtime.chain.provision import key_passphrase
from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, out, print_json
from runtime.config import AgentsFile
from runtime.errors import CheckFailed, SovaError
from runtime.home import Home

if TYPE_CHECKING:
    from identity import IdentityKeyStore

did_app = typer.Typer(help="Show and resolve DIDs.", no_args_is_help=True)
vc_app = typer.Typer(help="Issue, verify, list and revoke verifiable credentials.", no_args_is_help=True)


def _fleet(file: Path) -> tuple[AgentsFile, Home, Path]:
    from runtime.cli.common import load

    config, home = load(file)
    return config, home, home.keys_dir(config, file.parent)


def _identities(keys_dir: Path) -> IdentityKeyStore:
    from identity import IdentityKeyStore

    return IdentityKeyStore(keys_dir)


def _chain_id(config: AgentsFile) -> int:
    from runtime.chain.ops import expected_chain_id

    return expected_chain_id(config)


def _as_did(value: str, keys_dir: Path) -> str:
    """A DID as given, or the DID of the key of that name."""
    return value if value.startswith("did:") else _identities(keys_dir).did(value)


@did_app.command("show")
def did_show(name: str, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """An agent's did:key (identity key) and did:pkh (wallet), without unlocking anything."""
    from identity import did_pkh
    from wallet import Keystore

    config, _, keys_dir = _fleet(file)
    address = Keystore(keys_dir).info(name).address
    info = {
        "name": name,
        "did": _identities(keys_dir).did(name),
        "address": address,
        "did_pkh": did_pkh(_chain_id(config), address),
    }
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        out.print(f"{key:<8} {value}")


@did_app.command("resolve")
def did_resolve(did: str) -> None:
    """Resolve a DID to its DID document (did:key, did:pkh, did:ethr, did:jwk offline; did:web over https)."""
    from identity import resolve_did

    print_json(asyncio.run(resolve_did(did)))


@vc_app.command("issue")
def vc_issue(
    issuer: Annotated[str, typer.Option("--issuer", help="name of the issuing agent's key")],
    subject: Annotated[str, typer.Option("--subject", help="the subject's DID, or an agent name")],
    ctype: Annotated[str, typer.Option("--type", help="credential type, e.g. VerifiedSupplier")],
    claims: Annotated[
        str, typer.Option("--claims", help='claims as JSON, e.g. {"service": "compute"}')
    ] = "{}",
    expires: Annotated[str | None, typer.Option("--expires", help="ISO 8601 expiry")] = None,
    fmt: Annotated[
        Literal["ldp", "jwt"], typer.Option("--format", help="ldp (JSON-LD proof) or jwt")
    ] = "ldp",
    output: Annotated[Path | None, typer.Option("--out", help="write the credential here")] = None,
    file: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Issue a credential signed by the issuer's identity key; printed, stored in its credential store."""
    from identity import CredentialStore, issue_credential

    config, home, keys_dir = _fleet(file)
    try:
        claims_data = json.loads(claims)
    except json.JSONDecodeError as exc:
        raise SovaError(
            f'--claims is not JSON ({exc.msg} at column {exc.colno}): give e.g. \'{{"service": "x"}}\''
        ) from None
    if not isinstance(claims_data, dict):
        raise SovaError('--claims must be a JSON object, e.g. \'{"service": "compute"}\'')
    expiry = _parse_time(expires, "--expires") if expires else None
    key = _identities(keys_dir).unlock(issuer, key_passphrase(config, home))
    vc = asyncio.run(
        issue_credential(key, _as_did(subject, keys_dir), ctype, claims_data, format=fmt, expires=expiry)
    )
    home.agent_dir(issuer).mkdir(parents=True, exist_ok=True)
    with CredentialStore(home.credentials(issuer)) as store:
        store.add(vc, role="issued")
    if output is not None:
        output.write_text(vc.text + "\n", encoding="utf-8")
        out.print(f"issued {vc.id} ({vc.type}, {fmt}) to {vc.subject}: {output}")
    else:
        print(vc.text)


def _parse_time(value: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SovaError(f"{flag} {value!r} is not an ISO 8601 time: give e.g. 2027-01-31T00:00:00Z") from None
    if moment.tzinfo is None:
        raise SovaError(f"{flag} {value!r} has no time zone: add Z or +00:00")
    return moment


@vc_app.command("verify")
def vc_verify(
    path: Annotated[Path, typer.Argument(help="credential file: LD-proof JSON or a JWT")],
    trust: Annotated[
        list[str] | None, typer.Option("--trust", help="trusted issuer DID or agent name (repeatable)")
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="do not check revocation on-chain")] = False,
    file: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> None:
    """Verify proof, dates, issuer trust and on-chain revocation. Exit 0 valid, 1 invalid, 2 bad input.

    Without --trust, the issuers trusted are the identity keys of this fleet (agents.yaml's keys folder)."""
    from identity import IdentityError, InvalidCredential

    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SovaError(f"cannot read credential file {path}: {exc.strerror}") from None
    fleet = _fleet(file) if file.exists() else None
    keys_dir = fleet[2] if fleet else None
    trusted = _trusted(trust, keys_dir)
    try:
        if offline:
            result = asyncio.run(_verify(text, trusted, None))
        else:
            if fleet is None:
                raise SovaError(
                    f"{file} not found: pass -f agents.yaml to check revocation on its chain, or --offline"
                )
            config, home, _ = fleet
            result = asyncio.run(_verify_online(text, trusted, config, home))
    except InvalidCredential as exc:
        if as_json:
            print_json({"verified": False, "reason": exc.reason, "error": str(exc)})
        raise CheckFailed(str(exc)) from None
    except IdentityError as exc:
        raise CheckFailed(str(exc)) from None
    if as_json:
        print_json({"verified": True, "revocation_checked": not offline, **result})
    else:
        note = "" if not offline else " (revocation not checked: --offline)"
        what = f"{result['id']} ({result['type']})"
        out.print(f"valid: {what} issued by {result['issuer']} to {result['subject']}{note}")


def _trusted(trust: list[str] | None, keys_dir: Path | None) -> list[str]:
    if trust:
        return [t if t.startswith("did:") or keys_dir is None else _as_did(t, keys_dir) for t in trust]
    if keys_dir is None:
        raise SovaError("no trusted issuers: pass --trust DID (repeatable) or -f agents.yaml of the fleet")
    identities = _identities(keys_dir)
    return [identities.did(name) for name in identities.names()]


async def _verify(text: str, trusted: list[str], revocation: Any) -> dict[str, Any]:
    from identity import verify_credential

    vc = await verify_credential(text, trusted_issuers=trusted, revocation=revocation)
    return vc.summary()


async def _verify_online(text: str, trusted: list[str], config: AgentsFile, home: Home) -> dict[str, Any]:
    from runtime.chain.session import chain_session

    async with chain_session(config, home) as session:
        return await _verify(text, trusted, session.registry.is_revoked)


@vc_app.command("list")
def vc_list(name: str, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Credentials an agent holds or has issued."""
    from identity import CredentialStore

    _, home, _ = _fleet(file)
    if not home.credentials(name).exists():
        creds = []
    else:
        with CredentialStore(home.credentials(name)) as store:
            creds = [c.summary() for c in store.list()]
    if as_json:
        print_json(creds)
        return
    if not creds:
        out.print(f"{name} has no credentials yet")
    for c in creds:
        expires = c["expires_at"] or "never"
        out.print(
            f"{c['id']}  {c['type']:<18} issuer {c['issuer']}  subject {c['subject']}  expires {expires}"
        )


@vc_app.command("show")
def vc_show(
    name: str, credential_id: str, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False
) -> None:
    """Print a credential agent NAME holds or issued, in full: as issued (JSON-LD, or the compact JWT:
    `sova vc verify` reads either), or with --json its summary, the credential and a JWT's claims."""
    from identity import CredentialStore

    _, home, _ = _fleet(file)
    found = None
    if home.credentials(name).exists():
        with CredentialStore(home.credentials(name)) as store:
            found = store.get(credential_id)
    if found is None:
        raise SovaError(
            f"{name} holds no credential {credential_id[:120]!r}: `sova vc list {name}` shows the ids"
        )
    if not as_json:
        print(found.text)
        return
    shown: dict[str, Any] = {**found.summary(), "credential": found.document}
    if found.format == "jwt" and isinstance(found.document, str):
        from identity.keys import b64url_decode

        shown["jwt_claims"] = json.loads(b64url_decode(found.document.split(".")[1]))
    print_json(shown)


@vc_app.command("revoke")
def vc_revoke(name: str, credential_id: str, file: ConfigOption = DEFAULT_CONFIG) -> None:
    """Revoke a credential the agent NAME issued: recorded on-chain in AgentRegistry under its wallet.
    The issuer is registered first if it is not yet, so verifiers can find its wallet by its DID."""
    from runtime.cli.revoking import revoke

    config, home, keys_dir = _fleet(file)
    config.agent(name)
    tx = asyncio.run(revoke(config, home, keys_dir, name, credential_id))
    out.print(
        f"revoked {credential_id} (issuer {name}, tx {tx}); verifiers reading AgentRegistry now refuse it"
    )
