"""Signed envelopes: compact JWS over JCS JSON, and every way a receiver must refuse one."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from identity import (
    IdentityKey,
    InvalidEnvelope,
    ReplayStore,
    StoreError,
    canonicalize,
    sign_envelope,
    verify_envelope,
)
from identity.keys import b64url

T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def alice() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def bob() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[ReplayStore]:
    with ReplayStore(tmp_path / "replay.db") as store:
        yield store


def decode(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def forge(key: IdentityKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A JWS signed by `key` over any header and payload (for the checks after the signature)."""
    signing_input = f"{b64url(canonicalize(header))}.{b64url(canonicalize(payload))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def envelope(alice: IdentityKey, bob: IdentityKey, **kw: Any) -> str:
    kw.setdefault("now", T0)
    return sign_envelope(alice, type="propose", thid="thread-1", to=bob.did, body={"price": "12.50"}, **kw)


def test_envelope_round_trip(alice: IdentityKey, bob: IdentityKey, replay: ReplayStore) -> None:
    jws = envelope(alice, bob)
    env = verify_envelope(jws, recipient=bob.did, replay=replay, now=T0 + 1)
    assert (env.type, env.thid, env.sender, env.recipient) == ("propose", "thread-1", alice.did, bob.did)
    assert (env.iat, env.exp, env.body) == (int(T0), int(T0) + 120, {"price": "12.50"})
    assert env.jws == jws


def test_envelope_is_eddsa_jws_with_did_url_kid_over_jcs(alice: IdentityKey, bob: IdentityKey) -> None:
    header, payload, signature = envelope(alice, bob, nonce="n-1").split(".")
    assert decode(header) == {"alg": "EdDSA", "kid": alice.verification_method, "typ": "sova-envelope"}
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == canonicalize(json.loads(raw))
    assert set(json.loads(raw)) == {"type", "thid", "from", "to", "iat", "exp", "nonce", "body"}
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64


def test_bad_signature_is_refused(alice: IdentityKey, bob: IdentityKey, replay: ReplayStore) -> None:
    header, payload, signature = envelope(alice, bob).split(".")
    data = decode(payload)
    data["body"]["price"] = "0.01"
    tampered = f"{header}.{b64url(canonicalize(data))}.{signature}"
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(tampered, recipient=bob.did, replay=replay, now=T0)
    assert info.value.reason == "bad_signature"
    assert str(info.value).startswith("envelope rejected (bad_signature): the signature is not did:key:")


def test_signature_by_someone_else_than_from_is_refused(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    mallory = IdentityKey.generate()
    header = {"alg": "EdDSA", "kid": mallory.verification_method, "typ": "sova-envelope"}
    payload = {"type": "accept", "thid": "t", "from": alice.did, "to": bob.did, "iat": int(T0),
               "exp": int(T0) + 60, "nonce": "n", "body": {}}  # fmt: skip
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(forge(mallory, header, payload), recipient=bob.did, replay=replay, now=T0)
    assert info.value.reason == "wrong_sender"


def test_envelope_for_another_agent_is_refused(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    carol = IdentityKey.generate()
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(envelope(alice, bob), recipient=carol.did, replay=replay, now=T0)
    assert info.value.reason == "wrong_recipient"
    assert f"`to` is {bob.did}" in str(info.value)


def test_expired_envelope_is_refused(alice: IdentityKey, bob: IdentityKey, replay: ReplayStore) -> None:
    jws = envelope(alice, bob, ttl=30)
    with ReplayStore(Path(replay.path).with_name("other.db")) as other:
        verify_envelope(jws, recipient=bob.did, replay=other, now=T0 + 30 + 59)  # within the skew
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0 + 30 + 60)
    assert info.value.reason == "expired"
    assert "send a fresh message" in str(info.value)


def test_envelope_from_the_future_is_refused(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    jws = envelope(alice, bob, now=T0 + 61)
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0)
    assert info.value.reason == "not_yet_valid"
    assert "in the future" in str(info.value)


def test_skew_is_configurable(alice: IdentityKey, bob: IdentityKey, replay: ReplayStore) -> None:
    jws = envelope(alice, bob, now=T0 + 5)
    with pytest.raises(InvalidEnvelope, match="not_yet_valid"):
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0, max_clock_skew=2)
    assert (
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0, max_clock_skew=10).iat == int(T0) + 5
    )


def test_replayed_nonce_is_refused(alice: IdentityKey, bob: IdentityKey, replay: ReplayStore) -> None:
    jws = envelope(alice, bob)
    verify_envelope(jws, recipient=bob.did, replay=replay, now=T0)
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0 + 1)
    assert info.value.reason == "replayed"
    again = envelope(
        alice, bob, nonce=json.loads(base64.urlsafe_b64decode(jws.split(".")[1] + "=="))["nonce"]
    )
    with pytest.raises(InvalidEnvelope, match="replayed"):
        verify_envelope(again, recipient=bob.did, replay=replay, now=T0 + 2)


def test_replay_protection_survives_a_restart(alice: IdentityKey, bob: IdentityKey, tmp_path: Path) -> None:
    jws = envelope(alice, bob)
    with ReplayStore(tmp_path / "r.db") as first:
        verify_envelope(jws, recipient=bob.did, replay=first, now=T0)
    with ReplayStore(tmp_path / "r.db") as second, pytest.raises(InvalidEnvelope, match="replayed"):
        verify_envelope(jws, recipient=bob.did, replay=second, now=T0 + 1)


def test_nonces_reach_sqlite_within_the_flush_interval(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path / "r.db", flush_interval=0.05)
    try:
        assert store.add("did:key:a", "n1", 2_000_000_000)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            reader = ReplayStore(tmp_path / "r.db")
            seen = not reader.add("did:key:a", "n1", 2_000_000_000)
            reader.close()
            if seen:
                break
            time.sleep(0.02)
        assert seen
    finally:
        store.close()


def test_a_nonce_is_on_disk_when_add_returns_with_no_flush_interval(tmp_path: Path) -> None:
    with ReplayStore(tmp_path / "r.db", flush_interval=0) as store:
        assert store.add("did:key:a", "n1", 2_000_000_000)
        with ReplayStore(tmp_path / "r.db") as other:  # another process's view of the file
            assert not other.add("did:key:a", "n1", 2_000_000_000)


@pytest.mark.parametrize(
    ("interval", "connections"),
    [(0.0, 2), (0.02, 1)],  # committing each nonce holds across connections; batching within one store
)
def test_identical_nonces_racing_pass_once(tmp_path: Path, interval: float, connections: int) -> None:
    stores = [ReplayStore(tmp_path / "r.db", flush_interval=interval) for _ in range(connections)]
    start = threading.Barrier(8)

    def claim(i: int) -> bool:
        start.wait()
        return stores[i % connections].add("did:key:a", "same", 2_000_000_000)

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(claim, range(8)))
    finally:
        for store in stores:
            store.close()
    assert results.count(True) == 1


def test_expired_nonces_are_purged_and_may_be_reused(tmp_path: Path) -> None:
    with ReplayStore(tmp_path / "r.db", flush_interval=0) as store:
        assert store.add("did:key:a", "n1", expires=int(T0) + 10, now=T0)
        assert store.add("did:key:a", "n2", expires=int(T0) + 1000, now=T0)
        assert not store.add("did:key:a", "n1", expires=int(T0) + 10, now=T0 + 5)
        assert store.purge(now=T0 + 20) == 1
        assert len(store) == 1
        assert store.add("did:key:a", "n1", expires=int(T0) + 100, now=T0 + 20)


def test_replay_store_file_is_private(tmp_path: Path) -> None:
    ReplayStore(tmp_path / "r.db").close()
    assert stat.S_IMODE((tmp_path / "r.db").stat().st_mode) == 0o600
    os.chmod(tmp_path / "r.db", 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        ReplayStore(tmp_path / "r.db")


def test_too_long_lived_envelope_is_refused(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    jws = envelope(alice, bob, ttl=7200)
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0)
    assert info.value.reason == "too_long_lived"


@pytest.mark.parametrize(
    "jws",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        b64url(b'{"alg":"none","kid":"x","typ":"sova-envelope"}') + ".e30.AAAA",
        b64url(b'{"alg":"EdDSA","kid":"did:web:x#k","typ":"sova-envelope"}') + ".e30.AAAA",
        b64url(b'{"alg":"EdDSA","kid":"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme#x",'
               b'"typ":"sova-envelope"}') + ".e30.AAAA",
    ],
)  # fmt: skip
def test_malformed_envelopes_are_refused(bob: IdentityKey, replay: ReplayStore, jws: str) -> None:
    with pytest.raises(InvalidEnvelope) as info:
        verify_envelope(jws, recipient=bob.did, replay=replay, now=T0)
    assert info.value.reason == "malformed"
    assert "\n" not in str(info.value)


def test_payload_missing_fields_is_malformed(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    header = {"alg": "EdDSA", "kid": alice.verification_method, "typ": "sova-envelope"}
    with pytest.raises(InvalidEnvelope, match="exactly the fields"):
        verify_envelope(forge(alice, header, {"to": bob.did}), recipient=bob.did, replay=replay, now=T0)


def test_body_must_be_exact_json(alice: IdentityKey, bob: IdentityKey) -> None:
    with pytest.raises(ValueError, match="send it as a string"):
        sign_envelope(alice, type="propose", thid="t", to=bob.did, body={"wei": 10**30})


async def test_verify_is_usable_from_asyncio(
    alice: IdentityKey, bob: IdentityKey, replay: ReplayStore
) -> None:
    async def receive(i: int) -> str:
        jws = sign_envelope(alice, type="cfp", thid=f"t{i}", to=bob.did, body={"i": i})
        await asyncio.sleep(0)
        return verify_envelope(jws, recipient=bob.did, replay=replay).thid

    assert sorted(await asyncio.gather(*(receive(i) for i in range(50)))) == sorted(
        f"t{i}" for i in range(50)
    )
