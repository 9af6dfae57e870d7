"""The chat model an `llm` brain of agents.yaml names (DESIGN §9).

    model: "openai:gpt-4o-mini"            OpenAI (key from OPENAI_API_KEY, or api_key_env)
    model: "anthropic:claude-sonnet-4-5"   Anthropic (ANTHROPIC_API_KEY, or api_key_env)
    model: "ollama:llama3.1"               a local Ollama (no key; base_url to move it)
    model: "openai:NAME" + base_url        any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, …)
    model: "scripted:brains/buyer.yaml"    a scripted model (runtime/brains/scripted.py), no network

Providers go through LangChain's `init_chat_model`, imported only here and only when an agent uses
one, so a rules-only fleet never loads a provider package. A provider package that is not installed,
or an API key variable that is unset, is one line saying what to install or set. The key is read from
the environment and handed to the client object only: it never enters a prompt, a log or the ledger.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from runtime.config import LlmBrain
from runtime.errors import SovaError

SCRIPTED = "scripted"
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
PACKAGES = {"openai": "langchain-openai", "anthropic": "langchain-anthropic", "ollama": "langchain-ollama"}
KEYLESS = {"ollama"}


class ModelError(SovaError):
    """The model named in agents.yaml cannot be made (unknown provider, package missing, key unset)."""


def split_model(name: str) -> tuple[str, str]:
    """'openai:gpt-4o-mini' -> ('openai', 'gpt-4o-mini'); ModelError without a provider prefix."""
    provider, sep, rest = name.partition(":")
    if not sep or not provider or not rest:
        raise ModelError(
            f"model {name!r}: name the provider, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, "
            "ollama:llama3.1 or scripted:PATH"
        )
    return provider.strip().lower(), rest.strip()


def chat_model(
    brain: LlmBrain, *, root: Path | None = None, environ: Mapping[str, str] | None = None
) -> BaseChatModel:
    """The chat model of `brain`. `root` is the folder of agents.yaml (scripted paths are relative to
    it); `environ` defaults to os.environ. ModelError (one line) when it cannot be made."""
    env = os.environ if environ is None else environ
    provider, name = split_model(brain.model)
    if provider == SCRIPTED:
        from runtime.brains.scripted import load_script

        path = Path(name)
        return load_script(path if path.is_absolute() else (root or Path.cwd()) / path)
    options: dict[str, Any] = {"temperature": brain.temperature}
    if brain.base_url is not None:
        options["base_url"] = brain.base_url
    key = _api_key(brain, provider, env)
    if key is not None:
        options["api_key"] = key
    elif brain.base_url is not None and provider == "openai":
        # Local OpenAI-compatible servers often need no key, but the client insists on one.
        options["api_key"] = "unused"
    from langchain.chat_models import init_chat_model

    try:
        model = init_chat_model(name, model_provider=provider, **options)
    except ImportError:
        package = PACKAGES.get(provider, f"langchain-{provider}")
        raise ModelError(
            f"model {brain.model!r} needs the {package} package: install it with "
            f"`.venv/bin/pip install {package}` (or `pip install 'sova[llm]'`)"
        ) from None
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"model {brain.model!r}: {first}") from None
    if not isinstance(model, BaseChatModel):
        raise ModelError(f"model {brain.model!r}: the provider gave no chat model ({type(model).__name__})")
    return model


def _api_key(brain: LlmBrain, provider: str, env: Mapping[str, str]) -> str | None:
    variable = brain.api_key_env or DEFAULT_KEY_ENV.get(provider)
    if variable is None:
        return None
    value = env.get(variable, "")
    if value:
        return value
    if brain.api_key_env is None and (provider in KEYLESS or brain.base_url is not None):
        return None
    raise ModelError(
        f"model {brain.model!r}: the API key variable {variable} is unset: export {variable}=… "
        "(agents.yaml names the variable in `api_key_env`, never the key)"
    )
