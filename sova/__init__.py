"""Sova's public face: what a plugin, a test or a program imports (`from sova import Service, ...`).

    from sova import Plugin, ServiceContext

    def register(plugin: Plugin) -> None:
        @plugin.service("wordcount", input=Text, output=Count, price="1")
        async def wordcount(text: Text, context: ServiceContext) -> Count: ...

Names, by what they are for:

- services and plugins: `Service`, `Services`, `ServiceContext`, `Requirement`, `Plugin`,
  `load_plugins` (a plugin module's services, as an agent loads them), `run_service` (run a handler
  within its limits, as the seller does: for a plugin's own tests);
- errors: `SovaError` (the base of the runtime's), `ConfigError`, `ServiceError`, `BadServiceInput`,
  `ServiceFailed`, `PluginError`, `PolicyError`;
- policies: `Intent`, `Decision`, `Policy`, `load_policy`, `evaluate`;
- the ledger: `Ledger`, `LedgerEntry`, `verify_ledger`;
- an agent: `load_config` (agents.yaml), `Agent` (one agent as `sova agent run` assembles it);
- plugins that add more than services: `Skill` (a skill's plan and run), `CustomRule` (a policy rule
  kind), `GoalContext` (what a plugin goal's run gets);
- writing a skill: `SkillArgs` (its arguments' base model), `PartyRef` and `TokenAmount` (argument
  types), `SkillContext` (what `plan` and `run` get), `Planned` and `BudgetUse` (a plan: its Intent,
  effects and budget use), `TxEffect`, `call_effect` (a contract call as an effect), `base_units`,
  `NarrowSigner` (what `run` signs with) and `send_effect` (send an approved effect);
- writing a rule kind: `Facts` (the usage an evaluation sees) and `RuleVerdict` (what it answers);
- clients: `SovaClient` (buy a service through a running agent, read its deals: `BuyResult`,
  `BuyRefused`), `OperatorClient` (an agent's operator API over HTTP).

Nothing is imported until a name is first used (module `__getattr__`), so `import sova` costs
nothing, and a plugin that uses only the service names never loads web3, LangChain or the A2A SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policies import (
        CustomRule,
        Decision,
        Facts,
        Intent,
        Policy,
        PolicyError,
        RuleVerdict,
        evaluate,
        load_policy,
    )
    from runtime.agent.agent import Agent
    from runtime.config import load_config
    from runtime.errors import ConfigError, SovaError
    from runtime.ledger.format import Entry as LedgerEntry
    from runtime.ledger.ledger import Ledger
    from runtime.ledger.verify import verify_ledger
    from runtime.operator.buying import BuyRefused, BuyResult, SovaClient
    from runtime.operator.client import OperatorClient
    from runtime.services import GoalContext
    from runtime.services.errors import BadServiceInput, PluginError, ServiceError, ServiceFailed
    from runtime.services.plugins import Plugin, load_plugins
    from runtime.services.run import run_service
    from runtime.services.service import Requirement, Service, ServiceContext, Services
    from skills import (
        BudgetUse,
        NarrowSigner,
        PartyRef,
        Planned,
        Skill,
        SkillArgs,
        SkillContext,
        TokenAmount,
        TxEffect,
    )
    from skills.context import base_units
    from skills.tx import call_effect, send_effect

__all__ = [
    "Agent",
    "BadServiceInput",
    "BudgetUse",
    "BuyRefused",
    "BuyResult",
    "ConfigError",
    "CustomRule",
    "Decision",
    "Facts",
    "GoalContext",
    "Intent",
    "Ledger",
    "LedgerEntry",
    "NarrowSigner",
    "OperatorClient",
    "PartyRef",
    "Planned",
    "Plugin",
    "PluginError",
    "Policy",
    "PolicyError",
    "Requirement",
    "RuleVerdict",
    "Service",
    "ServiceContext",
    "ServiceError",
    "ServiceFailed",
    "Services",
    "Skill",
    "SkillArgs",
    "SkillContext",
    "SovaClient",
    "SovaError",
    "TokenAmount",
    "TxEffect",
    "base_units",
    "call_effect",
    "evaluate",
    "load_config",
    "load_plugins",
    "load_policy",
    "run_service",
    "send_effect",
    "verify_ledger",
]

_WHERE: dict[str, tuple[str, str]] = {
    "Service": ("runtime.services.service", "Service"),
    "Services": ("runtime.services.service", "Services"),
    "ServiceContext": ("runtime.services.service", "ServiceContext"),
    "Requirement": ("runtime.services.service", "Requirement"),
    "Plugin": ("runtime.services.plugins", "Plugin"),
    "load_plugins": ("runtime.services.plugins", "load_plugins"),
    "run_service": ("runtime.services.run", "run_service"),
    "SovaError": ("runtime.errors", "SovaError"),
    "ConfigError": ("runtime.errors", "ConfigError"),
    "ServiceError": ("runtime.services.errors", "ServiceError"),
    "BadServiceInput": ("runtime.services.errors", "BadServiceInput"),
    "ServiceFailed": ("runtime.services.errors", "ServiceFailed"),
    "PluginError": ("runtime.services.errors", "PluginError"),
    "PolicyError": ("policies", "PolicyError"),
    "Intent": ("policies", "Intent"),
    "Decision": ("policies", "Decision"),
    "Policy": ("policies", "Policy"),
    "load_policy": ("policies", "load_policy"),
    "evaluate": ("policies", "evaluate"),
    "Ledger": ("runtime.ledger.ledger", "Ledger"),
    "LedgerEntry": ("runtime.ledger.format", "Entry"),
    "verify_ledger": ("runtime.ledger.verify", "verify_ledger"),
    "load_config": ("runtime.config", "load_config"),
    "Agent": ("runtime.agent.agent", "Agent"),
    "OperatorClient": ("runtime.operator.client", "OperatorClient"),
    "SovaClient": ("runtime.operator.buying", "SovaClient"),
    "BuyResult": ("runtime.operator.buying", "BuyResult"),
    "BuyRefused": ("runtime.operator.buying", "BuyRefused"),
    "CustomRule": ("policies", "CustomRule"),
    "GoalContext": ("runtime.services", "GoalContext"),
    "Skill": ("skills", "Skill"),
    "SkillArgs": ("skills", "SkillArgs"),
    "SkillContext": ("skills", "SkillContext"),
    "PartyRef": ("skills", "PartyRef"),
    "TokenAmount": ("skills", "TokenAmount"),
    "Planned": ("skills", "Planned"),
    "BudgetUse": ("skills", "BudgetUse"),
    "TxEffect": ("skills", "TxEffect"),
    "NarrowSigner": ("skills", "NarrowSigner"),
    "base_units": ("skills.context", "base_units"),
    "call_effect": ("skills.tx", "call_effect"),
    "send_effect": ("skills.tx", "send_effect"),
    "Facts": ("policies", "Facts"),
    "RuleVerdict": ("policies", "RuleVerdict"),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562), and keep it in this module."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'sova' has no attribute {name!r}: see sova.__all__")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
