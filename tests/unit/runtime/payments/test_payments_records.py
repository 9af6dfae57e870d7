"""x402 payments and sales read from a real ledger as rows beside the deals (`sova deals`, /v1/deals):
token units for a known token, payer and payee, the URL and the settlement; other entries left out."""

from __future__ import annotations

from pathlib import Path

from policies import TokenInfo
from runtime.payments.records import read_x402_rows
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, TUSD_ADDRESS, make_rig

POLICY = "version: 1\nrules: []\n"
TUSD = TokenInfo(symbol="TUSD", address=TUSD_ADDRESS, decimals=6)
TX = "0x" + "ab" * 32
URL = "http://127.0.0.1:9/x402/services/wordcount"
OTHER = "0x" + "11" * 20
OFFER = {"scheme": "exact", "network": "eip155:31337", "asset": TUSD_ADDRESS, "amount": "1500000",
         "payTo": SELLER_ADDRESS, "maxTimeoutSeconds": 60}  # fmt: skip


def test_payments_and_sales_are_rows_newest_first(tmp_path: Path) -> None:
    with make_rig(tmp_path, POLICY) as rig:
        paid_entry = {
            "url": URL,
            "offer": OFFER,
            "pay_to": SELLER_ADDRESS,
            "status": "paid",
            "transaction": TX,
        }
        rig.ledger.append("x402_payment", paid_entry)
        rig.ledger.append("deal", {"event": "released"})
        rig.ledger.append("x402_payment", {"url": "https://api.example.com/d", "offer": OFFER,
                                           "pay_to": SELLER_ADDRESS, "status": "not_paid",
                                           "reasons": ["spend_limit: over 1 TUSD per action"]})  # fmt: skip
        rig.ledger.append("x402_sale", {"resource": URL,
                                        "payer": STRANGER_ADDRESS, "pay_to": SELLER_ADDRESS,
                                        "asset": OTHER, "amount": "7", "transaction": TX,
                                        "input_sha256": "0x01", "output_sha256": "0x02"})  # fmt: skip
        rig.ledger.flush()
        rows = read_x402_rows(rig.ledger.path, [TUSD])
    sale, refused, paid = rows
    assert (paid["kind"], paid["role"], paid["state"], paid["price"], paid["token"]) == (
        "x402",
        "buyer",
        "paid",
        "1.5",
        "TUSD",
    )
    assert (paid["payee"], paid["counterparty"], paid["transaction"]) == (SELLER_ADDRESS, SELLER_ADDRESS, TX)
    assert paid["resource"] == URL
    assert refused["state"] == "not_paid"
    assert "over 1 TUSD" in refused["reason"]
    assert refused["transaction"] is None
    # an asset that is not a known token: base units, and the asset named by its address
    assert (sale["role"], sale["state"], sale["price"], sale["token"]) == ("seller", "sold", "7", OTHER)
    assert (sale["payer"], sale["counterparty"]) == (STRANGER_ADDRESS, STRANGER_ADDRESS)
    assert sale["output_hash"] == "0x02"
    assert [r["id"] for r in rows] == [f"x402-{r['seq']}" for r in rows]


def test_no_ledger_is_no_rows(tmp_path: Path) -> None:
    assert read_x402_rows(tmp_path / "missing.sqlite", [TUSD]) == []
