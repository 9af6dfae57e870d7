"""A `.sova/` folder written by the previous release (tests/fixtures/previous-release, made at commit
bb7cc0c) opens with today's code: every store migrates in place, keys unlock, ledgers verify, and
deals, credentials, the outbox and budgets read back as that release read them (its manifest.json)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from identity import CredentialStore, IdentityKeyStore, ReplayStore
from identity.errors import StoreError
from identity.replay import MIGRATIONS as REPLAY_MIGRATIONS
from identity.sqlite_migrate import Step, migrate, schema_version
from identity.store import MIGRATIONS as CREDENTIAL_MIGRATIONS
from policies.budget import MIGRATIONS as BUDGET_MIGRATIONS
from policies.budget import Budget
from policies.errors import BudgetError
from runtime.a2a.threads import MIGRATIONS as THREAD_MIGRATIONS
from runtime.a2a.threads import ThreadStore
from runtime.ledger.format import LedgerError
from runtime.ledger.ledger import Ledger
from runtime.ledger.store import MIGRATIONS as LEDGER_MIGRATIONS
from runtime.ledger.store import connect_reader, connect_writer, read_entries
from runtime.ledger.verify import verify_ledger
from runtime.negotiation.deals import MIGRATIONS as DEAL_MIGRATIONS
from runtime.negotiation.deals import DealStore
from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT
from wallet import Keystore
from wallet.errors import WalletError
from wallet.outbox import MIGRATIONS as OUTBOX_MIGRATIONS
from wallet.outbox import Outbox

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "previous-release"
MANIFEST: dict[str, Any] = json.loads((FIXTURE / "manifest.json").read_text())
AGENTS = ("buyer", "seller", "issuer")


class Closes(Protocol):
    def close(self) -> None: ...


# Each store file: how today's code opens it, its migrations, and what it raises for a file it refuses.
STORES: dict[str, tuple[Callable[[Path], Closes], Sequence[Step], type[Exception]]] = {
    "ledger.sqlite": (connect_writer, LEDGER_MIGRATIONS, LedgerError),
    "deals.sqlite": (DealStore, DEAL_MIGRATIONS, StoreError),
    "threads.sqlite": (ThreadStore, THREAD_MIGRATIONS, StoreError),
    "replay.sqlite": (ReplayStore, REPLAY_MIGRATIONS, StoreError),
    "credentials.sqlite": (CredentialStore, CREDENTIAL_MIGRATIONS, StoreError),
    "budget.sqlite": (Budget, BUDGET_MIGRATIONS, BudgetError),
    "outbox.sqlite": (Outbox, OUTBOX_MIGRATIONS, WalletError),
}


def store_files(home: Path) -> list[Path]:
    return [home / "outbox.sqlite"] + [
        home / "agents" / a / name for a in AGENTS for name in STORES if name != "outbox.sqlite"
    ]


def schema(path: Path) -> list[tuple[str, str, str]]:
    """The file's tables and indexes as SQLite keeps them, without the migrations' own record. Opened
    immutable: reading leaves no -shm/-wal beside the file."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    rows = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name != 'sova_migrations' ORDER BY name"
    ).fetchall()
    db.close()
    return [(str(t), str(n), str(s)) for t, n, s in rows]


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, list[tuple[str, str, str]]]]:
    """A copy of the old folder (the committed one is never migrated), every store opened once by
    today's code as an agent would; and each file's schema as the old release left it."""
    root = tmp_path_factory.mktemp("upgrade")
    home = root / ".sova"
    shutil.copytree(FIXTURE / "home", home)
    for path in [home, *home.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)  # what the release wrote; git keeps no modes
    policy = REPO_ROOT / "policies" / "presets" / "buyer.yaml"
    (root / "agents.yaml").write_text(
        "agents:\n" + "".join(f"  - {{name: {a}, policy: {policy}}}\n" for a in AGENTS)
    )
    before = {path: schema(path) for path in store_files(home)}
    for path in store_files(home):
        STORES[path.name][0](path).close()
    return home, before


def test_every_store_is_at_todays_schema_version_after_opening(upgraded: tuple[Path, Any]) -> None:
    home, _ = upgraded
    for path in store_files(home):
        db = sqlite3.connect(path)
        assert schema_version(db) == len(STORES[path.name][1]), path
        db.close()


def test_an_upgraded_store_has_exactly_the_schema_of_a_new_one(
    upgraded: tuple[Path, Any], tmp_path: Path
) -> None:
    home, _ = upgraded
    for name, (open_store, _, _) in STORES.items():
        fresh = tmp_path / name
        open_store(fresh).close()
        assert schema(home / "agents" / "buyer" / name if name != "outbox.sqlite" else home / name) == schema(
            fresh
        ), name


def test_step_1_is_exactly_the_schema_the_previous_release_wrote(
    upgraded: tuple[Path, Any], tmp_path: Path
) -> None:
    # the list is append-only: editing step 1 (instead of adding a step) would leave files out there
    # on a schema the code no longer describes
    _, before = upgraded
    for path, old_schema in before.items():
        fresh = tmp_path / f"{path.parent.name}-{path.name}"
        db = sqlite3.connect(fresh, isolation_level=None)
        migrate(db, STORES[path.name][1][:1], "test", StoreError)
        db.close()
        assert schema(fresh) == old_schema, path


def test_deals_credentials_outbox_and_budgets_read_back_as_the_release_read_them(
    upgraded: tuple[Path, Any],
) -> None:
    home, _ = upgraded
    for agent in AGENTS:
        expected = MANIFEST["agents"][agent]
        with DealStore(home / "agents" / agent / "deals.sqlite") as deals:
            got = [
                {"thid": d.thid, "state": d.state, "price": d.price, "deal_id": d.deal_id, "txs": d.txs}
                for d in sorted(deals.all(), key=lambda d: d.thid)
            ]
        assert got == expected["deals"], agent
        with CredentialStore(home / "agents" / agent / "credentials.sqlite") as store:
            creds = [
                {"id": c.id, "types": list(c.types), "issuer": c.issuer, "subject": c.subject}
                for c in store.list()
            ]
        assert creds == expected["credentials"], agent
        db = sqlite3.connect(home / "agents" / agent / "budget.sqlite")
        assert (
            sorted(list(r) for r in db.execute("SELECT id, amount, state FROM spends"))
            == expected["budget_spends"]
        )
        db.close()
    # the manifest holds something to compare: two deals, the seller's credential
    assert len(MANIFEST["agents"]["buyer"]["deals"]) == 2
    assert len(MANIFEST["agents"]["seller"]["credentials"]) == 1
    outbox = Outbox(home / "outbox.sqlite")
    assert sorted([e.tx_hash_hex, e.status] for e in outbox.entries(limit=10_000)) == MANIFEST["outbox"]
    outbox.close()


def test_its_ledgers_verify_with_sova_log_verify(upgraded: tuple[Path, Any]) -> None:
    home, _ = upgraded
    config = home.parent / "agents.yaml"
    for agent in AGENTS:
        result = sova("log", "verify", agent, "-f", str(config), "--offline", "--json")
        assert result.code == 0, result.out + result.err
        assert json.loads(result.out)["ok"] is True
        reader = connect_reader(home / "agents" / agent / "ledger.sqlite")
        entries = read_entries(reader)
        reader.close()
        assert (len(entries), entries[-1].hash.hex()) == tuple(MANIFEST["agents"][agent]["ledger"].values())


@pytest.mark.slow  # eight scrypt unlocks at the release's default cost (~0.75 s each)
def test_its_keys_unlock_and_its_ledgers_take_new_entries(upgraded: tuple[Path, Any]) -> None:
    home, _ = upgraded
    passphrase = (home / "dev-passphrase").read_text().strip()
    identities, wallets = IdentityKeyStore(home / "keys"), Keystore(home / "keys")
    for name, expected in MANIFEST["keys"].items():
        key = identities.unlock(name, passphrase)
        signer = wallets.unlock(name, passphrase)
        assert (key.did, signer.address) == (expected["did"], expected["address"])
        if name in AGENTS:
            path = home / "agents" / name / "ledger.sqlite"
            # Ledger.open checks the genesis names this key and wallet, and that the last entry verifies
            with Ledger.open(path, key, signer.address) as ledger:
                ledger.append("note", {"after": "upgrade"})
            report = verify_ledger(path, expected_did=key.did, expected_wallet=signer.address)
            assert report.ok, report.message()


@pytest.mark.parametrize("name", sorted(STORES))
def test_a_store_file_from_a_newer_sova_is_refused_with_one_line(name: str, tmp_path: Path) -> None:
    open_store, steps, error = STORES[name]
    path = tmp_path / name
    open_store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(steps) + 1}")
    db.close()
    with pytest.raises(error) as refused:
        open_store(path)
    assert str(refused.value).endswith(
        f"{path} has schema version {len(steps) + 1}, newer than this Sova knows ({len(steps)}): "
        "upgrade Sova, or move the file away"
    )
    assert "\n" not in str(refused.value)


def test_sova_log_verify_refuses_a_ledger_from_a_newer_sova_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    connect_writer(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(LEDGER_MIGRATIONS) + 1}")
    db.close()
    result = sova("log", "verify", str(path), "-f", str(tmp_path / "agents.yaml"), "--offline")
    assert result.code == 2
    assert "newer than this Sova knows" in one_error_line(result)
