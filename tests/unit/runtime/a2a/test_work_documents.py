"""Validation documents over real HTTP on loopback: a kept document is served by its hash and read
back; a hash not kept, a malformed hash, a URI that is not http(s), a body over the cap and a body
that is not JSON each get one line, never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from runtime.a2a.server import listen, serve_started
from runtime.a2a.work_documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    document_routes,
    fetch_document,
    keep_document,
)

KEPT = "0x" + "ab" * 32


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    folder = tmp_path / "validations"
    sock, url = listen()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=document_routes(folder)), log_level="warning"))
    task = await serve_started(server, sock, "documents")
    try:
        yield url, folder
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_a_kept_document_is_served_by_its_hash_and_read_back(served: tuple[str, Path]) -> None:
    url, folder = served
    path = keep_document(folder, KEPT, {"service": "s", "input": {"a": 1}, "output": [1, 2]})
    assert path.stat().st_mode & 0o777 == 0o600
    assert await fetch_document(f"{url}/validations/{KEPT}") == {
        "service": "s",
        "input": {"a": 1},
        "output": [1, 2],
    }


@pytest.mark.parametrize(
    ("where", "line"),
    [
        ("/validations/0x" + "cd" * 32, "answered HTTP 404"),
        ("/validations/../agent.json", "answered HTTP 404"),
        ("/validations/not-a-hash", "answered HTTP 404"),
    ],
)
async def test_what_is_not_kept_is_a_404(served: tuple[str, Path], where: str, line: str) -> None:
    url, _ = served
    with pytest.raises(DocumentError, match=line):
        await fetch_document(url + where)


async def test_other_schemes_oversized_and_non_json_bodies_are_one_line(served: tuple[str, Path]) -> None:
    url, folder = served
    with pytest.raises(DocumentError, match="is not http"):
        await fetch_document("file:///etc/passwd")
    keep_document(folder, KEPT, "x" * MAX_DOCUMENT_BYTES)
    with pytest.raises(DocumentError, match=f"is over {MAX_DOCUMENT_BYTES} bytes"):
        await fetch_document(f"{url}/validations/{KEPT}")
    (folder / f"{KEPT}.json").write_text("{not json")
    with pytest.raises(DocumentError, match="is not JSON"):
        await fetch_document(f"{url}/validations/{KEPT}")
    with pytest.raises(ValueError, match="is not a request hash"):
        keep_document(folder, "../../escape", {})
    closed = listen()[0]
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(DocumentError, match="cannot fetch"):
        await fetch_document(f"http://127.0.0.1:{port}/validations/{KEPT}")
