"""Deeply nested JSON from a peer is refused, never parsed — even after the eth stack has raised the
recursion limit to 100,000 (py_ecc does at import), where json.loads would overflow the C stack."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from identity import IdentityError, IdentityKey, InvalidEnvelope, ReplayStore, sign_envelope, verify_envelope
from identity.untrusted_json import TooDeep, loads_untrusted, too_deep

DEEP = "[" * 200_000 + "]" * 200_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_deep_json_is_refused_before_parsing() -> None:
    with pytest.raises(TooDeep):
        loads_untrusted(DEEP)
    assert loads_untrusted('{"a": [[1]], "s": "[[[[[[[[[["}') == {"a": [[1]], "s": "[[[[[[[[[["}


def test_brackets_inside_strings_do_not_count() -> None:
    assert not too_deep('"' + "[" * 1000 + '"')
    assert too_deep("[" * 65 + "]" * 65)
    assert not too_deep("[" * 64 + "]" * 64)


def test_deep_envelope_payload_is_rejected_as_malformed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import wallet.chain  # noqa: F401 - the eth stack, which raises the recursion limit

    assert sys.getrecursionlimit() >= 1000
    key, me = IdentityKey.generate(), IdentityKey.generate()
    good = sign_envelope(key, type="cfp", thid="t", to=me.did, body={})
    header = good.split(".")[0]
    forged = f"{header}.{b64(DEEP.encode())}.{b64(bytes(64))}"
    replay = ReplayStore(tmp_path / "replay.sqlite")
    try:
        with pytest.raises((InvalidEnvelope, IdentityError)):
            verify_envelope(forged, recipient=me.did, replay=replay)
    finally:
        replay.close()


def test_process_with_eth_stack_survives_deep_credential_and_card() -> None:
    code = (
        "import wallet.chain, sys, asyncio, httpx\n"
        "from identity import parse_credential\n"
        "from runtime.a2a.card import fetch_card, InvalidCard\n"
        "deep = '[' * 200000 + ']' * 200000\n"
        "try:\n    parse_credential(deep)\n"
        "except Exception as e:\n    print('credential', type(e).__name__)\n"
        "async def main():\n"
        "    t = httpx.MockTransport(lambda r: httpx.Response(200, content=deep.encode()))\n"
        "    async with httpx.AsyncClient(transport=t) as http:\n"
        "        try:\n            await fetch_card('http://a.test', http=http)\n"
        "        except InvalidCard as e:\n            print('card', e.reason)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    assert "credential InvalidCredential" in result.stdout
    assert "card malformed" in result.stdout
