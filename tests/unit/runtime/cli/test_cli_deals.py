"""`sova deals list|show` read an agent's deals, with their inputs and results, from its deal store."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.terms import canonical
from tests.support.cli import one_error_line, sova

CONFIG = """version: 1
chain: {kind: local}
agents:
  - {name: buyer, policy: p.yaml}
  - {name: seller, policy: p.yaml}
"""
DEAL_ID = "0x" + "ab" * 32


def project(tmp_path: Path, *, inline_max: int = 16 * 1024) -> Path:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "agents.yaml").write_text(CONFIG)
    folder = tmp_path / ".sova" / "agents" / "buyer"
    folder.mkdir(parents=True)
    with DealStore(folder / "deals.sqlite", inline_max=inline_max) as store:
        text = {"text": "a b c " * 10}
        inline_in, input_hash = store.payloads.keep(canonical(text))
        inline_out, output_hash = store.payloads.keep(canonical({"words": 30}))
        store.put(DealRecord(
            peer="did:key:z6MkSeller", thid="t-released-1", role="buyer", state="released", item="wordcount",
            price="9", deal_id=DEAL_ID, txs={"open": "0x01", "release": "0x02"}, input=inline_in,
            input_hash=input_hash, output=inline_out, output_hash=output_hash,
        ))  # fmt: skip
        store.put(DealRecord(peer="did:key:z6MkSeller", thid="t-declined-2", role="buyer", state="declined",
                             item="wordcount", reason="the seller rejected: too cheap"))  # fmt: skip
    return tmp_path / "agents.yaml"


def test_deals_list_json_gives_each_deal_with_its_input_and_result(tmp_path: Path) -> None:
    result = sova("deals", "list", "buyer", "--json", "-f", str(project(tmp_path)))
    assert result.code == 0, result.err
    deals = {d["thid"]: d for d in json.loads(result.out)}
    done = deals["t-released-1"]
    assert (done["service"], done["price"], done["state"], done["deal_id"]) == (
        "wordcount",
        "9",
        "released",
        DEAL_ID,
    )
    assert (done["input"], done["result"]) == ({"text": "a b c " * 10}, {"words": 30})
    assert done["txs"] == {"open": "0x01", "release": "0x02"}
    assert (deals["t-declined-2"]["result"], deals["t-declined-2"]["reason"]) == (
        None,
        "the seller rejected: too cheap",
    )


def test_deals_list_prints_one_line_a_deal(tmp_path: Path) -> None:
    result = sova("deals", "list", "buyer", "-f", str(project(tmp_path)))
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert any("released" in line and 'result {"words": 30}' in line for line in lines)


def test_deals_show_finds_a_deal_by_id_or_thread_and_reads_files_beside_the_store(tmp_path: Path) -> None:
    config = project(tmp_path, inline_max=8)  # input and result kept as files
    by_id = sova("deals", "show", "buyer", DEAL_ID, "--json", "-f", str(config))
    assert json.loads(by_id.out)["result"] == {"words": 30}
    text = sova("deals", "show", "buyer", "t-released", "-f", str(config)).out
    assert 'result:       {"words": 30}' in text
    assert "counterparty: did:key:z6MkSeller" in text


def test_an_unknown_deal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = sova("deals", "show", "buyer", "0xnope", "-f", str(project(tmp_path)))
    assert result.code == 2
    assert one_error_line(result) == "error: buyer has no deal '0xnope': see `sova deals list buyer`"


def test_an_unknown_agent_or_one_without_deals_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = project(tmp_path)
    nobody = sova("deals", "list", "nobody", "-f", str(config))
    assert nobody.code == 2
    assert one_error_line(nobody) == "error: no agent named 'nobody' in agents.yaml (agents: buyer, seller)"
    fresh = sova("deals", "list", "seller", "-f", str(config))
    assert fresh.code == 2
    assert one_error_line(fresh).startswith("error: seller has no deals yet (no ")
