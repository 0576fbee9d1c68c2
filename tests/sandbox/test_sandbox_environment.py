"""The allowlisted environment: host secrets never pass, caller secrets are reported."""

from __future__ import annotations

from pathlib import Path

from openintern.sandbox.environment import is_secret_name, sandbox_environment

HOST = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "xterm",
    "TZ": "UTC",
    "OPENAI_API_KEY": "sk-openai",
    "HF_TOKEN": "hf_abc",
    "AWS_REGION": "eu-west-1",
    "MY_SECRET_TOKEN": "tok",
    "DB_PASSWORD": "pw",
    "PYTHONPATH": "/host/lib",
    "LD_PRELOAD": "/host/evil.so",
    "SOME_RANDOM_VAR": "x",
    "HTTPS_PROXY": "http://user:pw@proxy:3128",
    "NO_PROXY": "localhost",
    "PIP_INDEX_URL": "https://mirror.example/simple",
}


def test_only_allowlisted_host_variables_pass() -> None:
    env, dropped = sandbox_environment(None, home="/tmp/home", venv=None, host_env=HOST)
    assert env["LANG"] == "C.UTF-8"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["TERM"] == "xterm"
    assert env["TZ"] == "UTC"
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["NO_PROXY"] == "localhost"
    assert env["PIP_INDEX_URL"] == "https://mirror.example/simple"
    for name in (
        "OPENAI_API_KEY",
        "HF_TOKEN",
        "AWS_REGION",
        "MY_SECRET_TOKEN",
        "DB_PASSWORD",
        "PYTHONPATH",
        "LD_PRELOAD",
        "SOME_RANDOM_VAR",
    ):
        assert name not in env
    # A proxy URL carrying credentials is refused even though proxies are allowlisted.
    assert "HTTPS_PROXY" not in env
    assert dropped == []  # host variables are filtered silently


def test_sandbox_variables_are_set_and_cannot_be_overridden(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env, _ = sandbox_environment(
        {"HOME": "/root", "PYTHONUNBUFFERED": "0", "OPENINTERN_SANDBOX": "0"},
        home="/tmp/home",
        venv=venv,
        host_env=HOST,
    )
    assert env["HOME"] == "/tmp/home"
    assert env["OPENINTERN_SANDBOX"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["VIRTUAL_ENV"] == str(venv)
    assert env["PATH"].split(":")[0] == str(venv / "bin")
    assert env["PATH"].endswith("/usr/bin:/bin")


def test_explicit_secret_names_are_dropped_and_reported() -> None:
    env, dropped = sandbox_environment(
        {
            "HF_TOKEN": "hf_x",
            "GITHUB_PAT": "ghp",
            "ANTHROPIC_BASE": "u",
            "SEED": "3",
            "CUDA_VISIBLE_DEVICES": "0",
        },
        home="/h",
        venv=None,
        host_env={},
    )
    assert dropped == ["ANTHROPIC_BASE", "GITHUB_PAT", "HF_TOKEN"]
    assert env["SEED"] == "3"
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert "HF_TOKEN" not in env


def test_known_secret_values_are_dropped_under_any_name() -> None:
    env, dropped = sandbox_environment(
        {"INNOCENT": "prefix-s3cr3t-value", "FINE": "ok"},
        home="/h",
        venv=None,
        host_env={"LANG": "s3cr3t"},
        secret_values=["s3cr3t", ""],
    )
    assert dropped == ["INNOCENT"]
    assert "LANG" not in env
    assert env["FINE"] == "ok"


def test_malformed_names_and_values_are_dropped() -> None:
    env, dropped = sandbox_environment(
        {"A=B": "1", "NUL": "a\0b", "": "x"}, home="/h", venv=None, host_env={}
    )
    assert sorted(dropped) == ["", "A=B", "NUL"]
    assert "NUL" not in env


def test_secret_name_detection() -> None:
    for name in (
        "OPENAI_API_KEY",
        "hf_token",
        "AWS_DEFAULT_REGION",
        "GH_TOKEN",
        "SESSION_ID",
        "MY_COOKIE_JAR",
        "SSH_AUTH_SOCK",
        "PRIVATE_THING",
        "OPENINTERN_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "WANDB_API_KEY",
    ):
        assert is_secret_name(name), name
    for name in ("PATH", "LANG", "SEED", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "TERM"):
        assert not is_secret_name(name), name
