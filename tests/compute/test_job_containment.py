"""Jobs cannot become host commands, and they run under their limits.

The first version kept job specs and the queue in the workspace, which agent code may
write: a forged ``spec.json`` plus a queue marker made the host-side launcher run any argv
outside the sandbox.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from openintern.compute.base import JobBackendError, JobSpec, JobStatus
from openintern.compute.local import LocalBackend
from openintern.compute.runfiles import runs_root
from openintern.config import Settings
from openintern.sandbox import BwrapSandbox, ResourceLimits, SandboxError, make_sandbox


def _bwrap_usable() -> bool:
    try:
        make_sandbox(Settings(sandbox="bwrap", sandbox_network="off"), Path("/tmp"))
    except SandboxError:
        return False
    return True


needs_bwrap = pytest.mark.skipif(not _bwrap_usable(), reason="bubblewrap unusable here")


async def wait_done(backend: LocalBackend, job_id: str, limit_s: float = 60) -> JobStatus:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = await backend.status(job_id)
        if status.done:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {limit_s}s")


def _forgery(pwned: Path, queue_dir: str, runs_dir: str) -> str:
    """Shell run by agent code: a spec whose argv would touch ``pwned`` on the host, in the
    old layout (workspace) and in the real control folder (data directory)."""
    spec = {"job_id": "evil", "name": "x", "command": "x", "workdir": "/", "cwd": "/",
            "argv": ["/bin/sh", "-c", f"touch {pwned}"], "env": {"PATH": "/usr/bin:/bin"},
            "timeout_s": None, "gpus": 0, "submitted_at": 0, "sandbox": "none"}
    text = json.dumps(spec)
    lines = []
    for runs, queue in ((".openintern/runs", ".openintern/runs/.queue"),
                        (runs_dir, queue_dir)):
        lines += [f"mkdir -p {runs}/evil {queue} 2>/dev/null",
                  f"printf '%s' '{text}' > {runs}/evil/spec.json 2>/dev/null",
                  f"touch {queue}/00000000000000000001-evil 2>/dev/null"]
    return "; ".join([*lines, "echo attempted"])


@needs_bwrap
async def test_agent_code_cannot_forge_a_job_the_host_runs(workspace: Path,
                                                           tmp_path: Path) -> None:
    pwned = tmp_path / "pwned-by-forged-job"
    sandbox = BwrapSandbox(workspace, network="off")
    backend = LocalBackend(workspace, sandbox, max_cpu_jobs=2)
    root = runs_root(workspace)
    attempt = await sandbox.run(
        _forgery(pwned, str(root / ".queue"), str(root)), timeout_s=60)
    assert "attempted" in attempt.output
    # The host now pumps the queue (a legitimate job, then a status check).
    job = await backend.submit(JobSpec(command="echo legit", workdir=workspace))
    assert (await wait_done(backend, job)).state == "succeeded"
    await asyncio.sleep(0.5)
    await backend.list_jobs()
    assert not pwned.exists()
    assert [s.job_id for s in await backend.list_jobs()] == [job]


def _tamper(run_dir: Path, argv: list[str]) -> None:
    spec = json.loads((run_dir / "spec.json").read_text())
    spec["argv"] = argv
    (run_dir / "spec.json").write_text(json.dumps(spec))


async def test_the_launcher_runs_only_specs_this_host_signed(workspace: Path,
                                                             tmp_path: Path) -> None:
    # Even with write access to the control folder (e.g. a leaked path), a changed spec
    # is refused, and so is one without a signature.
    pwned = tmp_path / "pwned-by-tampered-spec"
    backend = LocalBackend(workspace, make_sandbox(Settings(sandbox="none"), workspace),
                           max_cpu_jobs=1)
    blocker = await backend.submit(JobSpec(command="sleep 1", workdir=workspace))
    queued = await backend.submit(JobSpec(command="echo fine", workdir=workspace))
    unsigned = await backend.submit(JobSpec(command="echo fine", workdir=workspace))
    _tamper(backend.run_dir(queued), ["/bin/sh", "-c", f"touch {pwned}"])
    (backend.run_dir(unsigned) / "spec.sig").unlink()
    for job in (queued, unsigned):
        status = await wait_done(backend, job)
        assert status.state == "failed"
        assert "refused to run" in status.detail
    assert (await wait_done(backend, blocker)).state == "succeeded"
    assert not pwned.exists()


async def test_job_state_lives_outside_the_workspace(workspace: Path) -> None:
    backend = LocalBackend(workspace, make_sandbox(Settings(sandbox="none"), workspace))
    job = await backend.submit(JobSpec(
        command='python -c "from openintern import track; track.log(step=1, loss=0.5)"; '
                'echo "$OPENINTERN_RUN_DIR"', workdir=workspace))
    assert (await wait_done(backend, job)).state == "succeeded"
    run_dir = backend.run_dir(job)
    assert workspace not in run_dir.parents
    assert (run_dir / "spec.json").exists() and (run_dir / "spec.sig").exists()
    # What the job writes stays in the workspace, where the agent can read it.
    out = backend.output_dir(job)
    assert workspace in out.parents
    assert (await backend.logs(job)).strip() == str(out)
    assert [p.name for p in await backend.metrics(job)] == ["loss"]
    assert not (workspace / ".openintern" / "runs" / job / "spec.json").exists()


@needs_bwrap
async def test_job_memory_bomb_is_stopped_with_a_clear_detail(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network="off",
                           limits=ResourceLimits(max_memory_bytes=128 << 20))
    backend = LocalBackend(workspace, sandbox)
    job = await backend.submit(JobSpec(
        command="python -c \"x = b'a' * (1 << 30); print('ALLOCATED')\"", workdir=workspace))
    status = await wait_done(backend, job)
    assert status.state == "failed"
    assert "memory limit 128 MiB" in status.detail
    assert "ALLOCATED" not in await backend.logs(job)


async def test_job_output_is_capped_but_metric_lines_and_the_end_survive(
    workspace: Path,
) -> None:
    backend = LocalBackend(workspace, make_sandbox(Settings(sandbox="none"), workspace),
                           max_output_mib=1)
    command = ("python -c \"import json\nfor i in range(40000):\n    print('noise ' * 10)\n"
               "    if i % 10000 == 0: print(json.dumps({'step': i, 'loss': 1.0}))\n"
               "print('FINAL RESULT 0.93')\"")
    job = await backend.submit(JobSpec(command=command, workdir=workspace))
    status = await wait_done(backend, job)
    assert status.state == "succeeded"
    assert "output limit 1 MiB reached" in status.detail
    log = backend.run_dir(job) / "output.log"
    assert log.stat().st_size < 2 << 20
    text = log.read_text()
    assert text.rstrip().endswith("FINAL RESULT 0.93")
    assert [p.step for p in await backend.metrics(job) if p.name == "loss"] == [
        0, 10000, 20000, 30000]


async def test_job_secrets_come_only_from_the_allowlist(workspace: Path,
                                                        tmp_path: Path) -> None:
    values = {"WANDB_API_KEY": "wandb-secret-value-123", "ANTHROPIC_API_KEY": "sk-ant-xyz"}
    sandbox = make_sandbox(Settings(sandbox="none"), workspace)
    backend = LocalBackend(workspace, sandbox, allowed_secrets=["WANDB_API_KEY"],
                           secret_values=values)
    with pytest.raises(JobBackendError, match="job_secrets"):
        await backend.submit(JobSpec(command="env", workdir=workspace,
                                     secrets=["ANTHROPIC_API_KEY"]))
    job = await backend.submit(JobSpec(
        command='echo "wandb=$WANDB_API_KEY anthropic=${ANTHROPIC_API_KEY:-unset}"',
        workdir=workspace, secrets=["WANDB_API_KEY"]))
    assert (await wait_done(backend, job)).state == "succeeded"
    assert (await backend.logs(job)).strip() == "wandb=wandb-secret-value-123 anthropic=unset"
    run_dir = backend.run_dir(job)
    assert "wandb-secret-value-123" not in (run_dir / "spec.json").read_text()
    assert not (run_dir / "job" / "secrets.env").exists()  # deleted after the job


def test_ray_and_hf_code_packages_leave_out_env_files_and_internals(tmp_path: Path) -> None:
    import base64
    import io
    import tarfile
    import zipfile

    from openintern.compute.hf_jobs import pack_code
    from openintern.compute.ray_package import pack_working_dir

    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-x\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / ".env.production").write_text("DB_PASSWORD=x\n")
    (tmp_path / ".openintern" / "spill").mkdir(parents=True)
    (tmp_path / ".openintern" / "spill" / "call.txt").write_text("tool output\n")
    ray = zipfile.ZipFile(io.BytesIO(pack_working_dir(tmp_path).data)).namelist()
    assert ray == ["train.py"]
    raw = base64.b64decode(pack_code(tmp_path))
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as archive:
        names = [n for n in archive.getnames() if n not in (".", "./conf", "conf")]
    assert [Path(n).name for n in names] == ["train.py"]
