"""End-to-end containment through the `intern` command: the scripted model plays agent
code that wants out; the real sandbox, launcher and store stop it, and the agent goes on."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import intern_env, run_intern

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.sandbox.limits import mechanism


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


def _tool_results(requests: list[dict[str, object]]) -> list[str]:
    messages = requests[-1]["messages"]
    assert isinstance(messages, list)
    return [str(m["content"]) for m in messages if m["role"] == "tool"]


@pytest.mark.skipif(mechanism() == "rlimit" and os.geteuid() == 0,
                    reason="no manageable cgroup here, and RLIMIT_NPROC does not bind root")
def test_a_fork_bomb_and_a_memory_bomb_hit_their_limits_and_the_agent_goes_on(
    workspace: Path,
) -> None:
    script = Script.from_steps([
        {"tool_calls": [_call("shell", command=":(){ :|:& };:; sleep 2", timeout_s=5)]},
        {"tool_calls": [_call("shell", command="python -c \"x = b'a' * (1 << 30)\"")]},
        {"tool_calls": [_call("shell", command="echo the-agent-goes-on")]},
        {"text": "Both bombs were contained."},
    ])
    started = time.monotonic()
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_SANDBOX_MAX_PROCESSES="48",
                         OPENINTERN_SANDBOX_MAX_MEMORY_MIB="128",
                         OPENINTERN_SANDBOX_NETWORK="off")
        result = run_intern("stress the sandbox", env=env, cwd=workspace)
        fork, memory, after = _tool_results(server.requests)
    assert result.code == 0, result.output
    assert "process limit 48 reached" in fork
    assert "memory limit 128 MiB reached" in memory
    assert "the-agent-goes-on" in after
    assert time.monotonic() - started < 120


def test_dotenv_is_hidden_and_the_screen_shows_no_secret(workspace: Path) -> None:
    dotenv_key = "sk-ant-dotenv-" + "k" * 30
    host_key = "sk-test-" + "h" * 40
    (workspace / ".env").write_text(f"ANTHROPIC_API_KEY={dotenv_key}\n")
    script = Script.from_steps([
        {"tool_calls": [_call("shell", command="cat .env; grep -r sk- . ; echo listed")]},
        {"tool_calls": [_call("read_file", path=".env")]},
        {"text": f"The host key is {host_key}."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENAI_API_KEY=host_key,
                         OPENINTERN_SANDBOX_NETWORK="off")
        result = run_intern("find the keys", env=env, cwd=workspace)
        shell, read = _tool_results(server.requests)
    assert result.code == 0, result.output
    assert dotenv_key not in shell and "listed" in shell
    assert read.startswith("ERROR") and ".env files hold credentials" in read
    # The terminal shows the model's text with the secret replaced.
    assert host_key not in result.output
    assert "The host key is [REDACTED]" in result.output


def test_a_job_spec_forged_by_agent_code_never_runs_on_the_host(
    workspace: Path, tmp_path: Path
) -> None:
    pwned = tmp_path / "pwned-by-forged-job"
    spec = {"job_id": "evil", "argv": ["/bin/sh", "-c", f"touch {pwned}"],
            "env": {"PATH": "/usr/bin:/bin"}, "cwd": "/", "timeout_s": None, "gpus": 0}
    forge = (f"mkdir -p .openintern/runs/evil .openintern/runs/.queue && printf '%s' "
             f"'{json.dumps(spec)}' > .openintern/runs/evil/spec.json && "
             "touch .openintern/runs/.queue/00000000000000000001-evil; echo tried")
    script = Script.from_steps([
        {"tool_calls": [_call("shell", command=forge)]},
        {"tool_calls": [_call("jobs", operation="submit", command="echo legit")]},
        {"tool_calls": [_call("jobs", operation="list")]},
        {"text": "Done."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_SANDBOX_NETWORK="off")
        result = run_intern("queue a job", env=env, cwd=workspace)
        _, submitted, listed = _tool_results(server.requests)
    assert result.code == 0, result.output
    assert "Submitted job" in submitted
    time.sleep(1.0)  # the forged job would have been started by the pump by now
    assert not pwned.exists()
    assert "evil" not in listed


def test_jobs_get_only_allowlisted_secrets_and_never_without_a_person(
    workspace: Path,
) -> None:
    script = Script.from_steps([
        {"tool_calls": [_call("jobs", operation="submit", command="env",
                              secrets=["ANTHROPIC_API_KEY"])]},
        {"tool_calls": [_call("jobs", operation="submit", command="env",
                              secrets=["WANDB_API_KEY"])]},
        {"text": "I will run without secrets."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, ANTHROPIC_API_KEY="sk-ant-" + "a" * 30,
                         WANDB_API_KEY="wandb-" + "w" * 30,
                         OPENINTERN_JOB_SECRETS='["WANDB_API_KEY"]',
                         OPENINTERN_SANDBOX_NETWORK="off")
        result = run_intern("log to wandb", "--yes", "--compute-budget", "50", env=env,
                            cwd=workspace)
        chosen, allowlisted = _tool_results(server.requests)
    assert result.code == 0, result.output
    assert chosen.startswith("ERROR") and "job_secrets" in chosen
    assert allowlisted.startswith("ERROR") and "only a person may approve" in allowlisted
    assert "Submitted job" not in chosen + allowlisted


@pytest.fixture
def loopback_service() -> Iterator[int]:
    """An unauthenticated service on the host's 127.0.0.1 (like a Ray dashboard)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"dashboard")
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize(("flags", "reached"), [((), False),
                                               (("--network-level", "full"), True)])
def test_the_default_network_does_not_reach_the_hosts_loopback(
    workspace: Path, loopback_service: int, flags: tuple[str, ...], reached: bool
) -> None:
    probe = ("python -c \"import socket; s = socket.create_connection(('127.0.0.1', "
             f"{loopback_service}), 3); print('GOT', s.recv(9))\"")
    script = Script.from_steps([{"tool_calls": [_call("shell", command=probe)]},
                                {"text": "Checked."}])
    with ScriptedServer(script) as server:
        result = run_intern("probe", *flags, env=intern_env(server.base_url), cwd=workspace)
        (output,) = _tool_results(server.requests)
    assert result.code == 0, result.output
    assert ("GOT b'dashboard'" in output) is reached, output
