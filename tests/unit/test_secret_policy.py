"""One secret policy for the sandbox, redaction, job environments, the Ray prologue and
``intern config``: they agree on every name, and ordinary values stay readable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from openintern.compute.job_env import scrub_env, scrub_prologue
from openintern.config import Settings
from openintern.events import ToolCallFinished
from openintern.sandbox.environment import sandbox_environment
from openintern.secrets import Redactor, display_setting, is_credential_name, is_secret_name
from openintern.store import Store

HOST = {
    "PATH": "/usr/bin:/bin",
    "DATABASE_URL": "postgresql://app:db-pass-123456@db.internal:5432/research",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
    "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    "OPENINTERN_MODEL": "anthropic/claude-sonnet-5-5",
    "HF_HOME": "/root/.cache/huggingface",
    "MY_SERVICE_TOKEN": "tok-0123456789abcdef",
    "GIT_AUTHOR_EMAIL": "someone@example.org",
}


def test_names_that_stay_out_of_agent_code() -> None:
    for name in ("DATABASE_URL", "SLACK_WEBHOOK_URL", "AWS_CA_BUNDLE", "OPENINTERN_MODEL",
                 "HF_HOME", "MY_SERVICE_TOKEN", "PGPASSWORD", "REDIS_URL", "OAUTH_CLIENT"):
        assert is_secret_name(name), name
    for name in ("PATH", "GIT_AUTHOR_EMAIL", "PATHOLOGY", "KEYBOARD", "SEED", "PWD"):
        assert not is_secret_name(name), name


def test_sandbox_jobs_and_ray_drop_the_same_names(tmp_path: Path) -> None:
    env, dropped = sandbox_environment(dict(HOST), home="/h", venv=None, host_env={})
    kept, scrubbed = scrub_env(dict(HOST))
    script = scrub_prologue() + "\ncompgen -e"
    survivors = subprocess.run(["bash", "-c", script], env=HOST, capture_output=True,
                               text=True, check=True).stdout.split()
    secret = sorted(n for n in HOST if is_secret_name(n))
    assert dropped == scrubbed == secret
    assert sorted(n for n in HOST if n in survivors) == sorted(kept) == ["GIT_AUTHOR_EMAIL",
                                                                        "PATH"]
    assert "DATABASE_URL" not in env and "SLACK_WEBHOOK_URL" not in env


def test_redaction_covers_credentials_and_spares_ordinary_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for name, value in HOST.items():
        monkeypatch.setenv(name, value)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = " | ".join(HOST.values())
    cleaned = store.redactor.text(text)
    assert "db-pass-123456" not in cleaned
    assert "postgresql://app:[REDACTED]@db.internal:5432/research" in cleaned
    assert "hooks.slack.com/services/T000" not in cleaned
    assert "tok-0123456789abcdef" not in cleaned
    # Not secrets: a CA bundle path, a cache folder, a model id, an e-mail address.
    for ordinary in ("/etc/ssl/certs/ca-certificates.crt", "/root/.cache/huggingface",
                     "anthropic/claude-sonnet-5-5", "someone@example.org"):
        assert ordinary in cleaned
    assert is_credential_name("SLACK_WEBHOOK_URL") and not is_credential_name("AWS_CA_BUNDLE")


def test_any_url_password_is_redacted_in_text() -> None:
    redactor = Redactor()
    assert redactor.text("connect to mysql://root:Sup3rS3cret@10.0.0.2/db now") == (
        "connect to mysql://root:[REDACTED]@10.0.0.2/db now")


def test_intern_config_hides_credentials_in_urls() -> None:
    settings = Settings(store_url="postgresql://bob:hunter2secret@db:5432/x",
                        web_search_url="https://search.example/?api_key=abcdef123&q=1",
                        api_key="sk-configured-0123456789", job_secrets=["WANDB_API_KEY"])
    shown = {name: display_setting(name, getattr(settings, name))
             for name in type(settings).model_fields}
    assert shown["store_url"] == "postgresql://bob:[REDACTED]@db:5432/x"
    assert "abcdef123" not in shown["web_search_url"] and "q=1" in shown["web_search_url"]
    assert shown["api_key"] == "**********"
    assert shown["job_secrets"] == "['WANDB_API_KEY']"  # names, not values


def test_events_are_redacted_for_the_screen() -> None:
    event = ToolCallFinished(call_id="c", name="shell", ok=True, duration_s=0.1,
                             preview="key sk-live-0123456789abcdefghij done")
    cleaned = Redactor().model(event)
    assert "sk-live" not in cleaned.preview and "[REDACTED]" in cleaned.preview
    same = ToolCallFinished(call_id="c", name="shell", ok=True, duration_s=0.1, preview="ok")
    assert Redactor().model(same) is same
