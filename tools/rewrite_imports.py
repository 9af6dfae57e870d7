"""Rewrite references to runtime's old flat module names (before issue 11) into the subpackage layout.

`runtime.ledger_store` -> `runtime.ledger.store`, `runtime/ledger_store.py` -> `runtime/ledger/store.py`,
`runtime/console/` -> `runtime/fleet/console/`, in every tracked source, doc and config file. Run it
after merging a branch that was written against the flat layout; it is idempotent (a name that is
already new is left alone, also where an old module name is now a package: ledger, executor, agent,
negotiation).

Usage: .venv/bin/python tools/rewrite_imports.py [--check]
(--check: list the files it would change, change none, exit 1 if there are any)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MOVES = {
    "anvil": "chain.anvil", "chain_ops": "chain.ops", "chain_session": "chain.session",
    "provision": "chain.provision", "registry": "chain.registry",
    "ledger": "ledger.ledger", "ledger_format": "ledger.format", "ledger_group": "ledger.group",
    "ledger_store": "ledger.store", "ledger_sync": "ledger.sync", "ledger_verify": "ledger.verify",
    "ledger_report": "ledger.report", "ledger_chain": "ledger.onchain", "ledger_proof": "ledger.proof",
    "ledger_anchor": "ledger.anchor",
    "executor": "executor.executor", "action_log": "executor.action_log",
    "approvals": "executor.approvals", "narrow_signer": "executor.narrow_signer",
    "protocol": "a2a.protocol", "protocol_log": "a2a.protocol_log", "a2a_client": "a2a.client",
    "a2a_server": "a2a.server", "a2a_guard": "a2a.guard", "agent_card": "a2a.card",
    "negotiation_fsm": "a2a.threads", "negotiation_handler": "a2a.handler",
    "brain": "brains.rules", "llm_brain": "brains.llm", "llm_chat": "brains.chat",
    "llm_models": "brains.models", "llm_moves": "brains.moves", "llm_scripted": "brains.scripted",
    "tools": "brains.tools",
    "negotiation": "negotiation.buyer", "negotiation_seller": "negotiation.seller",
    "settlement": "negotiation.settlement", "deal_resume": "negotiation.resume",
    "deals": "negotiation.deals",
    "operator_agent": "operator.start", "operator_api": "operator.api", "operator_auth": "operator.auth",
    "operator_chat": "operator.chat", "operator_client": "operator.client",
    "operator_events": "operator.events", "operator_facts": "operator.facts",
    "operator_routes": "operator.routes", "operator_token": "operator.token",
    "supervisor": "fleet.supervisor", "console_server": "fleet.console_server",
    "console_fleet": "fleet.console_fleet",
    "agent": "agent.agent", "agent_goals": "agent.goals",
    # split out of executor.py on main while runtime/ was restructured: `git mv` them there, then run this
    "executor_budget": "executor.budget", "executor_escalation": "executor.escalation",
}  # fmt: skip
SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".js", ".html", ".txt", ""}
_DOTTED = re.compile(r"(?<![\w.])runtime\.([a-z_0-9]+)((?:\.[a-z_0-9]+)?)")
_SLASHED = re.compile(r"(?<![\w./])runtime/([a-z_0-9]+)\.py\b")


def _submodules(package: str) -> set[str]:
    folder = ROOT / "runtime" / package
    return {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}


def rewrite(text: str) -> str:
    """`text` with every old runtime module name replaced by its new one."""
    packages = {name: _submodules(name) for name in MOVES if (ROOT / "runtime" / name).is_dir()}

    def dotted(m: re.Match[str]) -> str:
        name, rest = m.group(1), m.group(2)
        if name not in MOVES:
            return m.group(0)
        if name in packages and rest[1:] in packages[name]:
            return m.group(0)  # already runtime.<package>.<module>
        return f"runtime.{MOVES[name]}{rest}"

    def slashed(m: re.Match[str]) -> str:
        name = m.group(1)
        return f"runtime/{MOVES[name].replace('.', '/')}.py" if name in MOVES else m.group(0)

    text = _DOTTED.sub(dotted, text)
    text = _SLASHED.sub(slashed, text)
    return re.sub(r"(?<![\w./])runtime/console/", "runtime/fleet/console/", text)


def main() -> int:
    check = "--check" in sys.argv[1:]
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    changed = []
    for name in listed.stdout.split():
        path = ROOT / name
        if path.suffix not in SUFFIXES and path.name != "Makefile":
            continue
        if name == "tools/rewrite_imports.py":  # its own map and examples
            continue
        if "node_modules" in name or name.startswith("bench/results/") or not path.is_file():
            continue
        try:
            old = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite(old)
        if new != old:
            changed.append(name)
            if not check:
                path.write_text(new, encoding="utf-8")
    for name in changed:
        print(("stale: " if check else "rewrote: ") + name)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
