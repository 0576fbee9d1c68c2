"""The small judgements behind the first-run messages: typos, timing metrics, cut text."""

from __future__ import annotations

import pytest

from openintern.command_typos import close_command, edit_distance
from openintern.render import shorten
from openintern.research.reproduce import Tolerance, compare_metrics, is_timing_metric

COMMANDS = {"run", "resume", "sessions", "demo", "config", "runs", "reproduce", "serve"}


@pytest.mark.parametrize(("word", "expected"), [
    ("sesions", "sessions"), ("sessons", "sessions"), ("Sessions", "sessions"),
    ("rnus", "runs"), ("deom", "demo"), ("confg", "config"), ("reproduse", "reproduce"),
    ("hello", None), ("train", None), ("summarise", None), ("optimise", None),
    ("sessions please", None), ("--sesions", None), ("", None),
])
def test_close_command(word: str, expected: str | None) -> None:
    assert close_command(word, COMMANDS) == expected


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert edit_distance("rnus", "runs") == 1
    assert edit_distance("sesions", "sessions") == 1
    assert edit_distance("abc", "abc") == 0 and edit_distance("", "abc") == 3


@pytest.mark.parametrize("name", [
    "fit_seconds", "step_time", "epoch_time_s", "duration", "train_runtime", "tokens/s",
    "tokens_per_second", "train_samples_per_second", "elapsed_s", "latency_ms", "wall_time",
])
def test_timing_metrics(name: str) -> None:
    assert is_timing_metric(name)


@pytest.mark.parametrize("name", [
    "test_accuracy", "loss", "val_loss", "f1", "reward_mean", "perplexity", "mse", "bleu",
    "lifetime_reward", "grad_norm",
])
def test_quality_metrics_are_not_timing(name: str) -> None:
    assert not is_timing_metric(name)


def test_compare_judges_the_chosen_metrics_and_lists_the_rest() -> None:
    old = {"acc": 0.9, "loss": 0.3, "fit_seconds": 1.0}
    new = {"acc": 0.9 + 1e-12, "loss": 0.31, "fit_seconds": 2.5}
    compared, mismatched, other, timing = compare_metrics(old, new, ["acc"], Tolerance())
    assert compared == {"acc": (0.9, 0.9 + 1e-12)} and mismatched == []
    assert other == {"loss": (0.3, 0.31)} and timing == {"fit_seconds": (1.0, 2.5)}
    _, mismatched, _, _ = compare_metrics(old, new, ["acc", "loss"], Tolerance(rtol=0.01))
    assert mismatched == ["loss"]
    _, mismatched, _, _ = compare_metrics(old, new, ["loss"], Tolerance(rtol=0, atol=0.02))
    assert mismatched == []


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("one two three four", 12) == "one two…"
    assert shorten("one two", 12) == "one two"
    assert shorten("x" * 20, 8) == "xxxxxxx…"


@pytest.mark.parametrize(("model", "variable"), [
    ("anthropic/claude-sonnet-4-5", "ANTHROPIC_AUTH_TOKEN"),
    ("openrouter/some/model", "OR_API_KEY"),
])
def test_an_accepted_alternative_key_variable_counts(model: str, variable: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from openintern.config import Settings
    from openintern.llm.credentials import missing_credentials

    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENROUTER_API_KEY",
                 "OPENROUTER_KEY", "OR_API_KEY", "OPENINTERN_API_KEY", "OPENINTERN_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(model=model)
    missing = missing_credentials(settings)
    assert missing is not None and missing.certain and missing.variables[0].endswith("_KEY")
    monkeypatch.setenv(variable, "secret-value")
    assert missing_credentials(settings) is None
