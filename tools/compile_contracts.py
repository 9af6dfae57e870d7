"""Compile the Sova contracts with the pinned solcjs and write `wallet/artifacts/<Name>.json`.

Deterministic: the standard-JSON input is built here (imports resolved by this script from
`contracts/` and `tools/node_modules/`), the settings are fixed, and each artifact carries a
`sourceHash` over its transitive sources, the compiler version and the settings.

Usage: .venv/bin/python tools/compile_contracts.py [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tools" / "node_modules"
CONTRACTS_DIR = ROOT / "contracts"
DEFAULT_OUT = ROOT / "wallet" / "artifacts"
CONTRACT_NAMES = (
    "AgentRegistry",
    "DealEscrow",
    "ActionLogAnchor",
    "TestUSD",
    "ReputationRegistry",
    "ValidationRegistry",
)

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # Pinned rather than left to the compiler default, so a solc upgrade cannot silently change the
    # bytecode, and so the contracts run on any chain that has had the Cancun upgrade.
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# Runs solcjs in-process: reads the standard-JSON input on stdin, prints {"version", "output"}.
NODE_SCRIPT = """
const solc = require("solc");
let input = "";
process.stdin.on("data", (c) => { input += c; });
process.stdin.on("end", () => {
  const output = solc.compile(input);
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(output)}));
});
"""

IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']""", re.MULTILINE)


class CompileError(Exception):
    """solcjs failed or reported errors."""


def source_name(path: Path) -> str:
    """The solc source unit name of `path`: `contracts/X.sol` or `@openzeppelin/...`."""
    if path.is_relative_to(NODE_MODULES):
        return path.relative_to(NODE_MODULES).as_posix()
    return path.relative_to(ROOT).as_posix()


def resolve(name: str) -> Path:
    """The file behind a source unit name."""
    if name.startswith("contracts/"):
        return ROOT / name
    return NODE_MODULES / name


def import_name(importer: str, target: str) -> str:
    """The source unit name of `target` as imported from `importer` (relative or absolute)."""
    if not target.startswith("."):
        return target
    parts = importer.split("/")[:-1]
    for part in target.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def collect_sources(roots: list[str]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """All sources reachable from `roots`, and each root's transitive closure of source names."""
    contents: dict[str, str] = {}
    deps: dict[str, set[str]] = {}

    def visit(name: str) -> None:
        if name in contents:
            return
        path = resolve(name)
        if not path.is_file():
            raise CompileError(f"import {name!r} not found at {path}: run `make setup`")
        text = path.read_text(encoding="utf-8")
        contents[name] = text
        deps[name] = {import_name(name, target) for target in IMPORT_RE.findall(text)}
        for dep in sorted(deps[name]):
            visit(dep)

    closures: dict[str, set[str]] = {}
    for root in roots:
        visit(root)
        seen: set[str] = set()
        stack = [root]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(deps[current])
        closures[root] = seen
    return contents, closures


def run_solc(std_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Compile a standard-JSON input with solcjs; returns (compiler version, output)."""
    proc = subprocess.run(
        ["node", "-e", NODE_SCRIPT],
        input=json.dumps(std_input, sort_keys=True),
        capture_output=True,
        text=True,
        cwd=NODE_MODULES.parent,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(f"solcjs failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    output: dict[str, Any] = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    for warning in output.get("errors", []):
        print(warning.get("formattedMessage", warning.get("message", "")), file=sys.stderr)
    return str(result["version"]), output


def source_hash(names: set[str], contents: dict[str, str], version: str) -> str:
    """sha256 over the sources (name and text, sorted by name), the compiler version and settings."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(f"{name}\n{len(contents[name])}\n".encode())
        digest.update(contents[name].encode())
    digest.update(version.encode())
    digest.update(json.dumps(SETTINGS, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def compile_all(out_dir: Path) -> list[Path]:
    """Compile every contract and write one artifact per contract into `out_dir`."""
    roots = [f"contracts/{name}.sol" for name in CONTRACT_NAMES]
    contents, closures = collect_sources(roots)
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(contents.items())},
        "settings": SETTINGS,
    }
    version, output = run_solc(std_input)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, root in zip(CONTRACT_NAMES, roots, strict=True):
        compiled = output["contracts"][root][name]
        artifact = {
            "contractName": name,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            "sourceHash": source_hash(closures[root], contents, version),
            "compiler": f"solc {version}",
        }
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    try:
        written = compile_all(args.out)
    except CompileError as exc:
        print(f"compile_contracts: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
