"""Browser tests: Debian's chromium (headless, fresh profile) driven by Playwright, against a real fleet
started with `sova up --detach` (real chain, real agent processes, the real console server).

Playwright never downloads a browser here: it launches /usr/bin/chromium, which `make setup` installs
with apt-get."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import PASS, Fleet, Page
from tests.support.cli import sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def start_fleet(folder: Path, approval_over: str) -> Fleet:
    """The demo market in `folder`, buying every 3 s, with the buyer's approval rule at `approval_over`."""
    shutil.copytree(ROOT / "policies" / "presets", folder / "policies" / "presets")
    buyer = folder / "policies" / "presets" / "buyer.yaml"
    buyer.write_text(buyer.read_text().replace('amount_over: "40"', f'amount_over: "{approval_over}"'))
    (folder / "agents.yaml").write_text((ROOT / "agents.yaml").read_text().replace("every: 20s", "every: 3s"))
    config = folder / "agents.yaml"
    started = sova("up", "--detach", "-f", str(config), env=PASS, timeout=240)
    if started.code != 0:
        sova("down", "-f", str(config), env=PASS, timeout=90)
        raise AssertionError(started.err + started.out)
    home = folder / ".sova"
    record = json.loads((home / "supervisor.json").read_text())
    token = (home / "operator.token").read_text().strip()
    return Fleet(config, home, record["console"], token, started.out)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One fleet per module: every spend over 5 TUSD needs an operator approval."""
    running = start_fleet(tmp_path_factory.mktemp("fleet"), approval_over="5")
    try:
        yield running
    finally:
        sova("down", "-f", str(running.config), env=PASS, timeout=90)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: run `make setup` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="sova-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
            # Playwright's wait_for_function evaluates strings, which the console's CSP forbids. With
            # the CSP off, the hostile-string test also proves the page's own rule (textContent only)
            # keeps markup inert, not just the CSP behind it.
            bypass_csp=True,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(browser: Any, fleet: Fleet) -> Iterator[Page]:
    page = browser.new_page()
    seen = Page(page, [], [])
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.goto(fleet.link)
    page.wait_for_selector(".agent-card")
    try:
        yield seen
    finally:
        page.close()
