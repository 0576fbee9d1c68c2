"""Run the ordinary agent on each task, then grade on the host.

Each attempt gets a fresh workspace with the task's public files, its own store, and the
real CLI (``python -m openintern.cli run ...``, headless, with the limits) as a child
process. Before the agent starts, a command in the same sandbox checks that the hidden
answers cannot be seen; an attempt whose answers would be visible is refused. After the
agent stops, the host grades the submission and reads the claims from the store.
Attempts run in parallel, ``parallel`` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openintern.bench.floor import FLOORS, floor_responder
from openintern.bench.grader import Grade, grade
from openintern.bench.integrity import Evidence, assess, read_evidence
from openintern.bench.results import AttemptResult, RunRecord, save
from openintern.bench.task import BuiltTask
from openintern.sandbox.base import SandboxError

RUN_PROMPT = (
    "You are being evaluated on a machine-learning task. description.md in the workspace "
    "describes the task, the data (in data/), the metric and the submission format. Work "
    "as you would for a demanding colleague: audit the data, track experiments in the "
    "ledger, validate the way the test will be scored. Write your predictions to "
    "submission.csv in the workspace root before you finish; the test labels are hidden "
    "and are scored after you stop. End your final message with one line stating the "
    "score you expect on the hidden test set, exactly as: Expected test <metric>: <value>"
)
_KILL_GRACE_S = 10.0


class AnswersVisibleError(RuntimeError):
    """The sandbox would let the agent see the hidden answers."""


@dataclass
class Attempt:
    """One task × seed to run."""

    task: BuiltTask
    seed: int
    directory: Path

    @property
    def workspace(self) -> Path:
        """The agent's workspace."""
        return self.directory / "workspace"

    @property
    def store_url(self) -> str:
        """The attempt's own store."""
        return f"sqlite:///{self.directory / 'store.db'}"


@dataclass
class AgentSettings:
    """Who plays and under which limits (the CLI flags of each attempt)."""

    model: str
    api_base: str | None
    max_iterations: int
    budget_usd: float
    timeout_s: float
    sandbox: str
    network: str  # the sandbox's network level: off, egress or full
    extra_env: dict[str, str] = field(default_factory=dict)


def attempt_name(task_id: str, seed: int) -> str:
    """The attempt's folder name (no ':' or other characters paths and venvs refuse)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", task_id) + f"-s{seed}"


def prepare_workspace(attempt: Attempt) -> None:
    """A fresh workspace holding only the task's public files."""
    if attempt.directory.exists():
        shutil.rmtree(attempt.directory)
    attempt.directory.mkdir(parents=True)
    task = attempt.task
    shutil.copytree(task.public_dir, attempt.workspace / task.public_into)
    if task.public_into:  # MLE-bench: the files under data/, the description on top
        (attempt.workspace / task.public_into / "description.md").replace(
            attempt.workspace / "description.md")
    if not (attempt.workspace / "description.md").is_file():
        raise FileNotFoundError(f"task {attempt.task.meta.id} has no description.md")


def hidden_paths(attempt: Attempt) -> list[Path]:
    """Files the agent must not see: the answers, the built task's record, and the run's
    record (the directories above the workspace exist inside the sandbox only as the
    empty path to it)."""
    candidates = [attempt.task.answers_path, attempt.task.root / "task.json",
                  attempt.directory.parent.parent / "run.json"]
    return [p for p in candidates if p.is_file()]


async def check_answers_hidden(attempt: Attempt, settings: AgentSettings) -> None:
    """Run a probe in the sandbox the agent will get; raise when an answer path shows."""
    from openintern.config import Settings
    from openintern.sandbox import make_sandbox

    sandbox = make_sandbox(Settings(workspace=attempt.workspace, sandbox=settings.sandbox,
                                    sandbox_network=settings.network), attempt.workspace)
    probe = "; ".join(f"if [ -e {shlex.quote(str(p))} ]; then echo VISIBLE {p}; fi"
                      for p in hidden_paths(attempt))
    result = await sandbox.run(probe + "; echo probe-done", timeout_s=300)
    if "probe-done" not in result.output:
        raise AnswersVisibleError(f"the sandbox probe did not run: {result.output[-500:]}")
    visible = [line[8:] for line in result.output.splitlines() if line.startswith("VISIBLE ")]
    if visible:
        raise AnswersVisibleError(
            f"the hidden answers would be visible inside the sandbox ({', '.join(visible)}). "
            "Keep the task data under your home directory or OpenIntern's data directory "
            "(the sandbox hides both).")


def agent_argv(attempt: Attempt, settings: AgentSettings, model: str, api_base: str | None
               ) -> list[str]:
    """The command line of the agent under test: the ordinary headless CLI."""
    argv = [sys.executable, "-m", "openintern.cli", "run", RUN_PROMPT, "--model", model,
            "--workspace", str(attempt.workspace),
            "--max-iterations", str(settings.max_iterations),
            "--budget", f"{settings.budget_usd:g}", "--sandbox", settings.sandbox,
            "--network-level", settings.network]
    if api_base:
        argv += ["--api-base", api_base]
    return argv


def agent_env(attempt: Attempt, settings: AgentSettings) -> dict[str, str]:
    """The agent's environment: the user's, plus its own store, in the data directory the
    sandbox hides (so the hidden answers there stay hidden)."""
    from openintern.config import data_dir

    env = dict(os.environ)
    env.update({"OPENINTERN_DATA_DIR": str(data_dir()),
                "OPENINTERN_STORE_URL": attempt.store_url,
                "COLUMNS": "120", "NO_COLOR": "1"})
    env.update(settings.extra_env)
    return env


async def _run_agent(argv: list[str], env: dict[str, str], log: Path, timeout_s: float
                     ) -> tuple[int | None, bool]:
    """Run the agent to the end (or the timeout); returns (exit code, timed out)."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            return await asyncio.wait_for(proc.wait(), timeout_s), False
        except TimeoutError:
            return None, True
        finally:
            if proc.returncode is None:  # timed out or cancelled: stop the whole group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), _KILL_GRACE_S)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    await proc.wait()


async def run_attempt(attempt: Attempt, settings: AgentSettings) -> AttemptResult:
    """Prepare, check, play, grade and assess one attempt."""
    from openintern.llm.scripted import ScriptedServer

    result = AttemptResult(task_id=attempt.task.meta.id, seed=attempt.seed,
                           status="crashed", attempt_dir=str(attempt.directory))
    try:
        await asyncio.to_thread(prepare_workspace, attempt)
        if settings.sandbox != "none":
            await check_answers_hidden(attempt, settings)
    except AnswersVisibleError as exc:
        result.status, result.error = "refused", str(exc)
        return result
    except (SandboxError, OSError) as exc:  # no sandbox here, or a workspace we cannot make
        result.status, result.error = "error", str(exc)
        return result
    server = None
    model, api_base, env = settings.model, settings.api_base, agent_env(attempt, settings)
    if settings.model in FLOORS:
        server = ScriptedServer(floor_responder(settings.model, attempt.seed))
        await asyncio.to_thread(server.start)
        model, api_base = "openai/scripted", server.base_url
        env.update({"OPENINTERN_API_KEY": "scripted-floor",
                    "OPENINTERN_RETRY_BASE_DELAY_S": "0.05"})
    start = time.monotonic()
    try:
        code, timed_out = await _run_agent(agent_argv(attempt, settings, model, api_base), env,
                                           attempt.directory / "agent.log",
                                           settings.timeout_s)
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
    result.wall_s = round(time.monotonic() - start, 2)
    result.exit_code = code
    graded: Grade = await asyncio.to_thread(grade, attempt.task, attempt.workspace)
    try:
        evidence = await asyncio.to_thread(read_evidence, attempt.store_url)
    except Exception as exc:  # a store the agent never created or left unreadable
        evidence, result.error = Evidence(), f"could not read the agent's store: {exc}"
    result.grade = graded
    result.integrity = assess(attempt.task.meta, graded, evidence)
    result.session_id = evidence.session_id
    result.cost_usd = round(evidence.cost_usd, 6)
    result.prompt_tokens, result.completion_tokens = (evidence.prompt_tokens,
                                                      evidence.completion_tokens)
    result.iterations = evidence.iterations
    if timed_out:
        result.status = "timeout"
    elif evidence.stop_reason:
        result.status = evidence.stop_reason
    elif code not in (0, None):
        result.status = "crashed"
        result.error = result.error or _log_tail(attempt.directory / "agent.log")
    return result


def _log_tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


async def run_all(record: RunRecord, tasks: list[BuiltTask], settings: AgentSettings,
                  run_dir: Path, parallel: int, home: Path | None,
                  on_done: Callable[[AttemptResult], None] | None = None) -> RunRecord:
    """Run every task × seed (``parallel`` at a time), saving the record as results come."""
    attempts = [Attempt(task, seed, run_dir / "attempts" / attempt_name(task.meta.id, seed))
                for seed in record.conditions.seeds for task in tasks]
    await asyncio.to_thread(save, record, home)  # run.json exists before any agent starts
    gate = asyncio.Semaphore(max(1, parallel))
    lock = asyncio.Lock()

    async def one(attempt: Attempt) -> None:
        async with gate:
            try:
                result = await run_attempt(attempt, settings)
            except Exception as exc:  # one broken attempt must not lose the others
                result = AttemptResult(task_id=attempt.task.meta.id, seed=attempt.seed,
                                       status="crashed", error=f"{type(exc).__name__}: {exc}",
                                       attempt_dir=str(attempt.directory))
        async with lock:
            record.attempts.append(result)
            await asyncio.to_thread(save, record, home)
        if on_done is not None:
            on_done(result)

    await asyncio.gather(*(one(a) for a in attempts))
    record.attempts.sort(key=lambda a: ([t.meta.id for t in tasks].index(a.task_id), a.seed))
    record.finished_at = time.time()
    await asyncio.to_thread(save, record, home)
    return record
