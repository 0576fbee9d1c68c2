"""The Ray Jobs backend against a real Ray head on 127.0.0.1 (token auth on).

One head serves the whole module (it takes 5-10 s to start). Skipped when ``ray`` is not
installed (it is the optional ``ray`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openintern.compute.base import JobBackendError, JobSpec, JobStatus
from openintern.compute.ray_backend import RayJobsBackend

# The CLI on PATH, else the one installed beside this interpreter.
_SIBLING = Path(sys.executable).with_name("ray")
RAY = shutil.which("ray") or (str(_SIBLING) if _SIBLING.exists() else None)
pytestmark = pytest.mark.skipif(
    RAY is None, reason="ray is not installed (pip install 'openintern[ray]' to run these)"
)

TRAIN_SCRIPT = """\
import json, os
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
for step, c in enumerate([0.01, 0.1, 1.0], start=1):
    model = LogisticRegression(C=c, max_iter=300).fit(X_tr / 16, y_tr)
    print(json.dumps({"step": step, "C": c, "accuracy": model.score(X_te / 16, y_te)}))
print("RUN_DIR=" + os.environ["OPENINTERN_RUN_DIR"])
print("METRICS=" + os.environ["OPENINTERN_METRICS"])
print("CWD=" + os.getcwd())
print("PLAIN=" + os.environ.get("PLAIN_SETTING", "<missing>"))
print("LEAKED=" + ",".join(k for k in ("MY_API_TOKEN", "OPENAI_API_KEY") if k in os.environ))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayHead:
    """A Ray head started with ``ray start --head --block`` (stopped with its process group)."""

    def __init__(self, tmp: Path) -> None:
        self.token = secrets.token_hex(32)
        self.dashboard_port = _free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        env = {
            **os.environ,
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            "RAY_USAGE_STATS_ENABLED": "0",
            # A secret in the node's environment: jobs must not inherit it.
            "OPENAI_API_KEY": "sk-test-node-secret-0123456789abcdef",
        }
        ports = {
            "--port": _free_port(),
            "--dashboard-port": self.dashboard_port,
            "--dashboard-agent-listen-port": _free_port(),
            "--dashboard-agent-grpc-port": _free_port(),
            "--metrics-export-port": _free_port(),
            "--runtime-env-agent-port": _free_port(),
            "--ray-client-server-port": _free_port(),
        }
        args = [str(RAY), "start", "--head", "--block", "--num-cpus=2",
                "--dashboard-host=127.0.0.1", "--node-ip-address=127.0.0.1",
                "--include-dashboard=true", "--disable-usage-stats",
                *(f"{flag}={port}" for flag, port in ports.items())]
        self.log = (tmp / "ray-head.log").open("wb")
        # Its own session: teardown signals exactly the processes this head started.
        self.process = subprocess.Popen(
            args, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ray start exited with {self.process.returncode}")
            try:
                if httpx.get(self.address + "/api/version", headers=headers,
                             timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the Ray head did not answer /api/version in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            # `ray start --block` stops the head's processes when it gets SIGTERM.
            self.process.terminate()
            try:
                self.process.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        # Whatever of this head's own session is still alive is ended for good.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    head = RayHead(tmp_path_factory.mktemp("ray"))
    try:
        head.wait_ready()
    except Exception as exc:
        head.stop()
        pytest.fail(f"could not start a local Ray head: {exc}")
    yield head
    head.stop()


@pytest.fixture
def backend(ray_head: RayHead) -> RayJobsBackend:
    return RayJobsBackend(ray_head.address, auth_token=ray_head.token)


async def _wait_done(backend: RayJobsBackend, job_id: str, timeout_s: float = 60) -> JobStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await backend.status(job_id)
        if status.done or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.3)


async def test_training_job_runs_in_its_working_dir_and_logs_metrics(
    backend: RayJobsBackend, tmp_path: Path
) -> None:
    work = tmp_path / "exp"
    work.mkdir()
    (work / "train.py").write_text(TRAIN_SCRIPT)
    spec = JobSpec(
        command="python train.py", workdir=work, name="digits logreg",
        env={"PLAIN_SETTING": "kept", "MY_API_TOKEN": "should-never-arrive"},
        run_dir=work / "runs" / "r1",
    )
    job_id = await backend.submit(spec)
    assert job_id.startswith("openintern-digits-logreg-")

    status = await _wait_done(backend, job_id)
    assert status.state == "succeeded", status
    assert status.exit_code == 0
    assert status.started_at is not None and status.ended_at is not None
    assert status.ended_at >= status.started_at

    logs = await backend.logs(job_id, tail=None)
    metrics = [json.loads(line) for line in logs.splitlines() if line.startswith('{"step"')]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert max(m["accuracy"] for m in metrics) > 0.9
    fields = dict(line.split("=", 1) for line in logs.splitlines()
                  if line.split("=", 1)[0] in {"RUN_DIR", "METRICS", "CWD", "PLAIN", "LEAKED"})
    assert fields["RUN_DIR"] == fields["CWD"] + "/runs/r1"
    assert fields["METRICS"] == fields["RUN_DIR"] + "/metrics.jsonl"
    assert fields["CWD"] != str(work)  # Ray unpacked the uploaded package elsewhere
    assert fields["PLAIN"] == "kept"
    assert fields["LEAKED"] == ""  # neither the spec's secret nor the node's

    assert len((await backend.logs(job_id, tail=2)).splitlines()) == 2
    listed = {s.job_id: s.state for s in await backend.list_jobs()}
    assert listed[job_id] == "succeeded"


async def test_failing_job_reports_failure_and_log_tail(
    backend: RayJobsBackend, tmp_path: Path
) -> None:
    (tmp_path / "boom.py").write_text(
        "print('loading data')\nraise SystemExit('bad shape: 3 != 4')\n"
    )
    job_id = await backend.submit(JobSpec(command="python boom.py", workdir=tmp_path))
    status = await _wait_done(backend, job_id)
    assert status.state == "failed"
    assert status.exit_code == 1
    tail = await backend.logs(job_id, tail=5)
    assert "bad shape: 3 != 4" in tail


async def test_cancel_stops_a_running_job(backend: RayJobsBackend, tmp_path: Path) -> None:
    job_id = await backend.submit(
        JobSpec(command="echo started; sleep 120", workdir=tmp_path, name="sleeper")
    )
    deadline = time.monotonic() + 30
    while True:
        if (await backend.status(job_id)).state == "running" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    started = time.monotonic()
    final = await backend.cancel(job_id)
    assert final.state == "cancelled"
    assert time.monotonic() - started < 15
    # Cancelling again is harmless and reports the same final state.
    assert (await backend.cancel(job_id)).state == "cancelled"


async def test_time_limit_ends_the_job_as_timeout(
    backend: RayJobsBackend, tmp_path: Path
) -> None:
    job_id = await backend.submit(JobSpec(command="sleep 60", workdir=tmp_path, timeout_s=1))
    status = await _wait_done(backend, job_id, timeout_s=30)
    assert status.state == "timeout"
    assert status.exit_code == 124


async def test_unknown_job_is_reported_not_raised(backend: RayJobsBackend) -> None:
    status = await backend.status("openintern-never-submitted")
    assert status.state == "unknown"
    assert "no job" in status.detail
    with pytest.raises(JobBackendError, match="no job"):
        await backend.logs("openintern-never-submitted")


async def test_missing_token_gives_a_clear_error(ray_head: RayHead, tmp_path: Path) -> None:
    anonymous = RayJobsBackend(ray_head.address, auth_token=None)
    with pytest.raises(JobBackendError, match="RAY_AUTH_TOKEN"):
        await anonymous.submit(JobSpec(command="true", workdir=tmp_path))
    wrong = RayJobsBackend(ray_head.address, auth_token="0" * 64)
    with pytest.raises(JobBackendError, match="rejected the auth token"):
        await wrong.status("anything")


def test_private_paths_never_reach_a_ray_job(ray_head: RayHead, tmp_path: Path) -> None:
    """Through the `intern` command: a job submitted with `--private data/` runs on the
    real head without the private folder; the agent is told, and the egress log lists
    what was packed and what was left out."""
    import re

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    from e2e_helpers import intern_env, run_intern

    from openintern.llm.script import Step
    from openintern.llm.scripted import ScriptedServer

    workspace = tmp_path / "ws"
    (workspace / "data").mkdir(parents=True)
    (workspace / "data" / "secret.csv").write_text("id,value\nrow1,TOP-SECRET-VALUE\n")
    (workspace / "train.py").write_text("print('training')\n")

    def respond(body: dict[str, Any], index: int) -> Step | None:
        last = body["messages"][-1].get("content") or ""
        job = re.search(r"Submitted job (\S+) on ray", last)
        steps = [
            {"tool_calls": [{"name": "jobs", "arguments": {
                "operation": "submit", "name": "peek", "backend": "ray",
                "command": "ls -R .; cat data/secret.csv || echo PRIVATE-MISSING"}}]},
            {"tool_calls": [{"name": "jobs", "arguments": {
                "operation": "wait", "backend": "ray", "wait_timeout_s": 120,
                "job_ids": [job.group(1) if job else "?"]}}]},
            {"tool_calls": [{"name": "jobs", "arguments": {
                "operation": "logs", "backend": "ray", "tail": 50,
                "job_ids": re.findall(r"ray:(\S+) succeeded", last)}}]},
            {"text": "The job ran without the private data."},
        ]
        return Step.model_validate(steps[index]) if index < len(steps) else None

    with ScriptedServer(respond) as model:
        env = intern_env(model.base_url, OPENINTERN_RAY_ADDRESS=ray_head.address,
                         RAY_AUTH_TOKEN=ray_head.token)
        result = run_intern("run it on the cluster", "--private", "data/", "--sandbox", "none",
                            env=env, cwd=workspace, timeout=240)
        requests = list(model.requests)
        egress = run_intern("egress", "last", "--json", env=env, cwd=workspace)
    assert result.code == 0, result.output
    tool_results = [m["content"] for m in requests[-1]["messages"] if m["role"] == "tool"]
    submitted, _waited, logs = tool_results
    assert "1 private file(s) were NOT shipped" in submitted and "data/secret.csv" in submitted
    assert "PRIVATE-MISSING" in logs and "train.py" in logs
    # The job's working dir had no data/ folder at all (ls -R lists none), so cat failed.
    assert "TOP-SECRET-VALUE" not in logs and "./data:" not in logs
    assert "No such file" in logs
    log = json.loads(egress.output)
    [package] = [r for r in log["requests"] if r["kind"] == "job_package"]
    assert package["destination"] == ray_head.address.removeprefix("http://")
    assert "train.py" in package["detail"]["files"]
    assert package["detail"]["private_left_out"] == ["data/secret.csv"]
    assert not any("secret" in f for f in package["detail"]["files"])
