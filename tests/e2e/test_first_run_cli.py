"""A new user's first commands: typos, no API key, unknown ids, the sessions listing.

Each test drives the real `intern` command; the scripted model server stands in for the
provider and records whether any model request was made.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer


def _db_exists() -> bool:
    return (Path(os.environ["OPENINTERN_DATA_DIR"]) / "openintern.db").exists()


def _keyless_env(**extra: str) -> dict[str, str]:
    """This process's environment without any provider key or OpenIntern model settings."""
    env = {k: v for k, v in os.environ.items()
           if not re.search(r"(_API_KEY|_TOKEN|_API_BASE)$", k)
           and not k.startswith(("OPENINTERN_MODEL", "OPENINTERN_API"))}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    env.update(extra)
    return env


def test_sessions_cuts_a_long_task_at_a_word_with_an_ellipsis(workspace: Path) -> None:
    task = ("Find a better classifier than logistic regression for scikit-learn's digits "
            "dataset, and show whether the improvement is real")
    Path(os.environ["OPENINTERN_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    s = store()
    s.create_session(task=task, model="openai/scripted", workspace=str(workspace),
                     headless=True)
    listing = run_intern("sessions", env=intern_env("http://127.0.0.1:9"), cwd=workspace)
    assert listing.code == 0, listing.output
    [line] = [row for row in listing.output.splitlines() if "Find a better" in row]
    shown = line.split("Find a better", 1)[1].split("│")[0].strip()
    assert shown.endswith("…"), line
    words = shown.removesuffix("…").split()
    # Every word shown is a whole word of the task, in order (no word cut in the middle).
    assert words == task.split()[3:3 + len(words)], shown
    assert len("Find a better " + shown) <= 70


def test_a_mistyped_command_asks_instead_of_starting_a_session(workspace: Path) -> None:
    with ScriptedServer(Script.from_steps([{"text": "Done."}] * 2)) as server:
        env = intern_env(server.base_url)
        typo = run_intern("sesions", env=env, cwd=workspace)
        assert typo.code == 2, typo.output
        assert "did you mean `intern sessions`?" in typo.output
        assert "intern run sesions" in typo.output  # how to mean it as a task
        for word in ("rnus", "deom", "reproduse"):
            assert run_intern(word, env=env, cwd=workspace).code == 2
        assert server.requests == [] and not _db_exists()
        # A task of several words (or a far-off word) is a task, as before.
        task = run_intern("sesions of training", env=env, cwd=workspace)
        assert task.code == 0, task.output
        assert len(server.requests) == 1
    [session] = store().list_sessions()
    assert session.task == "sesions of training"


def test_no_api_key_says_which_variable_at_once_and_starts_nothing(workspace: Path) -> None:
    env = _keyless_env()
    result = run_intern("hello", env=env, cwd=workspace, timeout=120)
    assert result.code == 2, result.output
    out = " ".join(result.output.split())
    assert "ANTHROPIC_API_KEY is not set" in out and "nothing was started" in out
    assert "export ANTHROPIC_API_KEY=..." in out
    assert 'api_key = "..."' in out  # the config-file way
    assert "--model ollama/" in out and "--api-base http://127.0.0.1:11434" in out
    assert "rejected" not in out
    assert not _db_exists() or not store().list_sessions()
    other = run_intern("--model", "openrouter/some/model", "hello", env=env, cwd=workspace,
                       timeout=120)
    assert other.code == 2 and "OPENROUTER_API_KEY" in other.output


def test_a_local_server_needs_no_key(workspace: Path) -> None:
    with ScriptedServer(Script.from_steps([{"text": "Hello from the local model."}])) as srv:
        env = _keyless_env()
        result = run_intern("--model", "openai/local-model", "--api-base", srv.base_url,
                            "hello", env=env, cwd=workspace, timeout=120)
        assert result.code == 0, result.output
        assert "Hello from the local model." in result.output
        assert len(srv.requests) == 1


def test_runs_show_of_an_unknown_id_points_at_intern_runs(workspace: Path) -> None:
    result = run_intern("runs", "show", "nosuchid", env=intern_env("http://127.0.0.1:9"),
                        cwd=workspace)
    assert result.code == 2, result.output
    out = " ".join(result.output.split())
    assert "no experiment 'nosuchid'" in out and "`intern runs`" in out
    assert "experiment status" not in out


def test_runs_of_one_session_fit_an_80_column_terminal(workspace: Path) -> None:
    from openintern.research.ledger import Ledger

    Path(os.environ["OPENINTERN_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    s = store()
    info = s.create_session(task="sweep", model="openai/scripted", workspace=str(workspace),
                            headless=True)
    ledger = Ledger(s)
    exp = ledger.declare(session_id=info.id, name="digits-classifier", command="python t.py",
                         hypothesis="an SVM beats logistic regression")
    env = dict(intern_env("http://127.0.0.1:9"), COLUMNS="80")
    listing = run_intern("runs", "--session", info.id, env=env, cwd=workspace)
    assert listing.code == 0, listing.output
    assert exp.id in listing.output  # the id is never wrapped
    header = next(line for line in listing.output.splitlines() if " id " in line)
    assert "session" not in header  # one session: no session column
    assert max(len(line) for line in listing.output.splitlines()) <= 80
