"""DID syntax, did:key / did:pkh helpers and resolution (offline methods, did:web over real HTTPS)."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from identity import (
    DidResolutionError,
    IdentityKey,
    MalformedDid,
    UnsupportedDidMethod,
    UnsupportedKeyType,
    did_key_from_public_key,
    did_pkh,
    parse_did,
    public_key_from_did_key,
    resolve_did,
)
from identity.resolve import did_web_url

ADDRESS = "0xb9c5714089478a327f09197987f16f9e5d936e8a"
CHECKSUMMED = "0xB9C5714089478a327F09197987f16f9E5d936E8a"
SECP256K1_DID_KEY = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"


def test_did_key_round_trips_through_the_public_key() -> None:
    key = IdentityKey.generate()
    assert did_key_from_public_key(key.public_key_bytes) == key.did
    assert public_key_from_did_key(key.did).public_bytes_raw() == key.public_key_bytes


def test_did_pkh_is_the_checksummed_caip10_account() -> None:
    assert did_pkh(31337, ADDRESS) == f"did:pkh:eip155:31337:{CHECKSUMMED}"
    assert did_pkh(1, CHECKSUMMED.upper().replace("0X", "0x")) == f"did:pkh:eip155:1:{CHECKSUMMED}"


@pytest.mark.parametrize(
    ("chain_id", "address", "message"),
    [
        (0, ADDRESS, "positive integer"),
        (True, ADDRESS, "positive integer"),
        (1, "0x1234", "40 hex digits"),
        (1, CHECKSUMMED.replace("B9C", "b9C"), "wrong EIP-55 checksum"),
    ],
)
def test_did_pkh_refuses_bad_input(chain_id: int, address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        did_pkh(chain_id, address)


@pytest.mark.parametrize(
    "did",
    ["", "did", "did:", "did:key", "did:key:", "DID:key:z6Mk", "did:KEY:z6Mk", "did:key:a b", "did:web:x:"],
)
def test_malformed_dids_are_refused_in_one_line(did: str) -> None:
    with pytest.raises(MalformedDid) as info:
        parse_did(did)
    assert "\n" not in str(info.value)
    assert "did:<method>:<id>" in str(info.value)


def test_parse_did_splits_method_and_id() -> None:
    assert parse_did("did:web:example.com%3A8443:agents:a") == ("web", "example.com%3A8443:agents:a")


def test_non_ed25519_did_key_is_named_as_such() -> None:
    with pytest.raises(UnsupportedKeyType, match="secp256k1"):
        public_key_from_did_key(SECP256K1_DID_KEY)


async def test_did_key_resolves_offline_to_its_verification_method() -> None:
    key = IdentityKey.generate()
    doc = await resolve_did(key.did)
    assert doc["id"] == key.did
    assert doc["assertionMethod"] == [key.verification_method]


@pytest.mark.parametrize(
    "did",
    [
        f"did:pkh:eip155:31337:{CHECKSUMMED}",
        f"did:ethr:{ADDRESS}",
        "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ",
    ],
)
async def test_pkh_ethr_and_jwk_resolve_offline(did: str) -> None:
    assert (await resolve_did(did))["id"] == did


async def test_unsupported_method_lists_the_supported_ones() -> None:
    with pytest.raises(UnsupportedDidMethod) as info:
        await resolve_did("did:ion:EiAbc")
    assert str(info.value) == (
        "unsupported DID method 'ion': Sova resolves did:key, did:pkh, did:ethr, did:jwk and did:web"
    )
    assert info.value.method == "ion"


async def test_did_key_with_a_bad_id_is_malformed() -> None:
    with pytest.raises(MalformedDid, match="malformed did:key"):
        await resolve_did("did:key:zzzz")


async def test_malformed_did_is_refused_before_resolution() -> None:
    with pytest.raises(MalformedDid):
        await resolve_did("not-a-did")


def test_did_web_urls_follow_the_method_spec() -> None:
    assert did_web_url("did:web:example.com") == "https://example.com/.well-known/did.json"
    assert did_web_url("did:web:example.com%3A8443:agents:a") == "https://example.com:8443/agents/a/did.json"


async def test_unreachable_did_web_is_a_clear_error_within_the_timeout() -> None:
    with pytest.raises(DidResolutionError) as info:
        await resolve_did("did:web:127.0.0.1%3A9", http_timeout=2.0)
    message = str(info.value)
    assert "https://127.0.0.1:9/.well-known/did.json is unreachable" in message
    assert "\n" not in message


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[int, dict[str, object], ssl.SSLContext]]:
    """A real HTTPS server on 127.0.0.1 with a throwaway self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    documents: dict[str, object] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            data = json.dumps(body).encode() if body is not None else b"not found"
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    try:
        yield server.server_address[1], documents, client_ctx
    finally:
        server.shutdown()
        server.server_close()


async def test_did_web_resolves_over_https(
    https_server: tuple[int, dict[str, object], ssl.SSLContext],
) -> None:
    port, documents, ctx = https_server
    did = f"did:web:127.0.0.1%3A{port}:agents:seller"
    documents["/agents/seller/did.json"] = {"@context": "https://www.w3.org/ns/did/v1", "id": did}
    async with httpx.AsyncClient(verify=ctx) as client:
        doc = await resolve_did(did, http_client=client)
    assert doc["id"] == did


async def test_did_web_document_for_another_did_is_refused(
    https_server: tuple[int, dict[str, object], ssl.SSLContext],
) -> None:
    port, documents, ctx = https_server
    documents["/.well-known/did.json"] = {"id": "did:web:evil.example"}
    async with httpx.AsyncClient(verify=ctx) as client:
        with pytest.raises(DidResolutionError, match=r"is for 'did:web:evil\.example'"):
            await resolve_did(f"did:web:127.0.0.1%3A{port}", http_client=client)


async def test_did_web_missing_document_reports_the_http_status(
    https_server: tuple[int, dict[str, object], ssl.SSLContext],
) -> None:
    port, _, ctx = https_server
    async with httpx.AsyncClient(verify=ctx) as client:
        with pytest.raises(DidResolutionError, match="answered HTTP 404"):
            await resolve_did(f"did:web:127.0.0.1%3A{port}:nobody", http_client=client)
