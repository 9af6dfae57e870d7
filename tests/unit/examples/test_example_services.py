"""The example services (examples/), each loaded as an agent loads its plugins and run the way the
seller runs a handler: the LLM service through a scripted chat model, the data service from its own
SQLite table, the compute service on the buyer's bytes. Bad inputs are refused before anything is
signed; a failed handler is a ServiceFailed (the seller then refunds the buyer).
tests/e2e/test_examples.py runs all three as real agents on a real chain."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from runtime.brains.scripted import scripted
from sova import BadServiceInput, Service, ServiceContext, ServiceFailed, load_plugins, run_service
from tests.support.paths import REPO_ROOT


def example(name: str) -> Service:
    found = load_plugins([f"examples.{name}"], REPO_ROOT).get(name)
    assert found is not None
    return found


def run(service: Service, data: dict[str, Any], scratch: Path, llm: Any = None) -> Any:
    context = ServiceContext(agent_name="seller", agent_did="did:key:z6Mk", scratch=scratch, llm=llm)
    output, _ = asyncio.run(run_service(service, service.read_input(data), context))
    return output


TEXT = "Agents hold keys. They trade services through escrow. Every decision is logged and anchored."


def test_summarize_asks_the_sellers_model_and_keeps_at_most_max_words(tmp_path: Path) -> None:
    model = scripted(["  Agents trade services through escrow, and every decision is logged on-chain.  "])
    output = run(example("summarize"), {"text": TEXT, "max_words": 6}, tmp_path, model)
    assert output == {"summary": "Agents trade services through escrow, and", "words": 6}
    (prompt,) = model.seen
    assert "at most 6 words" in prompt[0].content
    assert prompt[1].content == TEXT  # the buyer's text goes to the model as data, in its own message


def test_summarize_without_a_chat_model_fails_and_says_what_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ServiceFailed, match="this seller has no chat model: give it an llm brain") as failed:
        run(example("summarize"), {"text": TEXT}, tmp_path)
    assert failed.value.why == "raised"


def test_summarize_is_priced_by_the_length_of_the_text() -> None:
    service = example("summarize")
    assert service.quote(service.read_input({"text": TEXT})) == Decimal("2")
    assert service.quote(service.read_input({"text": "word " * 2000})) == Decimal("4")
    with pytest.raises(BadServiceInput, match="max_words: Input should be less than or equal to 200"):
        service.read_input({"text": TEXT, "max_words": 1000})


def test_glossary_answers_from_its_own_table_in_the_sellers_scratch_folder(tmp_path: Path) -> None:
    service = example("glossary")
    output = run(service, {"term": "Escrow"}, tmp_path)
    assert output["term"] == "escrow"
    assert output["definition"].startswith("The DealEscrow contract: it holds the buyer's money")
    rows = (REPO_ROOT / "examples" / "data" / "glossary.csv").read_text().strip().splitlines()
    assert output["entries"] == len(rows) - 1
    with sqlite3.connect(tmp_path / "glossary.sqlite") as db:
        assert db.execute("SELECT count(*) FROM glossary").fetchone()[0] == len(rows) - 1
    assert run(service, {"term": " DID "}, tmp_path)["entries"] == len(rows) - 1  # filled once


def test_glossary_fails_for_a_term_it_does_not_hold(tmp_path: Path) -> None:
    said = "glossary failed: LookupError: the glossary has no entry for 'x'"
    with pytest.raises(ServiceFailed, match=said):
        run(example("glossary"), {"term": "x"}, tmp_path)


def test_glossary_takes_the_term_as_data_not_as_sql(tmp_path: Path) -> None:
    with pytest.raises(ServiceFailed, match="no entry for"):
        run(example("glossary"), {"term": "x' OR '1'='1"}, tmp_path)


def test_compress_returns_bytes_that_decompress_to_the_buyers(tmp_path: Path) -> None:
    raw = b"hello agents, " * 200
    output = run(example("compress"), {"data": base64.b64encode(raw).decode()}, tmp_path)
    assert zlib.decompress(base64.b64decode(output["zlib"])) == raw
    assert (output["size"], output["sha256"]) == (len(raw), hashlib.sha256(raw).hexdigest())
    assert output["compressed_size"] < len(raw) // 10


def test_compress_refuses_what_is_not_base64_before_anything_is_signed() -> None:
    with pytest.raises(BadServiceInput, match=r"data: Value error, data is not base64 \(RFC 4648"):
        example("compress").read_input({"data": "not base64!"})


def test_compress_is_priced_per_started_8_kib() -> None:
    service = example("compress")
    for size, price in ((0, "1"), (8192, "1"), (8193, "2"), (17_000, "3")):
        value = service.read_input({"data": base64.b64encode(b"x" * size).decode()})
        assert service.quote(value) == Decimal(price), size
