"""The only module that touches didkit 0.3.3 (archived upstream): its calls, and a clean process exit.

didkit takes and returns JSON strings; its async functions need a running event loop. Its `verify_*`
functions report failures in the result's `errors` list rather than raising; `proof_errors` gives
them as a list either way.

didkit can crash the interpreter at exit (abort/segfault, rc 134/139) after it has been used. A program
that used didkit must end with `exit_cleanly(code)`: it flushes stdout/stderr and leaves with
`os._exit`, skipping the interpreter teardown that crashes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable
from typing import NoReturn, cast

import didkit

__all__ = [
    "DidkitError",
    "ProofCheck",
    "exit_cleanly",
    "issue_credential",
    "issue_presentation",
    "proof_errors",
    "resolve",
]

DidkitError = cast("type[Exception]", didkit.DIDKitException)


async def issue_credential(credential: str, options: str, jwk: str) -> str:
    """Sign a credential (JSON) with a private JWK: LD proof or, with `proofFormat: jwt`, a compact JWT."""
    return await didkit.issue_credential(credential, options, jwk)


async def issue_presentation(presentation: str, options: str, jwk: str) -> str:
    """Sign a presentation (JSON) with a private JWK."""
    return await didkit.issue_presentation(presentation, options, jwk)


class ProofCheck:
    """A didkit proof verification, running on didkit's own threads from the moment it is created.

    Create it first and do the Python-side checks while it runs; then `await check.errors()` (also when
    a Python-side check failed: didkit work left running at interpreter exit can crash the process).
    Needs a running event loop.
    """

    def __init__(self, document: str, options: str, *, presentation: bool = False) -> None:
        self._early: list[str] | None = None
        self._future: Awaitable[str] | None = None
        try:
            if presentation:
                self._future = didkit.verify_presentation(document, options)
            else:
                self._future = didkit.verify_credential(document, options)
        except (DidkitError, ValueError) as exc:  # ValueError: didkit could not parse the input at all
            self._early = [str(exc) or type(exc).__name__]

    async def errors(self) -> list[str]:
        """didkit's verification errors; [] when the proof holds."""
        if self._future is None:
            return self._early or ["didkit did not run"]
        try:
            result = await self._future
        except (DidkitError, ValueError) as exc:
            return [str(exc) or type(exc).__name__]
        finally:
            self._future = None
        return [str(e) for e in json.loads(result).get("errors") or []]


async def proof_errors(document: str, options: str, *, presentation: bool = False) -> list[str]:
    """didkit's verification errors for a credential (JSON or JWT) or presentation; [] if the proof holds."""
    return await ProofCheck(document, options, presentation=presentation).errors()


async def resolve(did: str) -> str:
    """didkit's DID document (JSON text) for an offline method; DidkitError with its error code otherwise."""
    return await didkit.resolve_did(did, "{}")


def exit_cleanly(code: int = 0) -> NoReturn:
    """Flush stdout, stderr and logging, then end the process with `code` without interpreter teardown.

    Call it as the last step of any program (CLI command) that used didkit; after it nothing else runs,
    so finish (and close) files, databases and event loops first.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken pipe: nothing left to save
            stream.flush()
    os._exit(code)
