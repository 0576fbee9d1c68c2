"""Ray backend pieces that need no cluster: payload, packaging, env scrubbing, dead address."""

from __future__ import annotations

import io
import os
import shlex
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from openintern.compute.base import JobBackendError, JobSpec
from openintern.compute.job_env import scrub_prologue, wrapped_command
from openintern.compute.ray_backend import RayJobsBackend
from openintern.compute.ray_package import PackageTooLarge, pack_working_dir
from openintern.config import Settings
from openintern.secrets import looks_secret


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_submission_payload_carries_pip_gpus_and_scrubbed_env(tmp_path: Path) -> None:
    backend = RayJobsBackend("127.0.0.1:8265", allowed_secrets=["WANDB_API_KEY"])
    spec = JobSpec(
        command="python train.py --lr 0.1", workdir=tmp_path, name="t", gpus=2,
        pip=["scikit-learn==1.5.0", "numpy<3"],
        env={"SEED": "3", "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx", "DB_PASSWORD": "pw"},
        secrets=["WANDB_API_KEY"],
    )
    with pytest.raises(JobBackendError, match="job_secrets"):
        RayJobsBackend("127.0.0.1:8265").build_submission(spec, "gcs://x.zip", "id")
    payload = backend.build_submission(spec, "gcs://_ray_pkg_abc.zip", "openintern-t-1")
    assert payload["submission_id"] == "openintern-t-1"
    assert payload["entrypoint_num_gpus"] == 2
    runtime_env = payload["runtime_env"]
    assert runtime_env["working_dir"] == "gcs://_ray_pkg_abc.zip"
    assert runtime_env["pip"] == ["scikit-learn==1.5.0", "numpy<3"]
    assert runtime_env["env_vars"] == {"SEED": "3"}
    assert "hf_abcdefghijklmnopqrstuvwx" not in str(payload)
    # The entrypoint is one bash -c word that ends by running the command.
    words = shlex.split(payload["entrypoint"])
    assert words[:2] == ["bash", "-c"] and len(words) == 3
    assert words[2].endswith("python train.py --lr 0.1")
    assert "WANDB_API_KEY" in words[2]  # named secret: kept from the node's env


def test_no_gpu_means_no_gpu_request(tmp_path: Path) -> None:
    payload = RayJobsBackend("http://h:8265").build_submission(
        JobSpec(command="true", workdir=tmp_path), "gcs://x.zip", "id"
    )
    assert "entrypoint_num_gpus" not in payload
    assert "pip" not in payload["runtime_env"]


def test_scrub_prologue_unsets_what_looks_secret_and_keeps_named(tmp_path: Path) -> None:
    names = ["OPENAI_API_KEY", "HF_TOKEN", "MY_DB_PASSWORD", "GH_PAT", "AWS_REGION",
             "RAY_AUTH_TOKEN", "KEEP_ME_TOKEN", "PLAIN", "SEED", "PATHOLOGY"]
    env = {"PATH": os.environ["PATH"], **{n: "value-" + n for n in names}}
    script = scrub_prologue(["RAY_AUTH_TOKEN", "KEEP_ME_TOKEN"]) + "\ncompgen -e"
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    for name in names:
        expected = name in {"RAY_AUTH_TOKEN", "KEEP_ME_TOKEN"} or not looks_secret(name)
        assert (name in out) == expected, name


def test_wrapped_command_exports_run_dir_and_enforces_timeout(tmp_path: Path) -> None:
    spec = JobSpec(command="echo $OPENINTERN_METRICS; sleep 5", workdir=tmp_path, timeout_s=1)
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", wrapped_command(spec)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 124
    assert time.monotonic() - started < 4
    assert done.stdout.strip() == f"{tmp_path}/.openintern/run/metrics.jsonl"
    assert (tmp_path / ".openintern" / "run").is_dir()


def test_package_is_content_addressed_and_skips_caches(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    first = pack_working_dir(tmp_path)
    assert first.name.startswith("_ray_pkg_") and first.name.endswith(".zip")
    assert first.uri == "gcs://" + first.name
    names = zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    assert sorted(names) == ["data/x.csv", "train.py"]
    assert pack_working_dir(tmp_path).name == first.name  # same content, same name
    (tmp_path / "train.py").write_text("print(2)\n")
    assert pack_working_dir(tmp_path).name != first.name


def test_oversized_or_missing_working_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(64 * 1024))
    with pytest.raises(PackageTooLarge, match="move data sets"):
        pack_working_dir(tmp_path, max_bytes=16 * 1024)
    with pytest.raises(FileNotFoundError):
        pack_working_dir(tmp_path / "nope")


async def test_dead_dashboard_fails_fast_with_advice(tmp_path: Path) -> None:
    backend = RayJobsBackend(f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(JobBackendError, match="ray start --head"):
        await backend.submit(JobSpec(command="true", workdir=tmp_path))
    with pytest.raises(JobBackendError, match="OPENINTERN_RAY_ADDRESS"):
        await backend.status("x")
    assert time.monotonic() - started < 5


async def test_missing_working_dir_is_a_backend_error(tmp_path: Path) -> None:
    backend = RayJobsBackend(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(JobBackendError, match="does not exist"):
        await backend.submit(JobSpec(command="true", workdir=tmp_path / "gone"))


def test_settings_without_address_or_with_client_address_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENINTERN_RAY_ADDRESS", raising=False)
    with pytest.raises(JobBackendError, match="OPENINTERN_RAY_ADDRESS"):
        RayJobsBackend.from_settings(Settings(ray_address=None))
    with pytest.raises(JobBackendError, match="Ray Client address"):
        RayJobsBackend.from_settings(Settings(ray_address="ray://head:10001"))
    backend = RayJobsBackend.from_settings(
        Settings(ray_address="head:8265", ray_auth_token="t0ken")
    )
    assert backend.address == "http://head:8265"
