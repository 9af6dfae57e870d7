"""A data service: the definition of a term, from a SQLite table the service owns.

The table lives in the seller's scratch folder (`context.scratch/glossary.sqlite`, only this agent's);
it is made on the first call from the CSV shipped beside this module (examples/data/glossary.csv)
and read with parameterized queries after that. A term the glossary does not hold fails the service:
the seller refunds the buyer at once. Price: 1 TUSD a lookup.
"""

from __future__ import annotations

import csv
import sqlite3
from contextlib import closing
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sova import Plugin, ServiceContext

SOURCE = Path(__file__).resolve().parent / "data" / "glossary.csv"
DATABASE = "glossary.sqlite"


class Term(BaseModel):
    """What a buyer sends: a term to look up (case does not matter)."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=64, description="the term to define")


class Definition(BaseModel):
    """What the buyer gets back."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(description="the term as the glossary spells it")
    definition: str = Field(description="what it means")
    entries: int = Field(ge=1, description="how many terms the glossary holds")


def open_glossary(folder: Path) -> sqlite3.Connection:
    """The glossary table in `folder`, filled from SOURCE when it is new (concurrent first calls
    insert the same rows: `INSERT OR IGNORE` on the primary key keeps one of each)."""
    db = sqlite3.connect(folder / DATABASE, timeout=10)
    with db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS glossary (term TEXT PRIMARY KEY COLLATE NOCASE, definition TEXT)"
        )
        if db.execute("SELECT count(*) FROM glossary").fetchone()[0] == 0:
            with SOURCE.open(newline="", encoding="utf-8") as rows:
                db.executemany(
                    "INSERT OR IGNORE INTO glossary (term, definition) VALUES (?, ?)",
                    [(row["term"], row["definition"]) for row in csv.DictReader(rows)],
                )
    return db


def define(term: Term, context: ServiceContext) -> Definition:
    """Look a term up in the glossary."""
    with closing(open_glossary(context.scratch)) as db:
        found = db.execute(
            "SELECT term, definition FROM glossary WHERE term = ?", (term.term.strip(),)
        ).fetchone()
        entries = db.execute("SELECT count(*) FROM glossary").fetchone()[0]
    if found is None:
        raise LookupError(f"the glossary has no entry for {term.term.strip()!r}")
    return Definition(term=found[0], definition=found[1], entries=entries)


def register(plugin: Plugin) -> None:
    plugin.service("glossary", input=Term, output=Definition, price="1", timeout=10.0)(define)
