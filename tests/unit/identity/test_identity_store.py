"""The per-agent credential store: SQLite, mode 0600, add / list / find / remove."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from identity import Credential, CredentialStore, IdentityKey, StoreError, issue_credential


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CredentialStore]:
    with CredentialStore(tmp_path / "agent" / "credentials.db") as s:
        yield s


@pytest.fixture(scope="module")
def keys() -> dict[str, IdentityKey]:
    return {name: IdentityKey.generate() for name in ("issuer", "other_issuer", "seller", "operator")}


async def supplier(issuer: IdentityKey, subject: IdentityKey, fmt: str = "ldp") -> Credential:
    return await issue_credential(issuer, subject.did, "VerifiedSupplier", {"service": "w"}, format=fmt)  # type: ignore[arg-type]


async def test_added_credentials_are_listed_exactly_as_issued(
    store: CredentialStore, keys: dict[str, IdentityKey]
) -> None:
    ldp = await supplier(keys["issuer"], keys["seller"])
    jwt = await supplier(keys["issuer"], keys["seller"], "jwt")
    store.add(ldp)
    store.add(jwt.text)
    listed = {c.id: c for c in store.list()}
    assert set(listed) == {ldp.id, jwt.id}
    assert listed[ldp.id].text == ldp.text
    assert listed[jwt.id].text == jwt.text
    assert store.get(jwt.id) is not None
    assert store.get("urn:uuid:nothing") is None


async def test_find_by_type_and_issuer(store: CredentialStore, keys: dict[str, IdentityKey]) -> None:
    a = store.add(await supplier(keys["issuer"], keys["seller"]))
    b = store.add(await supplier(keys["other_issuer"], keys["seller"]))
    op = store.add(
        await issue_credential(
            keys["issuer"], keys["operator"].did, "Operator", {"agent": keys["seller"].did}
        ),
        role="issued",
    )
    assert {c.id for c in store.find(type="VerifiedSupplier")} == {a.id, b.id}
    assert [c.id for c in store.find(type="VerifiedSupplier", issuer=keys["issuer"].did)] == [a.id]
    assert [c.id for c in store.find(type="Operator")] == [op.id]
    assert [c.id for c in store.find(role="issued")] == [op.id]
    assert [c.id for c in store.list(role="held")] == [c.id for c in store.find(role="held")]
    assert store.find(issuer="did:key:z6MkNobody") == []


async def test_remove_deletes_only_that_credential(
    store: CredentialStore, keys: dict[str, IdentityKey]
) -> None:
    a = store.add(await supplier(keys["issuer"], keys["seller"]))
    b = store.add(await supplier(keys["issuer"], keys["seller"]))
    assert store.remove(a.id)
    assert not store.remove(a.id)
    assert [c.id for c in store.list()] == [b.id]


async def test_adding_the_same_credential_twice_changes_nothing(
    store: CredentialStore, keys: dict[str, IdentityKey]
) -> None:
    vc = await supplier(keys["issuer"], keys["seller"])
    store.add(vc)
    store.add(vc.text)
    assert len(store.list()) == 1


async def test_a_different_credential_with_a_taken_id_is_refused(
    store: CredentialStore, keys: dict[str, IdentityKey]
) -> None:
    first = await issue_credential(keys["issuer"], keys["seller"].did, "VerifiedSupplier", {"service": "a"})
    second = await issue_credential(
        keys["issuer"], keys["seller"].did, "VerifiedSupplier", {"service": "b"}, credential_id=first.id
    )
    store.add(first)
    with pytest.raises(StoreError, match=f"different credential with id {first.id}"):
        store.add(second)


async def test_store_persists_and_is_private(tmp_path: Path, keys: dict[str, IdentityKey]) -> None:
    path = tmp_path / "credentials.db"
    vc = await supplier(keys["issuer"], keys["seller"])
    with CredentialStore(path) as store:
        store.add(vc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with CredentialStore(path) as store:
        assert [c.id for c in store.list()] == [vc.id]


def test_store_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.db"
    CredentialStore(path).close()
    os.chmod(path, 0o640)
    with pytest.raises(StoreError, match=f"chmod 600 {path}"):
        CredentialStore(path)


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.db"
    path.write_bytes(b"this is not a database, just some text " * 20)
    os.chmod(path, 0o600)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        CredentialStore(path)


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.db")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.list()
