"""Settings: sources in the right order, and the default model kept current."""

from __future__ import annotations

import json
import re
from importlib import util
from pathlib import Path

import pytest

from openintern.config import DEFAULT_MODEL, Settings


def _sonnet_version(name: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"claude-sonnet-(\d+)(?:-(\d))?(?:-\d{8})?", name)
    if not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def test_default_model_is_the_newest_sonnet_in_litellms_table() -> None:
    spec = util.find_spec("litellm")
    assert spec is not None and spec.origin is not None
    table = json.loads(
        (Path(spec.origin).parent / "model_prices_and_context_window_backup.json").read_text()
    )
    versions = {
        name: v
        for name, info in table.items()
        if isinstance(info, dict)
        and info.get("litellm_provider") == "anthropic"
        and (v := _sonnet_version(name)) is not None
    }
    newest = max(versions.values())
    assert _sonnet_version(DEFAULT_MODEL.removeprefix("anthropic/")) == newest


def test_sources_in_order_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "openai/from-file"\nmax_iterations = 42\nsandbox = "none"\n')
    monkeypatch.setenv("OPENINTERN_CONFIG", str(config))
    assert Settings().model == "openai/from-file"
    monkeypatch.setenv("OPENINTERN_MODEL", "openai/from-env")
    s = Settings()
    assert (s.model, s.max_iterations, s.sandbox) == ("openai/from-env", 42, "none")
    assert Settings(model="openai/from-flag").model == "openai/from-flag"


def test_tokens_read_from_their_usual_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "y" * 30)
    s = Settings()
    assert s.hf_token is not None and s.github_token is not None
    assert "x" * 30 not in repr(s) and set(s.secret_values()) == {
        "hf_" + "x" * 30,
        "ghp_" + "y" * 30,
    }


def test_headless_runs_are_never_unbounded() -> None:
    assert Settings().effective_budget(headless=True) == 10.0
    assert Settings().effective_budget(headless=False) is None
    assert Settings(max_cost_usd=2.5).effective_budget(headless=True) == 2.5
