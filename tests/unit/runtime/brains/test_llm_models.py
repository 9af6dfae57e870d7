"""The model named in agents.yaml: scripted models from files, and one clear line for every problem
(no provider, provider package missing, API key variable unset, a bad script)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from runtime.brains.models import ModelError, chat_model
from runtime.brains.scripted import ScriptedChatModel, ScriptedFailure, ScriptEnded, ScriptError, script_text
from runtime.config import LlmBrain


def brain(model: str, **options: object) -> LlmBrain:
    return LlmBrain.model_validate({"kind": "llm", "model": model, **options})


def test_a_scripted_model_is_read_relative_to_agents_yaml(tmp_path: Path) -> None:
    (tmp_path / "brains").mkdir()
    (tmp_path / "brains" / "b.yaml").write_text(
        "replies:\n"
        "  - tool_calls: [{name: counter, args: {price: '10'}}]\n"
        "  - text: thinking\n"
        "  - error: rate limited\n"
    )
    model = chat_model(brain("scripted:brains/b.yaml"), root=tmp_path)
    assert isinstance(model, ScriptedChatModel)
    first = model.invoke([HumanMessage("go")])
    assert first.tool_calls[0]["name"] == "counter"
    assert first.tool_calls[0]["args"] == {"price": "10"}
    assert model.invoke([HumanMessage("go")]).content == "thinking"
    with pytest.raises(ScriptedFailure, match="rate limited"):
        model.invoke([HumanMessage("go")])
    with pytest.raises(ScriptEnded, match="no reply left"):
        model.invoke([HumanMessage("go")])


async def test_a_looping_script_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "loop.json"
    path.write_text(script_text([{"text": "one"}, {"text": "two"}], loop=True))
    model = chat_model(brain(f"scripted:{path}"))
    said = [(await model.ainvoke([HumanMessage("x")])).content for _ in range(5)]
    assert said == ["one", "two", "one", "two", "one"]


def test_a_missing_script_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"script .*nope.yaml not found: create it"):
        chat_model(brain("scripted:nope.yaml"), root=tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("replies: [{tool_calls: [{name: x, args: {}}], price: 3}]", r"replies\.0\..*price"),
        ("replies: []", "replies: List should have at least 1 item"),
        ("replies: [\n  - {text: 'a'\n", r"bad.yaml:\d+: not valid YAML/JSON"),
        ("{loop: yes}", "replies: Field required"),
    ],
)
def test_a_bad_script_names_the_file_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ScriptError, match=expected) as info:
        chat_model(brain("scripted:bad.yaml"), root=tmp_path)
    assert "\n" not in str(info.value)
    assert "bad.yaml" in str(info.value)


def test_a_model_without_a_provider_is_refused() -> None:
    with pytest.raises(ModelError, match=r"name the provider, e\.g\. openai:gpt-4o-mini"):
        chat_model(brain("gpt-4o-mini"))


def test_an_unset_api_key_variable_is_named() -> None:
    with pytest.raises(ModelError) as info:
        chat_model(brain("openai:gpt-4o-mini"), environ={})
    assert str(info.value) == (
        "model 'openai:gpt-4o-mini': the API key variable OPENAI_API_KEY is unset: export OPENAI_API_KEY=… "
        "(agents.yaml names the variable in `api_key_env`, never the key)"
    )
    with pytest.raises(ModelError, match="the API key variable MY_KEY is unset"):
        chat_model(brain("anthropic:claude-sonnet-4-5", api_key_env="MY_KEY"), environ={})


@pytest.mark.parametrize(
    ("model", "package", "env"),
    [
        ("openai:gpt-4o-mini", "langchain-openai", {"OPENAI_API_KEY": "sk-x"}),
        ("anthropic:claude-sonnet-4-5", "langchain-anthropic", {"ANTHROPIC_API_KEY": "k"}),
        ("ollama:llama3.1", "langchain-ollama", {}),
    ],
)
def test_a_missing_provider_package_says_what_to_install(
    model: str, package: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as it does when the package is not installed.
    module = package.replace("-", "_")
    monkeypatch.setitem(sys.modules, module, None)
    if module == "langchain_ollama":
        monkeypatch.setitem(sys.modules, "langchain_community", None)
        monkeypatch.setitem(sys.modules, "langchain_community.chat_models", None)
    from langchain.chat_models import base

    base._get_chat_model_creator.cache_clear()
    with pytest.raises(ModelError) as info:
        chat_model(brain(model), environ=env)
    assert str(info.value) == (
        f"model {model!r} needs the {package} package: install it with `.venv/bin/pip install {package}` "
        "(or `pip install 'sova[llm]'`)"
    )
    assert "sk-x" not in str(info.value)


def test_an_unknown_provider_is_one_line() -> None:
    with pytest.raises(ModelError) as info:
        chat_model(brain("magic:thing"), environ={})
    assert str(info.value).startswith("model 'magic:thing': Unsupported provider='magic'")
    assert "\n" not in str(info.value)
