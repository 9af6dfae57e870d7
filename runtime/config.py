"""agents.yaml as validated, frozen data.

The file names the chain, where keys live, and each agent: its role, key, skills, policy file,
brain and goals. It never holds a secret: passphrases, seeds and API keys are named by the
environment variable that holds them. Amounts are decimal strings in token units, in the strict
grammar of `runtime.config_amounts` (a float is refused: 0.1 is not exact in binary); durations
are positive, strings like "20s", "10m", "24h".

`load_config(path)` returns an `AgentsFile` or raises `ConfigError` carrying one line per problem,
each naming the file, the line, the YAML path, what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from policies.yamlsource import LocatedYaml, YamlSyntaxError, load_located
from runtime.config_amounts import check_amount
from runtime.config_durations import Duration
from runtime.config_report import BUILTIN_GOALS, PathError, duplicate_names, format_path, problems
from runtime.config_text import read_config_text
from runtime.config_x402 import X402Sales
from runtime.errors import ConfigError

TUSD_DECIMALS = 6
"""The one token the runtime registers (TestUSD); prices, budgets and goals are in it."""
ETH_DECIMALS = 18
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _amount_in(unit: str, decimals: int) -> BeforeValidator:
    """A pydantic validator for amounts of `unit` (a token with `decimals` decimals)."""
    return BeforeValidator(lambda value: check_amount(value, decimals=decimals, unit=unit))


def _token(value: str) -> str:
    if value == "TUSD" or re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return value
    raise ValueError(
        f"unknown token {value[:40]!r}: agents trade in TUSD (write TUSD, or TestUSD's 0x address)"
    )


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"name {value!r} must start with a lowercase letter and use only a-z, 0-9, _ and - (≤ 32 chars)"
        )
    return value


def _env_name(value: str) -> str:
    if not _ENV.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name: name the variable (e.g. SOVA_PASSPHRASE), "
            "never put the secret itself here"
        )
    return value


Amount = Annotated[str, _amount_in("TUSD", TUSD_DECIMALS)]
"""An amount of TestUSD, the token deals are priced in."""
EthAmount = Annotated[str, _amount_in("ETH", ETH_DECIMALS)]
Token = Annotated[str, AfterValidator(_token)]
Name = Annotated[str, AfterValidator(_name)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class Model(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- chain -------------------------------------------------------------------------------------


class LocalChain(Model):
    """An anvil node that `sova` starts from tools/, its state kept in .sova/chain/."""

    kind: Literal["local"] = "local"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free loopback port")
    block_time: Duration | None = Field(None, description="mine on an interval instead of per transaction")
    state_every: Duration = Field(
        timedelta(seconds=1), gt=timedelta(0), description="anvil state save interval"
    )
    fund: EthAmount = Field("100", description="native currency (ETH) given to each agent at start")
    mint: Amount = Field("1000", description="TestUSD minted to each agent at start")


class RemoteChain(Model):
    """Any EVM chain reached over JSON-RPC; contracts must be deployed by `sova chain deploy`."""

    kind: Literal["rpc"]
    rpc_url: str = Field(pattern=r"^https?://", description="JSON-RPC endpoint, http(s)://")
    chain_id: int = Field(gt=0, description="the chain id the endpoint must report")


Chain = Annotated[LocalChain | RemoteChain, Field(discriminator="kind")]


# --- keys --------------------------------------------------------------------------------------


class Keys(Model):
    """Where keystores live and which environment variables hold their secrets."""

    dir: str | None = Field(None, description="keystore folder; default <sova home>/keys")
    passphrase_env: EnvName = "SOVA_PASSPHRASE"
    seed_env: EnvName | None = Field(
        None, description="a BIP-39 mnemonic to derive every agent key from (m/44'/60'/0'/0/i)"
    )
    operator: Name = Field("operator", description="keystore name of the operator key (index 0)")
    approvers: list[Name] = Field(
        default_factory=list,
        description="more operator keys (keystore names) whose signed decisions count for `approvers: N`",
    )


# --- brains ------------------------------------------------------------------------------------


class RuleBrain(Model):
    """Deterministic time-dependent concession between a target and a reservation price."""

    kind: Literal["rules"] = "rules"
    strategy: str = Field(
        "linear",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="boulware, linear, conceder, or a strategy a plugin of the agent registers",
    )
    target: Amount = Field(description="the price hoped for (token units)")
    reservation: Amount = Field(description="the worst price still accepted (token units)")
    rounds: int = Field(5, ge=1, le=100)
    deadline: Duration = Field(default_factory=lambda: timedelta(seconds=10))


class LlmBrain(Model):
    """A LangChain agent decides each move; every tool call still goes through the executor and policy.
    `model` is "provider:name" (openai, anthropic, ollama; any OpenAI-compatible server with `base_url`)
    or "scripted:PATH" (a scripted model, relative to agents.yaml: tests and demos, no network)."""

    kind: Literal["llm"]
    model: str = Field(min_length=3, description='e.g. "openai:gpt-4o-mini", "anthropic:…", "ollama:…"')
    base_url: str | None = Field(None, description="an OpenAI-compatible endpoint")
    api_key_env: EnvName | None = None
    temperature: float = Field(0.0, ge=0, le=2)
    fallback: RuleBrain | None = Field(
        None, description="decides when the model fails; its reservation price also bounds the model"
    )
    rounds: int = Field(10, ge=1, le=100, description="offers in a thread before only accept/reject")
    timeout: Duration = Field(default_factory=lambda: timedelta(seconds=30), description="per model call")
    max_steps: int = Field(4, ge=1, le=20, description="model calls per move")
    max_tool_calls: int = Field(8, ge=1, le=64, description="tool calls of one model turn that run")


Brain = Annotated[RuleBrain | LlmBrain, Field(discriminator="kind")]


# --- goals -------------------------------------------------------------------------------------


_REF = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"  # module:function (a module beside agents.yaml, or installed)


class BuyGoal(Model):
    """Buy a service on a schedule, up to a price."""

    kind: Literal["buy"]
    service: str = Field(min_length=1, description="service tag sellers register under")
    input: dict[str, Any] = Field(default_factory=dict, description="the service's input, sent in the cfp")
    input_from: str | None = Field(None, pattern=_REF, description="module:function giving each run's input")
    on_result: str | None = Field(None, pattern=_REF, description="module:function given each deal's result")
    accept: str | None = Field(None, pattern=_REF, description="module:function(input, output) -> bool")
    every: Duration
    max_price: Amount
    quantity: int = Field(1, ge=1)
    token: Token = "TUSD"


class SellGoal(Model):
    """Offer a service: register the tag and answer calls for proposals."""

    kind: Literal["sell"]
    service: str = Field(min_length=1, description="a service a plugin of this agent registers")
    description: str = ""
    token: Token = "TUSD"
    validator: Name | None = Field(None, description="an agent that re-runs each delivery and scores it")


class IssueGoal(Model):
    """Grant a credential type to agents that ask and meet the issuer's policy."""

    kind: Literal["issue"]
    type: str = Field(min_length=1, description="credential type, e.g. VerifiedSupplier")
    to: list[Name] = Field(default_factory=list, description="agents granted it at start")
    valid_for: Duration = Field(default_factory=lambda: timedelta(days=30))


class TaskGoal(Model):
    """Work for an LLM brain: its model runs `prompt` with the agent's skills and `buy_service`, every
    `every` (without it, once at start), within the brain's limits (runtime/agent/tasks.py)."""

    kind: Literal["llm_task"]
    prompt: str = Field(min_length=1, max_length=8000, description="what the model is asked to do")
    every: Duration | None = None


class PluginGoal(BaseModel):
    """A goal of a kind a plugin of the agent registers (`plugin.goal`): `kind`, an optional `every`
    (run on that interval; without it, once at start), and the options the goal kind's own config
    model validates (`sova config check` and the agent do, with their lines)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a goal kind a plugin registers")
    every: Duration | None = None

    @property
    def options(self) -> dict[str, Any]:
        """The goal's own keys, for its kind's config model."""
        return dict(self.model_extra or {})


def _goal_kind(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    if kind is None:
        return None  # pydantic reports the missing `kind`
    return str(kind) if kind in BUILTIN_GOALS else "plugin"


Goal = Annotated[
    Annotated[BuyGoal, Tag("buy")]
    | Annotated[SellGoal, Tag("sell")]
    | Annotated[IssueGoal, Tag("issue")]
    | Annotated[TaskGoal, Tag("llm_task")]
    | Annotated[PluginGoal, Tag("plugin")],
    Discriminator(_goal_kind),
]


# --- agents ------------------------------------------------------------------------------------


class Agent(Model):
    """One agent process."""

    name: Name
    role: Literal["buyer", "seller", "issuer", "custom"] = "custom"
    key: Name | None = Field(None, description="keystore name; default: the agent's name")
    key_index: int | None = Field(None, ge=1, description="HD index when keys.seed_env is set")
    port: int = Field(0, ge=0, le=65535, description="A2A port on 127.0.0.1; 0 picks a free one")
    skills: list[str] = Field(default_factory=list)
    policy: str = Field(description="policy YAML file, relative to agents.yaml")
    brain: Brain = Field(default_factory=lambda: RuleBrain(target="10", reservation="10"))
    goals: list[Goal] = Field(default_factory=list)
    trusted_issuers: list[str] = Field(default_factory=list, description="agent names or DIDs")
    anchor_every: Duration = Field(
        timedelta(seconds=30), gt=timedelta(0), description="ledger anchor interval"
    )
    plugins: list[str] = Field(default_factory=list, description="modules beside agents.yaml or installed")
    x402: X402Sales | None = Field(None, description="sell the services per call over x402 (config_x402)")

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, skills: list[str]) -> list[str]:
        dupes = sorted({s for s in skills if skills.count(s) > 1})
        if dupes:
            raise ValueError(f"skill listed twice: {', '.join(dupes)}")
        return skills

    @property
    def key_name(self) -> str:
        return self.key or self.name


class Console(Model):
    """The operator console served by the supervisor."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)


class AgentsFile(Model):
    """The whole agents.yaml."""

    version: Literal[1] = 1
    home: str | None = Field(
        None, description="state folder; default .sova beside agents.yaml, or $SOVA_HOME"
    )
    chain: Chain = Field(default_factory=LocalChain)
    keys: Keys = Field(default_factory=Keys)
    console: Console = Field(default_factory=Console)
    agents: list[Agent] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_are_unique(self) -> AgentsFile:
        seen: dict[str, int] = {}
        for i, agent in enumerate(self.agents):
            if agent.name in seen:
                raise PathError(
                    ("agents", i, "name"),
                    f"duplicate agent name {agent.name!r} (also agents[{seen[agent.name]}]): "
                    "give each agent its own name",
                )
            seen[agent.name] = i
        return self

    def agent(self, name: str) -> Agent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        known = ", ".join(a.name for a in self.agents)
        raise ConfigError([f"no agent named {name!r} in agents.yaml (agents: {known})"])


# --- loading -----------------------------------------------------------------------------------


def load_config(path: Path, *, check_files: bool = True) -> AgentsFile:
    """Read and validate agents.yaml; raise ConfigError with every problem found."""
    return load_config_located(path, check_files=check_files)[0]


def load_config_located(path: Path, *, check_files: bool = True) -> tuple[AgentsFile, LocatedYaml]:
    """Like `load_config`, also giving the line of every YAML path (for checks made afterwards)."""
    where = str(path)
    text = read_config_text(path, missing="file not found: pass -f PATH or create agents.yaml (see README)")
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        raise ConfigError([f"{where}:{exc.line}: {exc}"]) from None
    if located.duplicates:
        raise ConfigError([f"{where}:{line}: {format_path(p)}: {msg}" for line, p, msg in located.duplicates])
    if not isinstance(located.data, dict):
        raise ConfigError([f"{where}:1: the file must be a mapping with at least `agents:`"])
    try:
        config = AgentsFile.model_validate(located.data)
    except ValidationError as exc:
        found = [(line, p, msg) for line, p, msg in problems(exc, located)]
        # pydantic runs the whole-file checks only when every field is valid: report them anyway.
        found += [d for d in duplicate_names(located) if d not in found]
        raise ConfigError([f"{where}:{line}: {p}: {msg}" for line, p, msg in sorted(found)]) from None
    if check_files:
        missing = [
            f"{where}:{located.line_of(('agents', i, 'policy'))}: agents[{i}].policy: "
            f"policy file {agent.policy!r} not found (looked at {path.parent / agent.policy}): "
            "create it or point to a preset such as policies/presets/buyer.yaml"
            for i, agent in enumerate(config.agents)
            if not (path.parent / agent.policy).is_file()
        ]
        if missing:
            raise ConfigError(missing)
    return config, located


def config_schema() -> dict[str, Any]:
    """JSON Schema of agents.yaml, for editors."""
    schema = AgentsFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Sova agents.yaml"
    return schema
