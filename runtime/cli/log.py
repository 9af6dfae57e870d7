"""`sova log show|verify|prove|export` — read, check and prove an agent's ledger.

TARGET is an agent name from agents.yaml (its ledger is `<home>/agents/<name>/ledger.sqlite`) or the path
of a ledger file. `verify` checks the on-chain anchors when the chain answers and the contracts are
deployed, and says so when it could not; the hash chain and the signatures are checked either way.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from identity.keys import b64url_decode
from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, load, out, print_json
from runtime.errors import ConfigError
from runtime.ledger.format import Entry
from runtime.ledger.ledger import LedgerError, LedgerTampered, ledger_path
from runtime.ledger.store import connect_reader, iter_entries, read_entries

if TYPE_CHECKING:
    from runtime.config import AgentsFile
    from runtime.home import Home
    from runtime.ledger.proof import Proof
    from runtime.ledger.recorded import RecordedAnchor

app = typer.Typer(help="Show, verify, prove and export an agent's ledger.", no_args_is_help=True)

TargetArg = Annotated[str, typer.Argument(help="agent name from agents.yaml, or a ledger file path")]
SUMMARY_WIDTH = 100


@dataclass
class Target:
    """Which ledger a command is about, and what agents.yaml says around it (when there is one)."""

    path: Path
    agent: str | None = None
    config: AgentsFile | None = None
    config_path: Path | None = None
    home: Home | None = None
    config_problem: str = ""


def _looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith((".sqlite", ".db")) or Path(text).is_file()


def resolve(target: str, file: Path) -> Target:
    """The ledger file of an agent name or a path; LedgerError when it does not exist."""
    if _looks_like_path(target):
        found = Target(path=Path(target))
        if not found.path.is_file():
            raise LedgerError(f"no ledger file {found.path}")
        try:  # agents.yaml is optional for a path: it only tells where the chain is
            found.config, found.home = load(file)
            found.config_path = file
        except (ConfigError, OSError) as exc:
            found.config_problem = f"no usable {file} ({' '.join(str(exc).split())[:80]})"
        return found
    config, home = load(file)
    config.agent(target)  # ConfigError naming the agents there are
    path = ledger_path(home.root, target)
    if not path.is_file():
        raise LedgerError(
            f"no ledger for agent {target} at {path}: the agent has not run yet (start it with `sova up`)"
        )
    return Target(path=path, agent=target, config=config, config_path=file, home=home)


# ----------------------------------------------------------------- show


def _summary(entry: Entry) -> str:
    try:
        text = json.dumps(_readable(entry.data), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        text = "<data is not JSON>"
    return text if len(text) <= SUMMARY_WIDTH else text[: SUMMARY_WIDTH - 1] + "…"


def _readable(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with a signed envelope (`jws`, base64url) shown as the body it carries; the JWS itself
    is in `--json` and `sova log export`."""
    jws = data.get("jws")
    if not isinstance(jws, str):
        return data
    parts = jws.split(".")
    try:
        payload = json.loads(b64url_decode(parts[1])) if len(parts) == 3 else None
    except (ValueError, UnicodeDecodeError):
        payload = None
    body = payload.get("body") if isinstance(payload, dict) else "<not a readable JWS>"
    # The type and what it says first: the line is cut at SUMMARY_WIDTH, DIDs are long.
    return {"type": data.get("type"), "body": body, **{k: v for k, v in data.items() if k != "jws"}}


@app.command("show")
def show(
    target: TargetArg,
    file: ConfigOption = DEFAULT_CONFIG,
    start: Annotated[
        int | None, typer.Option("--from", min=1, help="first seq (default: the newest)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="how many entries")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Print entries: the newest --limit ones, or --limit from --from on."""
    found = resolve(target, file)
    conn = connect_reader(found.path)
    try:
        if start is None:
            last = int(conn.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0])
            start = max(1, last - limit + 1)
        entries = read_entries(conn, start, start + limit - 1)
    finally:
        conn.close()
    if as_json:
        print_json([e.to_json() for e in entries])
        return
    for e in entries:
        out.print(f"{e.seq:>7}  {e.ts}  {e.kind:<12} {_summary(e)}", markup=False)
    if not entries:
        out.print(f"no entries from {start} in {found.path}", markup=False)


# ----------------------------------------------------------------- verify


@app.command("verify")
def verify(
    target: TargetArg,
    file: ConfigOption = DEFAULT_CONFIG,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="check every hash but only checkpoint signatures (genesis, anchors, last)"
        ),
    ] = False,
    offline: Annotated[bool, typer.Option("--offline", help="do not ask the chain for anchors")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the hash chain, the signatures and the on-chain anchors; exit 1 naming the first bad entry."""
    from runtime.cli.log_chain import chain_anchors
    from runtime.ledger.peer_heads import fleet_witnesses
    from runtime.ledger.recorded import check_recorded
    from runtime.ledger.verify import verify_ledger
    from runtime.ledger.witness import Witness, check_peer_witnesses, check_witness

    found = resolve(target, file)
    did, wallet = _expected_keys(found)
    recorded: list[RecordedAnchor] = []
    if offline:
        anchors, note = None, "--offline"
    else:
        anchors, note, recorded = asyncio.run(
            chain_anchors(found.path, found.config, found.home, wallet, found.config_problem)
        )
    report = verify_ledger(
        found.path,
        anchors=anchors,
        anchors_note=note,
        expected_did=did,
        expected_wallet=wallet,
        signatures="checkpoints" if quick else "all",
    )
    check_recorded(report, recorded)  # a logged anchor the chain lost: a rollback or a reset
    if found.home is not None and found.agent is not None:  # the supervisor's witness of the head
        check_witness(report, Witness.read(found.home.witness(found.agent)), found.path)
    if found.home is not None and report.did is not None:  # the heads its peers were sent in deals
        check_peer_witnesses(report, fleet_witnesses(found.home, report.did, found.agent), found.path)
    if as_json:
        print_json(report.to_json())
    if not report.ok:
        raise LedgerTampered(report.message())
    if not as_json:
        out.print(report.message(), markup=False)


def _expected_keys(found: Target) -> tuple[str | None, str | None]:
    """The agent's DID and wallet from its key files (readable without the passphrase), when known."""
    if found.agent is None or found.config is None or found.home is None or found.config_path is None:
        return None, None
    from identity import IdentityError, IdentityKeyStore
    from wallet import Keystore, WalletError

    name = found.config.agent(found.agent).key_name
    keys = found.home.keys_dir(found.config, found.config_path.parent)
    did = wallet = None
    try:
        store = IdentityKeyStore(keys)
        did = store.did(name) if store.exists(name) else None
    except IdentityError:
        did = None
    try:
        wallets = Keystore(keys)
        wallet = wallets.info(name).address if wallets.exists(name) else None
    except WalletError:
        wallet = None
    return did, wallet


# ----------------------------------------------------------------- prove


@app.command("prove")
def prove(
    target: TargetArg,
    seq: Annotated[int, typer.Argument(min=1, help="the entry's seq")],
    file: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> None:
    """Print the Merkle inclusion proof of entry SEQ in its on-chain anchor (checked there if reachable)."""
    from runtime.ledger.proof import prove as make_proof

    found = resolve(target, file)
    proof = make_proof(found.path, seq)
    verdict, note = asyncio.run(_check_on_chain(found, proof))
    data = proof.to_json()
    data["verified_on_chain"] = verdict
    data["note"] = note
    if as_json:
        print_json(data)
    else:
        _print_proof(proof, verdict, note)
    if verdict is False:
        raise LedgerTampered(f"ledger {found.path}: the proof of entry {seq} fails on-chain: {note}")


async def _check_on_chain(found: Target, proof: Proof) -> tuple[bool | None, str]:
    from runtime.cli.log_chain import connect_anchor
    from runtime.ledger.proof import check_on_chain
    from wallet.artifacts import load_artifact
    from wallet.contracts import ActionLogAnchor

    connected = await connect_anchor(found.config, found.home, found.config_problem)
    if isinstance(connected, str):
        return None, f"not checked on-chain: {connected}"
    client, address, _ = connected
    try:
        if proof.anchor.contract and proof.anchor.contract.lower() != address.lower():
            return None, f"not checked on-chain: anchored at {proof.anchor.contract}, deployed is {address}"
        anchor = ActionLogAnchor(client, "ActionLogAnchor", address, load_artifact("ActionLogAnchor").abi)
        problem = await check_on_chain(proof, client, anchor)
        return (problem is None), problem or f"ActionLogAnchor at {address} verifies it"
    finally:
        await client.close()


def _print_proof(proof: Proof, verdict: bool | None, note: str) -> None:
    data = proof.to_json()
    lines = [
        f"entry {proof.seq} ({proof.entry.kind}, {proof.entry.ts})",
        f"  leaf      {data['leaf']}",
        f"  root      {data['root']}  (entries {proof.from_seq}..{proof.to_seq})",
        f"  anchored  tx {data['anchor']['tx']} block {data['anchor']['block']} by {proof.wallet}",
        f"  signer    {proof.did}",
        "  proof     " + ("\n            ".join(data["proof"]) or "(none: the entry is the root)"),
        f"  on-chain  {'yes' if verdict else 'no' if verdict is False else 'not checked'}: {note}",
    ]
    out.print("\n".join(lines), markup=False)


# ----------------------------------------------------------------- export


@app.command("export")
def export(target: TargetArg, file: ConfigOption = DEFAULT_CONFIG) -> None:
    """Print every entry as one JSON line, with hashes and signatures, so anyone can re-verify it:
    hash = keccak256(prev_hash || JCS({data, kind, seq, ts})), sig = Ed25519(hash) by the genesis DID."""
    import sys

    found = resolve(target, file)
    conn = connect_reader(found.path)
    try:
        write = sys.stdout.write
        for entry in iter_entries(conn):
            write(entry.export_line() + "\n")
    finally:
        conn.close()
