"""End-to-end: experiments through the `intern` command. Real detached jobs on the local
backend (real scikit-learn training), real ledger, real sandbox; only the model's turns are
scripted, and the scripted model reads the tool results it gets (job and experiment ids)
the way a real model would."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e_helpers import intern_argv, intern_env, run_intern, store

from openintern.compute.runfiles import read_text, runs_root
from openintern.llm.script import Step
from openintern.llm.scripted import ScriptedServer
from openintern.research.ledger import ExperimentRecord, Ledger

# A step function sees the contents of every tool message so far and returns the next
# assistant step, or None to move on to the following step function.
StepFn = Callable[[list[str]], dict[str, Any] | None]

TRAIN = """\
import argparse
import json

from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from openintern import track

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, random_state=args.seed)
model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=args.lr,
                      random_state=args.seed)
for step in range(1, args.epochs + 1):
    model.partial_fit(X_train, y_train, classes=list(range(10)))
    loss = float(log_loss(y_test, model.predict_proba(X_test), labels=list(range(10))))
    track.log(step=step, loss=loss)
    print(json.dumps({"step": step, "val_acc": float(model.score(X_test, y_test))}),
          flush=True)
"""

SLOW_JOB = """\
import json, os, random, time
seed = int(os.environ["OPENINTERN_SEED"])
rng = random.Random(seed)
score = 0.0
for step in range(1, 4):
    time.sleep(1.0)
    score += rng.random()
    print(json.dumps({"step": step, "score": score}), flush=True)
with open(f"truth_{seed}.json", "w") as handle:
    json.dump({"score": score}, handle)
"""

CRASH = """\
import json
print(json.dumps({"step": 1, "loss": 0.75}), flush=True)
raise RuntimeError("boom: the data loader exploded")
"""

GARBAGE = """\
import sys
print('{"step": 1, "loss": 0.5}')
print('{"step": "two", "loss": "not a number"}')
print('{"step": 2, "loss": ')
print('loss=banana step=?')
sys.stdout.buffer.write(bytes([0xff, 0xfe, 0x00, 0x41]) + b"\\n")
print('[1, 2, 3]')
print('{"step": 3, "loss": 0.25}')
"""

TERMINAL = ("succeeded", "failed", "cancelled", "timeout")


def _call(tool: str, **arguments: object) -> dict[str, object]:
    return {"name": tool, "arguments": arguments}


class ReadingModel:
    """A scripted model whose steps are functions of the tool results it was sent."""

    def __init__(self, steps: list[tuple[StepFn, bool]]) -> None:
        """``steps``: (function, repeat). A repeated function is asked again on the next
        request until it returns None; a plain one answers once."""
        self.steps = steps
        self.position = 0

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        tools = [str(m.get("content") or "") for m in body["messages"] if m["role"] == "tool"]
        while self.position < len(self.steps):
            make, repeat = self.steps[self.position]
            step = make(tools)
            if step is None or not repeat:
                self.position += 1
            if step is not None:
                return Step.model_validate(step)
        return None


def once(step: dict[str, Any]) -> tuple[StepFn, bool]:
    """A fixed step."""
    return (lambda _tools: step), False


def job_states(text: str) -> dict[str, str]:
    """``{job id: state}`` from the status lines of a jobs tool result."""
    return dict(re.findall(r"local:(\S+) (\w+)", text))


def wait_until_all_done(job_ids: Callable[[list[str]], list[str]]) -> tuple[StepFn, bool]:
    """`jobs wait` on the unfinished jobs, again and again, until every one finished
    (a wait returns as soon as any of its jobs ends)."""
    finished: set[str] = set()
    rounds = [0]

    def make(tools: list[str]) -> dict[str, Any] | None:
        last = tools[-1] if tools else ""
        if last.startswith("wait returned"):
            finished.update(j for j, s in job_states(last).items() if s in TERMINAL)
        pending = [j for j in job_ids(tools) if j not in finished]
        rounds[0] += 1
        if not pending or rounds[0] > 60:
            return None
        return {"tool_calls": [_call("jobs", operation="wait", job_ids=pending,
                                     wait_timeout_s=30)]}

    return make, True


def field(tools: list[str], pattern: str) -> list[str]:
    """Every match of ``pattern`` in the tool results so far, in order."""
    return [m for text in tools for m in re.findall(pattern, text)]


def output_metrics(workspace: Path, job_id: str) -> list[dict[str, Any]]:
    """The JSON metric lines a job really printed (from its log on disk)."""
    log = runs_root(workspace) / job_id / "output.log"
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    points: list[dict[str, Any]] = [json.loads(line) for line in lines]
    return points


def ledger() -> Ledger:
    return Ledger(store())


def experiments(session_id: str) -> list[ExperimentRecord]:
    found: list[ExperimentRecord] = ledger().experiments(session_id)
    return found


def tool_messages(session_id: str) -> list[str]:
    return [m.content for m in store().load_messages(session_id) if m.role == "tool"]


# --- 1. a whole study: write, sweep, wait, compare, conclude; then runs/show/reproduce --
def test_sweep_compare_conclude_then_runs_show_and_reproduce(workspace: Path) -> None:
    def sweep_ids(tools: list[str]) -> list[str]:
        return field(tools, r"experiments: (.+)")[0].split(", ")

    def sweep_jobs(tools: list[str]) -> list[str]:
        return field(tools, r"job_ids: (.+)")[0].split(", ")

    def compare(tools: list[str]) -> dict[str, Any]:
        sweep_id = field(tools, r"Sweep (\w+):")[0]
        return {"tool_calls": [_call("experiment", operation="compare", sweep_id=sweep_id,
                                     baseline_id=sweep_ids(tools)[0])]}

    def conclude(tools: list[str]) -> dict[str, Any]:
        table = next(t for t in tools if "Welch" in t)
        top = next(r for r in table.splitlines() if r.startswith("| 1 |"))
        best = top.strip("| ").split("|")[-1].strip().split(",")[0]
        return {"tool_calls": [_call("experiment", operation="conclude", experiment_id=best,
                                     conclusion="lr=0.1 beats lr=0.001 on val_acc",
                                     best=True)]}

    model = ReadingModel([
        once({"text": "Writing the training script.",
              "tool_calls": [_call("write_file", path="train.py", content=TRAIN)]}),
        once({"tool_calls": [_call(
            "sweep", name="sgd-lr", hypothesis="a larger step size learns faster",
            command="python train.py --lr {lr} --seed {seed}",
            space={"lr": [0.001, 0.1]}, seeds=2, primary_metric="val_acc")]}),
        wait_until_all_done(sweep_jobs),
        (compare, False),
        (conclude, False),
        once({"text": "lr=0.1 is better than lr=0.001 over two seeds."}),
    ])
    with ScriptedServer(model) as server:
        env = intern_env(server.base_url)
        result = run_intern("tune the learning rate on digits", env=env, cwd=workspace)
        requests = server.requests
    assert result.code == 0, result.output
    assert "lr=0.1 is better" in result.output

    [session] = store().list_sessions()
    exps = experiments(session.id)
    assert len(exps) == 4 and {e.status for e in exps} == {"succeeded"}, exps
    assert sorted((e.config["lr"], e.seed) for e in exps) == [
        (0.001, 0), (0.001, 1), (0.1, 0), (0.1, 1)]
    # The ledger holds what the jobs really printed (stdout) and tracked (openintern.track).
    for e in exps:
        assert e.job_id is not None
        printed = output_metrics(workspace, e.job_id)
        assert [p["step"] for p in printed] == [1, 2, 3, 4, 5]
        assert e.final_metrics["val_acc"] == printed[-1]["val_acc"]
        assert 0 < e.final_metrics["loss"] < 10 and e.code_hash

    # What the model received from compare: mean ± CI per config and Welch's p-value.
    compare_text = next(m["content"] for r in requests for m in r["messages"]
                        if m["role"] == "tool" and "Welch" in str(m["content"]))
    assert "mean ± 95% CI" in compare_text and "Welch" in compare_text
    rows = [r for r in compare_text.splitlines() if r.startswith("| 1 ") or
            r.startswith("| 2 ")]
    assert len(rows) == 2
    by_lr: dict[float, list[float]] = {}
    for e in exps:
        by_lr.setdefault(e.config["lr"], []).append(e.final_metrics["val_acc"])
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        lr = json.loads(cells[1])["lr"]
        assert cells[3].startswith(f"{statistics.mean(by_lr[lr]):.4g} ± ")
        assert "(n=2)" in cells[3]
        if lr == 0.001:
            assert cells[4] == "baseline"
        else:
            assert 0 <= float(cells[4]) <= 1  # a real p-value against the baseline
    best = [e for e in exps if e.is_best]
    assert len(best) == 1 and best[0].config["lr"] == 0.1 and best[0].conclusion

    listing = run_intern("runs", env=env, cwd=workspace)
    assert listing.code == 0, listing.output
    for e in exps:
        assert e.id in listing.output
        assert f"val_acc={e.final_metrics['val_acc']:.4g}" in listing.output
    assert "★ sgd-lr" in listing.output

    target = best[0]
    png = workspace / "plot.png"
    shown = run_intern("runs", "show", target.id, "--png", str(png), env=env, cwd=workspace)
    assert shown.code == 0, shown.output
    assert f"val_acc of {target.id} over steps 1..5 (5 points" in shown.output
    assert re.search(r"[▁▂▃▄▅▆▇█]{5}", shown.output), shown.output
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in shown.output and "no PNG written" in shown.output
        assert not png.exists()
    else:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loss_plot = run_intern("runs", "show", target.id, "--metric", "loss", env=env,
                           cwd=workspace)
    assert f"loss of {target.id}" in loss_plot.output and "lower is better" in loss_plot.output
    missing = run_intern("runs", "show", "nosuchexp", env=env, cwd=workspace)
    assert missing.code != 0 and "nosuchexp" in missing.output

    repro = run_intern("reproduce", target.id, env=env, cwd=workspace)
    assert repro.code == 0, repro.output
    assert "matches" in repro.output and target.id in repro.output
    clone = next(e for e in ledger().experiments(None) if e.reproduces == target.id)
    assert clone.status == "succeeded"
    assert clone.final_metrics["val_acc"] == target.final_metrics["val_acc"]


# --- 2. the agent is killed -9 while 4 jobs run; resume shows their true results ---------
def test_kill_9_while_four_jobs_run_then_resume_sees_true_results(workspace: Path) -> None:
    def run_ids(tools: list[str]) -> list[str]:
        return field(tools, r"running as local job (\S+) \(")

    def long_wait(tools: list[str]) -> dict[str, Any]:
        return {"tool_calls": [_call("jobs", operation="wait", job_ids=run_ids(tools),
                                     wait_timeout_s=600)]}

    def look_again(tools: list[str]) -> dict[str, Any]:
        ids = run_ids(tools)
        return {"tool_calls": [_call("jobs", operation="status", job_ids=ids),
                               _call("jobs", operation="metrics", job_ids=ids)]}

    model = ReadingModel([
        once({"tool_calls": [_call("write_file", path="job.py", content=SLOW_JOB)]}),
        once({"tool_calls": [
            _call("experiment", operation="run", name=f"slow-{seed}", command="python job.py",
                  seed=seed, primary_metric="score") for seed in range(4)]}),
        (long_wait, False),
        (look_again, False),
        once({"text": "All four jobs finished while I was away."}),
    ])
    with ScriptedServer(model) as server:
        env = intern_env(server.base_url)
        proc = subprocess.Popen(
            intern_argv("run four jobs"), env=env, cwd=workspace,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        sid = _wait_for_tool_start(proc, "jobs")
        root = runs_root(workspace)
        launchers = [int((d / "pid").read_text().split()[0])
                     for d in root.iterdir() if (d / "pid").exists()]
        assert launchers, "no job had started when the agent began waiting"
        for pid in launchers:  # detached: neither in the agent's group nor its session
            assert os.getpgid(pid) != proc.pid and os.getsid(pid) != proc.pid
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.time()
        assert store().get_session(sid).status == "running"
        exps = experiments(sid)
        assert len(exps) == 4 and not any(e.done for e in exps)

        # The jobs (and the queue: 2 slots on this machine) carry on without the agent.
        job_dirs = [root / e.job_id for e in exps if e.job_id]
        while time.time() < killed_at + 60:
            if all((d / "state").exists() for d in job_dirs):
                break
            time.sleep(0.2)
        assert [read_text(d / "state") for d in job_dirs] == ["succeeded"] * 4
        assert not any(e.done for e in experiments(sid))  # nobody told the ledger yet

        result = run_intern("resume", sid, env=env, cwd=workspace)
    assert result.code == 0, result.output
    assert "All four jobs finished" in result.output

    tools = tool_messages(sid)
    assert "did not complete" in tools[-3]  # the wait the kill interrupted
    status_text, metrics_text = tools[-2], tools[-1]
    finals = {e.seed: e for e in experiments(sid)}
    assert len(finals) == 4
    for seed, e in finals.items():
        truth = json.loads((workspace / f"truth_{seed}.json").read_text())["score"]
        assert e.status == "succeeded" and e.final_metrics["score"] == truth
        assert [p.step for p in ledger().series(e.id, "score")] == [1, 2, 3]
        assert re.search(rf"local:{re.escape(e.job_id or '')} succeeded, exit code 0",
                         status_text)
        assert re.search(rf"--- {re.escape(e.job_id or '')} metrics ---\n.*\n"
                         rf"score \| 3 \| {truth:.6g} \(3\)", metrics_text)
    assert store().get_session(sid).status == "idle"


# --- 3. faults: a crashing job, garbage metrics, a Ray head that is down ---------------------
def test_crash_garbage_metrics_and_a_dead_ray_head_lose_nothing(workspace: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]

    def run_ids(tools: list[str]) -> list[str]:
        return field(tools, r"running as local job (\S+) \(")

    def statuses(tools: list[str]) -> dict[str, Any]:
        ids = field(tools, r"Experiment (\w+) running as local")
        return {"tool_calls": [_call("experiment", operation="status", experiment_id=i)
                               for i in ids]}

    model = ReadingModel([
        once({"tool_calls": [_call("write_file", path="crash.py", content=CRASH),
                             _call("write_file", path="garbage.py", content=GARBAGE)]}),
        once({"tool_calls": [
            _call("experiment", operation="run", name="crash", command="python crash.py",
                  primary_metric="loss"),
            _call("experiment", operation="run", name="garbage", command="python garbage.py",
                  primary_metric="loss"),
            _call("jobs", operation="submit", command="echo hi", backend="ray"),
            _call("experiment", operation="run", name="on-ray", command="echo hi",
                  backend="ray", primary_metric="loss"),
        ]}),
        wait_until_all_done(run_ids),
        (statuses, False),
        once({"text": "One run crashed, one printed junk, and Ray is down."}),
    ])
    with ScriptedServer(model) as server:
        env = intern_env(server.base_url,
                         OPENINTERN_RAY_ADDRESS=f"http://127.0.0.1:{dead_port}")
        result = run_intern("try faulty jobs", env=env, cwd=workspace)
    assert result.code == 0, result.output
    [session] = store().list_sessions()
    tools = tool_messages(session.id)

    ray_results = [t for t in tools if "Ray dashboard" in t]
    assert len(ray_results) == 2
    for text in ray_results:
        assert text.startswith("ERROR:")
        assert f"cannot reach the Ray dashboard at http://127.0.0.1:{dead_port}" in text
        assert "OPENINTERN_RAY_ADDRESS" in text
    finished = [e for e in store().events_after(session.id)
                if e.type == "tool_call_finished" and not getattr(e, "ok", True)]
    assert len(finished) == 2 and all(getattr(e, "duration_s", 99) < 5 for e in finished)

    by_name = {e.name: e for e in experiments(session.id)}
    assert set(by_name) == {"crash", "garbage", "on-ray"}
    on_ray = by_name["on-ray"]
    assert on_ray.status == "declared"  # kept, and the model was told how to start it
    assert f"experiment_id={on_ray.id}" in ray_results[1]

    crash = by_name["crash"]
    assert crash.status == "failed" and crash.final_metrics == {"loss": 0.75}
    assert "boom: the data loader exploded" in crash.status_detail
    garbage = by_name["garbage"]
    assert garbage.status == "succeeded" and garbage.final_metrics == {"loss": 0.25}
    assert [(p.step, p.value) for p in ledger().series(garbage.id, "loss")] == [
        (1, 0.5), (3, 0.25)]
    crash_status = next(t for t in tools if t.startswith(f"Experiment {crash.id} crash:"))
    assert "failed" in crash_status and "boom" in crash_status
    garbage_status = next(t for t in tools if t.startswith(f"Experiment {garbage.id} garbage:"))
    assert "succeeded" in garbage_status and "loss | 2 | 0.25 (3)" in garbage_status


def _wait_for_tool_start(proc: subprocess.Popen[bytes], tool: str) -> str:
    """The session id, once its agent has started a call of ``tool``."""
    db = Path(os.environ["OPENINTERN_DATA_DIR"]) / "openintern.db"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        sessions = store().list_sessions() if db.exists() else []
        if sessions:
            events = store().events_after(sessions[0].id)
            if any(getattr(e, "name", "") == tool and e.type == "tool_call_started"
                   for e in events):
                return str(sessions[0].id)
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"the session never started a {tool} call")
