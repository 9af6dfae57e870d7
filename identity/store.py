"""The credential store of one agent: a SQLite file (mode 0600) of the credentials it holds or issued.

The store keeps credentials exactly as issued (the JSON text or the JWT) and indexes their id, types,
issuer and subject. It does not verify: verify when a credential arrives and when it is used.
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from identity.credential import Credential, iso, parse_credential
from identity.errors import StoreError
from identity.sqlite_files import open_private_db
from identity.sqlite_migrate import Step, migrate

Role = Literal["held", "issued"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('held', 'issued')),
    format     TEXT NOT NULL,
    types      TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    expires_at TEXT,
    added_at   TEXT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_issuer ON credentials (issuer);
"""
MIGRATIONS: tuple[Step, ...] = (("credentials", _SCHEMA),)
"""The schema's versions (identity.sqlite_migrate); append a step to change it."""


class CredentialStore:
    """An agent's credentials in the SQLite file `path`. Thread safe; each call is one short transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_private_db(path, "credential store")
        try:
            migrate(self._conn, MIGRATIONS, f"credential store {path}", StoreError)
        except StoreError:
            self._conn.close()
            raise

    def add(self, credential: Credential | str | Mapping[str, Any], *, role: Role = "held") -> Credential:
        """Store a credential (parsed, not verified). Adding the same credential again changes nothing;
        StoreError if a different credential with the same id is stored already."""
        vc = parse_credential(credential)
        row = (
            vc.id, role, vc.format, json.dumps(list(vc.types)), vc.issuer, vc.subject, iso(vc.issued_at),
            iso(vc.expires_at) if vc.expires_at else None, iso(datetime.now(UTC)), vc.text,
        )  # fmt: skip
        with self._lock:
            conn = self._connection()
            existing = conn.execute("SELECT text FROM credentials WHERE id = ?", (vc.id,)).fetchone()
            if existing is not None:
                if existing[0] != vc.text:
                    raise StoreError(
                        f"credential store {self.path} holds a different credential with id {vc.id}: remove"
                        " it first if this one replaces it"
                    )
                return vc
            conn.execute("INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return vc

    def get(self, credential_id: str) -> Credential | None:
        """The credential with this id, or None."""
        found = self._select("WHERE id = ?", (credential_id,))
        return found[0] if found else None

    def list(self, *, role: Role | None = None) -> builtins.list[Credential]:
        """All stored credentials (or those of one role), oldest issuance first."""
        if role is None:
            return self._select("", ())
        return self._select("WHERE role = ?", (role,))

    def find(
        self,
        *,
        type: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        role: Role | None = None,
    ) -> builtins.list[Credential]:
        """Credentials matching every given filter: a type they list, their issuer DID, subject DID, role."""
        clauses: list[str] = []
        params: list[str] = []
        if type is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(credentials.types) WHERE value = ?)")
            params.append(type)
        for column, value in (("issuer", issuer), ("subject", subject), ("role", role)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return self._select(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params))

    def remove(self, credential_id: str) -> bool:
        """Delete the credential with this id; False if there was none."""
        with self._lock:
            cursor = self._connection().execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
            return cursor.rowcount == 1

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _select(self, where: str, params: tuple[str, ...]) -> builtins.list[Credential]:
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT text FROM credentials {where} ORDER BY issued_at, id",  # noqa: S608 - fixed clauses
                    params,
                )
                .fetchall()
            )
        return [parse_credential(row[0]) for row in rows]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"credential store {self.path} is closed")
        return self._conn

    def __enter__(self) -> CredentialStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
