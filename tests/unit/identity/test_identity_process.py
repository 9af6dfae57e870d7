"""Process hygiene: importing identity costs nothing, and a program that used didkit exits cleanly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

USE_DIDKIT_THEN_EXIT = textwrap.dedent(
    """
    import asyncio, sys
    import identity

    async def main():
        issuer, holder = identity.IdentityKey.generate(), identity.IdentityKey.generate()
        claims = {"service": "x"}
        vcs = await asyncio.gather(*(
            identity.issue_credential(issuer, holder.did, "VerifiedSupplier", claims) for _ in range(20)
        ))
        await identity.verify_credential(vcs[0], trusted_issuers=None, revocation=None)
        # leave didkit work in flight, the situation that crashes a normal interpreter exit
        identity.didkit_bridge.didkit.verify_credential(vcs[1].text, "{}")
        print("done", flush=False)

    asyncio.run(main())
    identity.exit_cleanly(int(sys.argv[1]))
    """
)


def test_importing_identity_loads_no_heavy_module() -> None:
    code = (
        "import sys, identity; heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('didkit', 'cryptography', 'httpx', 'eth_hash', 'sqlite3')]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_exit_cleanly_ends_every_run_with_the_given_code_and_flushed_output() -> None:
    codes = []
    for run in range(20):
        code = 3 if run % 2 else 0
        out = subprocess.run(
            [sys.executable, "-c", USE_DIDKIT_THEN_EXIT, str(code)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        codes.append(out.returncode)
        assert out.stdout == "done\n", out.stderr
    assert codes == [3 if run % 2 else 0 for run in range(20)]
