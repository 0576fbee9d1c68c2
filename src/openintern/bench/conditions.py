"""The test conditions stored with every bench run, so a result can be read (and
repeated) by someone else: the model, OpenIntern's version and commit, a hash of the
prompts the agent ran with, the limits, the seeds, the sandbox, and the machine."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata, resources
from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class Limits(BaseModel):
    """What each attempt may spend."""

    max_iterations: int = Field(150, ge=1)
    budget_usd: float = Field(3.0, ge=0)
    timeout_s: float = Field(3600.0, gt=0, description="wall-clock limit per attempt")


class Machine(BaseModel):
    """Where the run happened."""

    platform: str
    python: str
    cpus: int
    memory_gib: float
    cpu_model: str = ""
    gpus: list[str] = Field(default_factory=list)


class RunConditions(BaseModel):
    """Everything a reader needs to interpret a bench run."""

    model: str
    api_base: str | None = None
    openintern_version: str
    git_commit: str
    prompts_sha256: str
    limits: Limits
    seeds: list[int]
    parallel: int
    sandbox: str
    # The sandbox's network level: off, egress or full (older runs recorded a bool).
    network: str
    answers_hidden: bool = Field(description="the sandbox hid the answers (checked before "
                                 "every attempt); false with --sandbox none")
    machine: Machine
    started_at: float = Field(default_factory=time.time)

    @field_validator("network", mode="before")
    @classmethod
    def _network_level(cls, value: object) -> object:
        return ("egress" if value else "off") if isinstance(value, bool) else value


def _git(args: list[str], cwd: Path) -> str:
    if shutil.which("git") is None:
        return ""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def git_commit() -> str:
    """The commit of the OpenIntern checkout in use (``+dirty`` with local changes), or
    ``unknown`` for an installed package."""
    here = Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], here)
    if not commit:
        return "unknown"
    dirty = _git(["status", "--porcelain", "--untracked-files=no"], here)
    return commit + ("+dirty" if dirty else "")


def prompts_sha256(run_prompt: str) -> str:
    """A hash of every prompt the agent under test reads: its system prompts and the
    bench's run prompt."""
    digest = hashlib.sha256()
    folder = resources.files("openintern") / "agent" / "prompts"
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".md")):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    digest.update(run_prompt.encode())
    return digest.hexdigest()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def machine() -> Machine:
    """This machine, as far as a result depends on it."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = 0.0
    return Machine(platform=platform.platform(), python=sys.version.split()[0],
                   cpus=os.cpu_count() or 1, memory_gib=round(memory, 1),
                   cpu_model=_cpu_model(), gpus=_gpus())


def openintern_version() -> str:
    """The installed distribution's version."""
    try:
        return metadata.version("openintern")
    except metadata.PackageNotFoundError:
        return "unknown"
