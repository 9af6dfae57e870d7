"""Every snippet of README's "Services" section runs as written: the plugin loads beside the agents.yaml
snippet, `sova config check` accepts them, the service answers the buyer's input, and the `sova deals`
commands print what the README shows."""

from __future__ import annotations

import asyncio
import re
import shutil
from decimal import Decimal
from pathlib import Path

from runtime.config import load_config
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.terms import canonical
from runtime.services import run_service
from runtime.services.loading import agent_services
from tests.support.cli import sova
from tests.support.paths import REPO_ROOT

HEAD = """version: 1
chain: {kind: local}
agents:
  - name: issuer
    role: issuer
    policy: policies/presets/issuer.yaml
"""


def snippet(name: str) -> str:
    """The fenced block after `<!-- snippet: name -->` in README.md."""
    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert found, f"README.md has no snippet {name!r}"
    return found.group(1)


def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    (tmp_path / "shout.py").write_text(snippet("plugin"))
    (tmp_path / "agents.yaml").write_text(HEAD + "\n" + snippet("agents"))
    return tmp_path / "agents.yaml"


def test_the_readme_plugin_and_agents_snippets_pass_config_check(tmp_path: Path) -> None:
    result = sova("config", "check", "-f", str(project(tmp_path)))
    assert result.code == 0, result.err
    assert "ok — 3 agents (issuer, seller, buyer)" in result.out


def test_the_readme_service_answers_the_buyers_input(tmp_path: Path) -> None:
    config = load_config(project(tmp_path))
    services = agent_services(config.agent("seller"), tmp_path)
    service = services.get("shout")
    assert service is not None
    assert service.description == "Upper-case a text."
    buy = next(g for g in config.agent("buyer").goals if g.kind == "buy")
    value = service.read_input(buy.input)  # type: ignore[union-attr]
    assert service.quote(value) == Decimal("1")
    data, _ = asyncio.run(run_service(service, value, _context(tmp_path)))
    assert data == {"text": "HELLO AGENTS"}


def test_the_readme_deals_commands_print_what_it_shows(tmp_path: Path) -> None:
    config = project(tmp_path)
    folder = tmp_path / ".sova" / "agents" / "buyer"
    folder.mkdir(parents=True)
    deal_id = "0x5c1d" + "00" * 30
    with DealStore(folder / "deals.sqlite") as store:
        inline_in, input_hash = store.payloads.keep(canonical({"text": "hello agents"}))
        inline_out, output_hash = store.payloads.keep(canonical({"text": "HELLO AGENTS"}))
        store.put(DealRecord(peer="did:key:z6MkSeller", thid="t1", role="buyer", state="released",
                             item="shout", price="1", deal_id=deal_id, input=inline_in, input_hash=input_hash,
                             output=inline_out, output_hash=output_hash))  # fmt: skip
    commands = [
        line.split("#")[0].split() for line in snippet("deals").splitlines() if line.startswith("sova")
    ]
    assert [c[:3] for c in commands] == [["sova", "deals", "list"], ["sova", "deals", "show"]]
    listed = sova("deals", "list", "buyer", "--json", "-f", str(config))
    assert listed.code == 0, listed.err
    shown = sova("deals", "show", "buyer", deal_id, "-f", str(config))
    text = (REPO_ROOT / "README.md").read_text()
    example = text[text.index("$ sova deals show buyer") :].split("```")[0]
    for line in example.splitlines()[2:]:
        if line.strip():
            assert line in shown.out, (line, shown.out)


def _context(tmp_path: Path) -> object:
    from runtime.services import ServiceContext

    return ServiceContext(agent_name="seller", agent_did="did:key:z6Mk", scratch=tmp_path)
