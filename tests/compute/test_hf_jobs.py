"""The HF Jobs backend over real HTTP against a local stand-in of the Jobs API."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hf_fixture import HfJobsFixture, HfJobsServer

from openintern.compute.base import JobBackendError, JobSpec
from openintern.compute.hf_jobs import CODE_ENV_VAR, HfJobsBackend
from openintern.compute.hf_pricing import DOCS_HOURLY_USD
from openintern.config import Settings

TOKEN = "hf_fixtureTokenAbcdefghijklmnop0123"
WANDB = "wandb-secret-value-0123456789"


@pytest.fixture
def server() -> Iterator[HfJobsServer]:
    srv = HfJobsServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def backend(server: HfJobsServer) -> HfJobsBackend:
    return HfJobsBackend(endpoint=server.url, token=TOKEN,
                         allowed_secrets=["WANDB_API_KEY", "GITHUB_TOKEN"],
                         secret_values={"WANDB_API_KEY": WANDB}, cancel_wait_s=5)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "exp"
    (work / "__pycache__").mkdir(parents=True)
    (work / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (work / "train.py").write_text("print('{\"step\": 1, \"loss\": 0.5}')\n")
    return work


def _spec(workdir: Path, **kw: object) -> JobSpec:
    base: dict[str, object] = {
        "command": "python train.py", "workdir": workdir, "name": "digits sweep",
        "flavor": "a10g-small", "timeout_s": 1800, "image": "python:3.12",
        "env": {"SEED": "1", "OPENAI_API_KEY": "sk-should-never-leave-0123456789"},
        "secrets": ["WANDB_API_KEY"], "pip": ["scikit-learn"],
    }
    base.update(kw)
    return JobSpec(**base)  # type: ignore[arg-type]


async def test_submit_sends_flavor_timeout_command_and_secrets_as_secrets(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path, tmp_path: Path
) -> None:
    job_id = await backend.submit(_spec(workdir))
    assert job_id.startswith("alice/")

    posts = [r for r in server.fixture.requests if r.method == "POST"]
    assert [r.path for r in posts] == ["/api/jobs/alice"]
    sent = posts[0].body
    assert sent["flavor"] == "a10g-small"
    assert sent["timeoutSeconds"] == 1800
    assert sent["dockerImage"] == "python:3.12"
    assert sent["secrets"] == {"WANDB_API_KEY": WANDB}
    assert WANDB not in json.dumps(sent["environment"]) + json.dumps(sent["command"])
    assert "OPENAI_API_KEY" not in sent["environment"]
    assert sent["environment"]["SEED"] == "1"
    assert sent["labels"] == {"openintern": "1", "name": "digits-sweep"}
    assert sent["command"][:2] == ["bash", "-c"]

    # The shipped code unpacks to the working directory (caches left out).
    code = base64.b64decode(sent["environment"][CODE_ENV_VAR])
    with tarfile.open(fileobj=io.BytesIO(code)) as archive:
        names = {n.lstrip("./") for n in archive.getnames()} - {""}
    assert names == {"train.py"}

    # The command really runs: unpack, pip (stubbed), then the user's command.
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "python").write_text(
        '#!/bin/bash\nif [ "$1" = -m ]; then echo "pip $*"; exit 0; fi\n'
        'exec python3 "$@"\n'
    )
    (fakebin / "python").chmod(0o755)
    run = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", sent["command"][2]], capture_output=True, text=True, timeout=20,
        env={"PATH": f"{fakebin}:/usr/bin:/bin", "TMPDIR": str(tmp_path / "remote"),
             **sent["environment"]},
    )
    assert run.returncode == 0, run.stderr
    assert "pip -m pip install --quiet scikit-learn" in run.stdout
    assert '{"step": 1, "loss": 0.5}' in run.stdout

    # Every request went to the configured endpoint, each with the token.
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}"
               for r in server.fixture.requests)


async def test_status_follows_the_stages(backend: HfJobsBackend, workdir: Path) -> None:
    job_id = await backend.submit(_spec(workdir))
    states = [(await backend.status(job_id)).state for _ in range(4)]
    assert states == ["queued", "running", "succeeded", "succeeded"]
    final = await backend.status(job_id)
    assert final.done and final.started_at and final.ended_at
    assert final.ended_at - final.started_at == 180


async def test_error_stage_maps_to_failed_or_timeout(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    server.fixture.next_stages = [("ERROR", "Job exited with code 1")]
    failed = await backend.status(await backend.submit(_spec(workdir)))
    assert failed.state == "failed" and "exited with code 1" in failed.detail
    server.fixture.next_stages = [("ERROR", "Job timeout exceeded")]
    assert (await backend.status(await backend.submit(_spec(workdir)))).state == "timeout"


async def test_logs_come_from_the_sse_stream_without_the_banner(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    server.fixture.next_logs = ['{"step": 1, "loss": 0.9}', '{"step": 2, "loss": 0.4}', "done"]
    job_id = await backend.submit(_spec(workdir))
    assert (await backend.logs(job_id, tail=None)).splitlines() == [
        '{"step": 1, "loss": 0.9}', '{"step": 2, "loss": 0.4}', "done"]
    assert (await backend.logs(job_id, tail=2)).splitlines() == ['{"step": 2, "loss": 0.4}', "done"]
    tails = [r.query.get("tail") for r in server.fixture.requests if r.path.endswith("/logs")]
    assert tails == [None, ["2"]]


async def test_cancel_reports_cancelled(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    server.fixture.next_stages = [("RUNNING", None)]
    job_id = await backend.submit(_spec(workdir))
    final = await backend.cancel(job_id)
    assert final.state == "cancelled"
    assert any(r.path.endswith("/cancel") and r.method == "POST"
               for r in server.fixture.requests)
    listed = await backend.list_jobs()
    assert [(s.job_id, s.state) for s in listed] == [(job_id, "cancelled")]


async def test_401_names_hf_token_and_launches_nothing(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    server.fixture.failures["/api/"] = (
        401, {"error": "Invalid credentials in Authorization header"})
    with pytest.raises(JobBackendError, match="HF_TOKEN") as caught:
        await backend.submit(_spec(workdir))
    assert TOKEN not in str(caught.value) and WANDB not in str(caught.value)
    assert server.fixture.jobs == {}


async def test_402_is_a_clear_error_with_no_fallback(
    server: HfJobsServer, workdir: Path
) -> None:
    backend = HfJobsBackend(endpoint=server.url, token=TOKEN, namespace="alice",
                            allowed_secrets=["WANDB_API_KEY", "GITHUB_TOKEN"],
                            secret_values={"WANDB_API_KEY": WANDB})
    server.fixture.failures["/api/jobs/alice"] = (
        402, {"error": "You need to add a payment method to run jobs"})
    with pytest.raises(JobBackendError, match="payment required") as caught:
        await backend.submit(_spec(workdir))
    message = str(caught.value)
    assert "no other backend" in message and "add a payment method" in message
    assert WANDB not in message
    assert [r.method for r in server.fixture.requests] == ["POST"]  # nothing else tried


async def test_missing_secret_is_refused_before_any_request(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    with pytest.raises(JobBackendError, match="GITHUB_TOKEN"):
        await backend.submit(_spec(workdir, secrets=["GITHUB_TOKEN"]))
    assert server.fixture.requests == []


async def test_gpu_without_flavor_is_refused(backend: HfJobsBackend, workdir: Path) -> None:
    with pytest.raises(JobBackendError, match="flavor"):
        await backend.estimate_cost_usd(_spec(workdir, flavor=None, gpus=1))


async def test_cost_estimate_uses_live_prices_then_the_docs_table(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    # cpu-basic is in the recorded /api/jobs/hardware body: $0.000167/min for 1 h.
    cpu = await backend.estimate_cost_usd(_spec(workdir, flavor="cpu-basic", timeout_s=3600))
    assert cpu == round(0.000167 * 60, 4)
    # a10g-small is not in the recorded excerpt: the documented hourly price applies.
    a10g = await backend.estimate_cost_usd(_spec(workdir, flavor="a10g-small", timeout_s=1800))
    assert a10g == DOCS_HOURLY_USD["a10g-small"] / 2
    assert await backend.estimate_cost_usd(_spec(workdir, flavor="quantum-x1")) is None
    hardware_calls = [r for r in server.fixture.requests if r.path == "/api/jobs/hardware"]
    assert len(hardware_calls) == 1  # cached


async def test_live_price_wins_over_the_table(workdir: Path) -> None:
    fixture = HfJobsFixture()
    fixture.hardware = [{**fixture.hardware[0], "name": "a10g-small", "unitCostUSD": 0.05,
                         "unitCostMicroUSD": 50000}]
    srv = HfJobsServer(fixture).start()
    try:
        backend = HfJobsBackend(endpoint=srv.url, token=TOKEN)
        cost = await backend.estimate_cost_usd(_spec(workdir, secrets=[], timeout_s=600))
        assert cost == 0.5  # 10 min at $0.05/min, not the table's $1/h
    finally:
        srv.stop()


async def test_token_is_not_forwarded_on_a_redirect_to_another_host(
    backend: HfJobsBackend, server: HfJobsServer, workdir: Path
) -> None:
    other = HfJobsServer(HfJobsFixture(user="alice")).start()
    try:
        job_id = await backend.submit(_spec(workdir))
        bare = job_id.split("/")[1]
        other.fixture.jobs[bare] = server.fixture.jobs[bare]
        port = other.url.rsplit(":", 1)[1]
        server.fixture.redirects[f"/api/jobs/alice/{bare}"] = (
            f"http://localhost:{port}/api/jobs/alice/{bare}")
        status = await backend.status(job_id)
        assert status.state == "queued"
        assert other.fixture.requests and all(
            "authorization" not in r.headers for r in other.fixture.requests)
    finally:
        other.stop()


async def test_dead_endpoint_and_missing_token_are_clear_errors(workdir: Path) -> None:
    with pytest.raises(JobBackendError, match="HF_TOKEN"):
        HfJobsBackend.from_settings(Settings(hf_token=None, hf_endpoint="http://127.0.0.1:9"))
    backend = HfJobsBackend(endpoint="http://127.0.0.1:9", token=TOKEN, namespace="alice")
    with pytest.raises(JobBackendError, match="cannot reach Hugging Face"):
        await backend.status("alice/abc")
    with pytest.raises(JobBackendError, match="namespace/id"):
        await backend.status("abc")
