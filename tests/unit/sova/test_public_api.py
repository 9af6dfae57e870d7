"""`sova`, the package users import: a short, pinned `__all__`, every name the runtime's own object,
and nothing heavy loaded until a name is used (a plugin that uses the service names never loads web3,
LangChain, the A2A SDK or Starlette)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sova
from tests.support.paths import REPO_ROOT

PUBLIC = [
    "Agent", "BadServiceInput", "BuyRefused", "BuyResult", "ConfigError", "CustomRule", "GoalContext",
    "Decision", "Intent", "Ledger", "LedgerEntry", "OperatorClient", "Plugin", "PluginError", "Policy",
    "PolicyError", "Requirement", "Service", "ServiceContext", "ServiceError", "ServiceFailed",
    "Services", "Skill", "SovaClient", "SovaError", "evaluate", "load_config", "load_plugins",
    "load_policy", "run_service", "verify_ledger",
    # what a plugin's own skill and rule kind need (docs/guide.md, tips.py)
    "BudgetUse", "Facts", "NarrowSigner", "PartyRef", "Planned", "RuleVerdict", "SkillArgs",
    "SkillContext", "TokenAmount", "TxEffect", "base_units", "call_effect", "send_effect",
]  # fmt: skip

HEAVY = ("web3", "eth_account", "langchain", "langchain_core", "a2a", "starlette", "uvicorn", "didkit")


def test_the_public_names_are_pinned() -> None:
    assert sorted(sova.__all__) == sorted(PUBLIC)
    assert len(sova.__all__) == len(set(sova.__all__))


def test_each_public_name_is_the_runtimes_own_object() -> None:
    from policies import Intent
    from runtime.ledger.format import Entry
    from runtime.services import Plugin, Service, ServiceContext, Services, run_service

    assert (sova.Service, sova.Services, sova.ServiceContext) == (Service, Services, ServiceContext)
    assert (sova.Plugin, sova.run_service) == (Plugin, run_service)
    assert (sova.Intent, sova.LedgerEntry) == (Intent, Entry)
    for name in sova.__all__:
        assert getattr(sova, name) is not None, name
    assert set(sova.__all__) <= set(dir(sova))


def test_a_name_sova_does_not_have_is_one_clear_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'sova' has no attribute 'Servce': see sova.__all__"):
        _ = sova.Servce  # type: ignore[attr-defined]


def _loaded_after(code: str) -> list[str]:
    """The top-level modules a fresh interpreter holds after running `code`."""
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=60, check=True)  # fmt: skip
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_import_sova_loads_nothing_of_the_runtime() -> None:
    loaded = _loaded_after("import sova")
    assert not {"runtime", "policies", "pydantic", *HEAVY} & set(loaded)


def test_a_plugin_using_the_service_names_loads_no_framework() -> None:
    code = (
        "from sova import BadServiceInput, Plugin, Service, ServiceContext, Services, SovaError, "
        "load_plugins, run_service"
    )
    loaded = set(_loaded_after(code))
    assert "runtime" in loaded  # the names were really imported
    assert not set(HEAVY) & loaded, set(HEAVY) & loaded


def test_python_dash_m_sova_is_the_sova_command() -> None:
    done = subprocess.run([sys.executable, "-m", "sova", "--help"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage: sova" in done.stdout
