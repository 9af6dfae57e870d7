"""Compile the vendored ERC-8004 reference contracts (tests/fixtures/erc8004_reference) for bench/gas.py.

Writes `tests/fixtures/erc8004_reference/artifacts/<Name>.json` (abi, bytecode) for the three
registries, HardhatMinimalUUPS and OpenZeppelin's ERC1967Proxy, with the reference's settings.

Usage: .venv/bin/python tools/compile_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_contracts import IMPORT_RE, ROOT, CompileError, collect_sources, run_solc

FOLDER = ROOT / "tests" / "fixtures" / "erc8004_reference"
NAMES = (
    "IdentityRegistryUpgradeable",
    "ReputationRegistryUpgradeable",
    "ValidationRegistryUpgradeable",
    "HardhatMinimalUUPS",
)
PROXY = "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol"
SETTINGS: dict[str, Any] = {  # the reference's hardhat.config.ts, but our pinned solc
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "cancun",  # OpenZeppelin 5.7 uses mcopy; the reference says shanghai
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


def main() -> int:
    """Compile and write the artifacts."""
    contents = {
        f"erc8004_reference/{n}.sol": (FOLDER / f"{n}.sol").read_text(encoding="utf-8") for n in NAMES
    }
    imports = sorted({i for text in contents.values() for i in IMPORT_RE.findall(text)} | {PROXY})
    try:
        found, _ = collect_sources(imports)
        contents.update(found)
        std_input = {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sorted(contents.items())},
            "settings": SETTINGS,
        }
        version, output = run_solc(std_input)
    except CompileError as exc:
        print(f"compile_reference: {exc}", file=sys.stderr)
        return 1
    out = FOLDER / "artifacts"
    out.mkdir(exist_ok=True)
    units = [(f"erc8004_reference/{n}.sol", n) for n in NAMES] + [(PROXY, "ERC1967Proxy")]
    for unit, name in units:
        compiled = output["contracts"][unit][name]
        artifact = {"contractName": name, "abi": compiled["abi"], "compiler": f"solc {version}",
                    "bytecode": "0x" + compiled["evm"]["bytecode"]["object"]}  # fmt: skip
        path = out / f"{name}.json"
        path.write_text(json.dumps(artifact, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
