"""The local job backend: detached processes in the sandbox, on this machine.

A job runs as ``bash -c <prologue + command>`` wrapped by the sandbox (``Sandbox.wrap``,
so it gets the workspace venv, a scrubbed environment, its own network namespace and,
with GPUs, the GPU device nodes) under a detached launcher
(:mod:`openintern.compute.launcher`) that survives the agent being killed and applies the
job's limits. Its control files live where agent code cannot write (the data directory,
:mod:`openintern.compute.runfiles`) and its spec is signed, so a new backend re-attaches
to any job by id and nothing written in the sandbox becomes a host command. Secrets reach
a job only by name from the user's allowlist (``job_secrets``). Concurrency: one CPU job
per core and one job per GPU by default; more jobs wait in an on-disk queue and start as
slots free, even while the agent is not running.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from openintern.compute.base import JobBackendError, JobSpec, JobStatus
from openintern.compute.job_env import check_secret_names
from openintern.compute.metrics import MetricPoint, MetricStream
from openintern.compute.runfiles import (
    FINAL_STATES,
    cancel_queued_or_running,
    job_output_dir,
    process_alive,
    pump,
    read_text,
    runs_root,
    write_atomic,
    write_signed_spec,
)
from openintern.sandbox.base import Sandbox
from openintern.secrets import is_secret_name

_JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_DETAIL_TAIL_LINES = 20


def detect_gpus() -> list[str]:
    """GPU indices from ``nvidia-smi -L`` (empty when there is no NVIDIA GPU or tool)."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        out = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _prologue(spec: JobSpec, out_dir: Path, visible: Path, secrets_file: Path | None) -> str:
    # Set inside the script because the sandbox refuses OPENINTERN_* names from callers.
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        f"cd {q(str(spec.workdir))} || exit 126",
        f"export OPENINTERN_RUN_DIR={q(str(out_dir))}",
        f"export OPENINTERN_METRICS={q(str(out_dir / 'metrics.jsonl'))}",
        *(f"export {k}={q(v)}" for k, v in spec.env.items()
          if k.startswith("OPENINTERN_") and not is_secret_name(k.removeprefix("OPENINTERN_"))
          and re.fullmatch(r"[A-Z0-9_]+", k)),
        f'export CUDA_VISIBLE_DEVICES="$(cat {q(str(visible / "gpus"))} 2>/dev/null)"',
    ]
    if secrets_file is not None:
        # The allowlisted, approved secrets; the launcher deletes the file after the job.
        lines.append(f"set -a; . {q(str(secrets_file))}; set +a")
    return "\n".join([*lines, ""])


class LocalBackend:
    """Runs jobs as detached local processes in the sandbox (see module doc)."""

    name = "local"

    def __init__(self, workspace: Path, sandbox: Sandbox, *, max_cpu_jobs: int | None = None,
                 gpus: list[str] | None = None, max_output_mib: int = 100,
                 cgroup_root: str | None = None, allowed_secrets: Iterable[str] = (),
                 secret_values: Mapping[str, str] | None = None) -> None:
        """``max_cpu_jobs`` defaults to the number of cores; ``gpus`` to what
        ``nvidia-smi -L`` lists; ``max_output_mib`` caps each job's output log;
        ``allowed_secrets`` is the user's ``job_secrets`` allowlist and
        ``secret_values`` where their values come from (the agent's environment)."""
        self.workspace = workspace.resolve()
        self.sandbox = sandbox
        self.root = runs_root(self.workspace)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_output_bytes = max(1, max_output_mib) << 20
        self.cgroup_root = cgroup_root
        self.allowed_secrets = list(allowed_secrets)
        self._secret_values = dict(os.environ if secret_values is None else secret_values)
        self.gpus = detect_gpus() if gpus is None else list(gpus)
        self.max_cpu_jobs = max_cpu_jobs or max(1, os.cpu_count() or 1)
        # The launcher of a finishing job pumps the queue too; it reads these limits.
        write_atomic(self.root / ".resources.json",
                     json.dumps({"cpu_slots": self.max_cpu_jobs, "gpus": self.gpus}))

    # --- paths ----------------------------------------------------------------------
    def run_dir(self, job_id: str) -> Path:
        """The job's directory; raises JobBackendError for an unknown id."""
        if not _JOB_ID.match(job_id) or not (self.root / job_id / "spec.json").exists():
            raise JobBackendError(
                f"no local job {job_id!r} in {self.root}; `jobs list` shows the known jobs"
            )
        return self.root / job_id

    # --- JobBackend ---------------------------------------------------------------------
    async def submit(self, spec: JobSpec) -> str:
        """Queue the job and start it if a slot is free; returns its id at once."""
        check_secret_names(spec.secrets, self.allowed_secrets)
        unset = [n for n in spec.secrets if not self._secret_values.get(n)]
        if unset:
            raise JobBackendError(
                f"the job needs secret(s) {', '.join(unset)} but they are not set in the "
                "agent's environment; export them before starting the agent")
        if spec.gpus > 0 and spec.gpus > len(self.gpus):
            raise JobBackendError(
                f"the job asks for {spec.gpus} GPU(s) but this machine has {len(self.gpus)};"
                " submit with gpus=0 or use a remote backend (ray, hf)"
            )
        workdir = spec.workdir if spec.workdir.is_absolute() else self.workspace / spec.workdir
        workdir = workdir.resolve()
        if workdir != self.workspace and self.workspace not in workdir.parents:
            raise JobBackendError(f"workdir {workdir} is outside the workspace {self.workspace}")
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run_dir = spec.run_dir.resolve() if spec.run_dir else self.root / job_id
        if run_dir != self.root / job_id:
            raise JobBackendError("the local backend chooses the run directory itself")
        spec.workdir = workdir
        await asyncio.to_thread(self._prepare, job_id, run_dir, spec)
        await asyncio.to_thread(pump, self.root)
        return job_id

    def _prepare(self, job_id: str, run_dir: Path, spec: JobSpec) -> None:
        run_dir.mkdir(parents=True)
        # Shown read-only inside the job: its GPU list (written when it starts) and the
        # secrets it was allowed. Everything else of run_dir stays out of its sight.
        visible = run_dir / "job"
        visible.mkdir()
        (visible / "gpus").write_text("")
        secrets_file = self._write_secrets(visible, spec.secrets)
        out_dir = job_output_dir(self.workspace, job_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.jsonl").touch()
        script = _prologue(spec, out_dir, visible, secrets_file) + spec.command + "\n"
        (run_dir / "command.sh").write_text(script, encoding="utf-8")
        env = {k: v for k, v in spec.env.items() if not k.startswith("OPENINTERN_")}
        writable = [out_dir]
        if (self.workspace / ".openintern") in spec.workdir.parents:
            writable.append(spec.workdir)  # e.g. a reproduction under .openintern/repro
        argv, environment = self.sandbox.wrap(
            ["bash", "-c", script], env, writable=writable, read_only=[visible],
            gpu=spec.gpus > 0)
        (run_dir / "output.log").touch()
        spec_data = {
            "job_id": job_id, "name": spec.name, "command": spec.command,
            "workdir": str(spec.workdir), "cwd": str(spec.workdir), "argv": argv,
            "env": environment, "timeout_s": spec.timeout_s, "gpus": spec.gpus,
            "submitted_at": time.time(), "sandbox": self.sandbox.name,
            "network": self.sandbox.network, "limits": self.sandbox.limits.to_json(),
            "cgroup_root": self.cgroup_root, "max_output_bytes": self.max_output_bytes,
            "output_dir": str(out_dir), "secrets": list(spec.secrets),
            "secrets_file": str(secrets_file) if secrets_file else None,
        }
        write_signed_spec(run_dir, spec_data)
        queue_dir = self.root / ".queue"
        queue_dir.mkdir(exist_ok=True)
        (queue_dir / f"{time.time_ns():020d}-{job_id}").touch()

    def _write_secrets(self, visible: Path, names: list[str]) -> Path | None:
        if not names:
            return None
        path = visible / "secrets.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for name in names:
                handle.write(f"{name}={shlex.quote(self._secret_values[name])}\n")
        return path

    async def status(self, job_id: str) -> JobStatus:
        """The job's state from its run directory (works across agent restarts)."""
        run_dir = self.run_dir(job_id)
        await asyncio.to_thread(pump, self.root)
        return await asyncio.to_thread(self._status, job_id, run_dir)

    def _status(self, job_id: str, run_dir: Path) -> JobStatus:
        def number(name: str) -> float | None:
            text = read_text(run_dir / name)
            try:
                return float(text) if text else None
            except ValueError:
                return None

        started = number("started_at")
        state = read_text(run_dir / "state")
        if state in FINAL_STATES:
            code = number("exit_code")
            detail = read_text(run_dir / "detail") or ""
            if state in ("failed", "timeout"):
                tail = self._read_log(run_dir, _DETAIL_TAIL_LINES, None)
                detail = f"{detail}\n--- last lines of output ---\n{tail}".strip()
            return JobStatus(job_id, self.name, state,  # type: ignore[arg-type]
                             exit_code=int(code) if code is not None else None,
                             started_at=started, ended_at=number("ended_at"), detail=detail)
        if not (run_dir / "pid").exists():
            return JobStatus(job_id, self.name, "queued", detail="waiting for a free slot")
        alive = process_alive(run_dir / "pid") or process_alive(run_dir / "child")
        if alive is None and time.time() - (started or 0) > 5:
            return JobStatus(job_id, self.name, "unknown", started_at=started,
                             detail="the job's processes are gone and no result was recorded")
        return JobStatus(job_id, self.name, "running", started_at=started)

    async def logs(self, job_id: str, *, tail: int | None = 200, grep: str | None = None) -> str:
        """The job's output: the last ``tail`` lines (None: all), optionally only lines
        matching the regular expression ``grep``."""
        run_dir = self.run_dir(job_id)
        try:
            pattern = re.compile(grep) if grep else None
        except re.error as exc:
            raise JobBackendError(f"grep pattern {grep!r} is not a valid regex: {exc}") from None
        return await asyncio.to_thread(self._read_log, run_dir, tail, pattern)

    @staticmethod
    def _read_log(run_dir: Path, tail: int | None, pattern: re.Pattern[str] | None) -> str:
        path = run_dir / "output.log"
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return ""
        with open(path, "rb") as handle:
            # For a plain tail, read only the end of a big log.
            if tail is not None and pattern is None and size > 4 << 20:
                handle.seek(size - (4 << 20))
            text = handle.read().decode("utf-8", errors="replace")
        lines = text.splitlines()
        if pattern is not None:
            lines = [line for line in lines if pattern.search(line)]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        return "\n".join(lines)

    async def cancel(self, job_id: str) -> JobStatus:
        """Stop the job (queued: removed; running: its process group is terminated)."""
        run_dir = self.run_dir(job_id)
        if read_text(run_dir / "state") not in FINAL_STATES:
            await asyncio.to_thread(cancel_queued_or_running, self.root, job_id)
            await asyncio.to_thread(pump, self.root)
        return await asyncio.to_thread(self._status, job_id, run_dir)

    # --- beyond the protocol ---------------------------------------------------------
    async def metrics(self, job_id: str) -> list[MetricPoint]:
        """Every metric point the job reported so far (metrics file and output lines)."""
        run_dir = self.run_dir(job_id)

        files = self.metric_files(job_id)

        def read() -> list[MetricPoint]:
            final = (run_dir / "state").exists()
            points = MetricStream(files["metrics"], require_step=False).read_new(
                final=final)
            return points + MetricStream(run_dir / "output.log", require_step=True).read_new(
                final=final)

        return await asyncio.to_thread(read)

    def metric_files(self, job_id: str) -> dict[str, Path]:
        """The files a ledger follows incrementally: ``metrics`` (JSONL, written by the
        job in its output folder) and ``output`` (the launcher's log)."""
        run_dir = self.run_dir(job_id)
        return {"metrics": job_output_dir(self.workspace, job_id) / "metrics.jsonl",
                "output": run_dir / "output.log"}

    def output_dir(self, job_id: str) -> Path:
        """The folder the job writes (``OPENINTERN_RUN_DIR``) in the workspace."""
        self.run_dir(job_id)
        return job_output_dir(self.workspace, job_id)

    async def list_jobs(self, limit: int = 50) -> list[JobStatus]:
        """The newest jobs first."""
        def ids() -> list[str]:
            dirs = [p.name for p in self.root.iterdir()
                    if p.is_dir() and (p / "spec.json").exists()]
            return sorted(dirs, reverse=True)[:limit]

        await asyncio.to_thread(pump, self.root)
        found = await asyncio.to_thread(ids)
        return [await asyncio.to_thread(self._status, j, self.root / j) for j in found]

    def spec_name(self, job_id: str) -> str:
        """The name given at submission ('' when none)."""
        try:
            data = json.loads((self.run_dir(job_id) / "spec.json").read_text())
        except (OSError, json.JSONDecodeError):
            return ""
        return str(data.get("name", ""))
