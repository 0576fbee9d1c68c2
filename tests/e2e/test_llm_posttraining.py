"""End-to-end LLM post-training through the `intern` command, offline on CPU: the LLM
demo (synthesis through the scripted server, a real TRL SFT job whose metrics reach the
ledger while it runs, real inspect_ai evaluations with CIs and conditions, contamination,
comparison), `intern eval-model` catching planted contamination, a synthesis killed
mid-way and resumed without losing anything, and a GRPO run whose collapsed reward fires
the alert (with a DPO run beside it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import intern_argv, intern_env, run_intern, store

from openintern.demo.llm_data import eval_rows, instruction_rows, write_jsonl
from openintern.demo.llm_script import SCHEMA, TEMPLATE, synthesis_reply
from openintern.llm.script import Step
from openintern.llm.scripted import ScriptedServer
from openintern.research.artifacts import DataArtifacts
from openintern.research.ledger import ExperimentRecord, Ledger

pytest.importorskip("trl", reason="the llm extra is not installed")
pytest.importorskip("inspect_ai", reason="the llm extra is not installed")

pytestmark = pytest.mark.slow
TERMINAL = ("succeeded", "failed", "cancelled", "timeout")


def _ledger() -> Ledger:
    return Ledger(store())


def _by_name(name: str) -> list[ExperimentRecord]:
    return [e for e in _ledger().experiments() if e.name == name]


@pytest.mark.timeout(1800)
def test_llm_demo_trains_evaluates_and_compares(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    env = intern_env("http://127.0.0.1:9/v1", COLUMNS="220")
    process = subprocess.Popen(intern_argv("demo", "--llm", "--fast", "--workspace", str(ws)),
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    live_loss = None
    deadline = time.monotonic() + 1500
    while process.poll() is None and time.monotonic() < deadline:
        if live_loss is None and (db := Path(os.environ["OPENINTERN_DATA_DIR"])
                                  / "openintern.db").exists():
            try:
                for exp in _by_name("ranges-sft"):
                    points = _ledger().series(exp.id, "loss")
                    if exp.status == "running" and points:
                        live_loss = points
            except Exception:  # the demo creates the tables while we look
                pass
            del db
        time.sleep(0.5)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output[-4000:]
    assert live_loss, "no loss reached the ledger while the training job was running"

    (train,) = _by_name("ranges-sft")
    loss = _ledger().series(train.id, "loss")
    assert train.status == "succeeded" and len(loss) >= 3
    assert loss[-1].value < loss[0].value / 2, [p.value for p in loss]
    assert {"learning_rate", "grad_norm", "tokens_per_s"} <= set(train.final_metrics)
    assert Path(train.artifacts[0]).name == "final" and Path(train.artifacts[0]).is_dir()

    # The synthetic set is a ledger data artifact, and the training run's lineage shows it.
    artifacts = DataArtifacts(store())
    (synthetic,) = artifacts.all()
    assert synthetic.card["counts"]["invalid"] > 0 and synthetic.card["counts"]["kept"] > 400
    assert synthetic.id in {a.id for a in artifacts.lineage(train)}
    assert (ws / "data" / "synthetic.jsonl.card.md").read_text().startswith("# number-ranges")

    (base,) = _by_name("eval baseline")
    (trained,) = _by_name("eval trained")
    for exp in (base, trained):
        c = exp.config
        assert c["benchmark"] == "eval.jsonl" and c["benchmark_version"].startswith("sha256:")
        assert c["model_fingerprint"].startswith("sha256:") and c["decoding"]["do_sample"] is False
        assert exp.final_metrics["n"] == 120
        assert exp.final_metrics["accuracy_ci_low"] <= exp.final_metrics["accuracy"]
        assert exp.final_metrics["contamination"] == 0.0
        samples = next(a for a in exp.artifacts if a.endswith("samples.jsonl"))
        assert len(Path(samples).read_text().splitlines()) == 120
    assert base.config["model_fingerprint"] != trained.config["model_fingerprint"]
    # The tiny model learned the task: better than its untrained start beyond the CIs.
    assert trained.final_metrics["accuracy_ci_low"] > base.final_metrics["accuracy_ci_high"]
    assert trained.final_metrics["mcnemar_p"] < 0.05
    assert trained.is_best and "difference" in trained.conclusion
    assert "paired difference is" in output and "contamination check found no overlap" in output

    # intern eval-model on the trained model, with the evaluation set planted in the
    # training data: the contamination is detected, recorded and flagged.
    planted = ws / "data" / "leaky.jsonl"
    write_jsonl(planted, instruction_rows()[:40] + [
        {"question": r["input"], "choices": r["choices"], "answer": r["target"]}
        for r in eval_rows()[:30]])
    result = run_intern("eval-model", str(Path(train.artifacts[0])), "--task",
                        "data/eval.jsonl", "--limit", "30", "--max-tokens", "8",
                        "--train-data", "data/leaky.jsonl", "--workspace", str(ws),
                        env=env, cwd=ws, timeout=900)
    assert result.code == 3, result.output[-3000:]
    assert "FLAGGED" in result.output and "[95% CI" in result.output
    exp_id = re.search(r"recorded as experiment (\w+)", result.output)
    assert exp_id
    flagged = _ledger().get(exp_id.group(1))
    assert flagged.final_metrics["contamination"] > 0.1 and flagged.alerts
    shown = run_intern("runs", "show", flagged.id, env=env, cwd=ws)
    assert "model_fingerprint" in shown.output and "contamination" in shown.output


class SynthesisModel:
    """Calls synthesize until a result says it is done; answers generation requests."""

    def __init__(self, arguments: dict[str, Any], delay_s: float) -> None:
        self.arguments = arguments
        self.delay_s = delay_s
        self.generation_requests = 0

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        reply = synthesis_reply(body)
        if reply is not None:
            self.generation_requests += 1
            reply.delay_s = self.delay_s
            return reply
        tools = [str(m.get("content") or "") for m in body["messages"] if m["role"] == "tool"]
        if any(t.startswith("Synthesized") for t in tools):
            return Step(text="Done: the dataset is written.")
        return Step(text="Generating.", tool_calls=[{"name": "synthesize",
                                                     "arguments": self.arguments}])


@pytest.mark.timeout(900)
def test_synthesis_killed_midway_resumes_without_losing_anything(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_jsonl(ws / "data" / "eval.jsonl", eval_rows())
    arguments = {"name": "numbers", "task": "largest-number questions", "json_schema": SCHEMA,
                 "seed_examples": instruction_rows()[:3], "n": 120, "per_call": 1,
                 "output": "data/synth.jsonl", "decontaminate": ["data/eval.jsonl"],
                 "concurrency": 4, "upsample": 3}
    model = SynthesisModel(arguments, delay_s=0.05)
    raw = ws / "data" / ".synth.jsonl.parts" / "raw.jsonl"
    with ScriptedServer(model) as server:
        env = intern_env(server.base_url)
        process = subprocess.Popen(intern_argv("--workspace", str(ws), "make data"), env=env,
                                   cwd=ws, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if raw.exists() and len(raw.read_text().splitlines()) >= 40:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kept = {json.loads(line)["task"] for line in raw.read_text().splitlines()
                if line.endswith("}")}
        assert 40 <= len(kept) < 120, "the crash should come mid-way"
        assert not (ws / "data" / "synth.jsonl").exists()
        before = model.generation_requests
        result = run_intern("resume", "last", env=env, cwd=ws, timeout=300)
        assert result.code == 0, result.output[-3000:]
        after = model.generation_requests - before
    lines = raw.read_text().splitlines()
    tasks = [json.loads(line)["task"] for line in lines if line.endswith("}")]
    assert sorted(set(tasks)) == list(range(120)) and len(tasks) == len(set(tasks))
    assert after == 120 - len(kept), "the resume must redo no finished call"
    rows = (ws / "data" / "synth.jsonl").read_text().splitlines()
    (artifact,) = DataArtifacts(store()).all()
    counts = artifact.card["counts"]
    assert counts["calls"] == 120 and counts["written"] == len(rows) == 3 * counts["kept"]
    assert counts["invalid"] + counts["exact_duplicates"] > 0


class TrainingModel:
    """Starts a GRPO run with a constant reward and a DPO (LoRA) run, waits for both."""

    def __init__(self, grpo: dict[str, Any], dpo: dict[str, Any]) -> None:
        self.grpo, self.dpo = grpo, dpo
        # The job ids, as a model keeps them: after many waits the first tool results
        # are masked out of the context (the prompt economy), so they are noted here.
        self.jobs: list[str] = []
        self.states: dict[str, str] = {}

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        tools = [str(m.get("content") or "") for m in body["messages"] if m["role"] == "tool"]
        if not tools:
            return Step(tool_calls=[{"name": "train", "arguments": self.grpo},
                                    {"name": "train", "arguments": self.dpo}])
        jobs = self.jobs = self.jobs or [
            m.group(1) for t in tools if (m := re.search(r"job (\S+); config", t))]
        if len(jobs) < 2:
            return Step(text="could not start: " + " | ".join(tools)[-500:])
        waits = [t for t in tools if t.startswith("wait returned")]
        if waits:  # the newest wait's states; older ones may be masked by now
            self.states.update(re.findall(r"local:(\S+) (\w+)", waits[-1]))
        states = self.states
        # Wait for the runs still going: a wait returns as soon as one of its jobs has
        # finished, so one that ended already would make every wait return at once.
        pending = [j for j in jobs if states.get(j) not in TERMINAL]
        if len(waits) < 60 and pending:
            return Step(tool_calls=[{"name": "jobs", "arguments": {
                "operation": "wait", "job_ids": pending, "wait_timeout_s": 60}}])
        return Step(text="Both runs are over.")


@pytest.mark.timeout(1200)
def test_grpo_reward_collapse_alert_stops_the_run_and_dpo_lora_trains(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    prompts = [{"prompt": [{"role": "user", "content": TEMPLATE.format(
        question=r["input"], choices="\n".join(f"{'ABCD'[i]}) {c}"
                                               for i, c in enumerate(r["choices"])))}],
        "answer": r["target"]} for r in eval_rows(64)]
    write_jsonl(ws / "data" / "prompts.jsonl", prompts)
    write_jsonl(ws / "data" / "prefs.jsonl", [
        {"prompt": p["prompt"], "chosen": [{"role": "assistant", "content": f"ANSWER: {a}"}],
         "rejected": [{"role": "assistant", "content": "ANSWER: " + ("A" if a != "A" else "B")}]}
        for p, a in ((p, p["answer"]) for p in prompts)])
    tiny = {"vocab_size": 300, "hidden_size": 64, "layers": 1, "heads": 2}
    grpo = {"recipe": "grpo", "name": "grpo-constant", "dataset": ["data/prompts.jsonl"],
            "init": tiny, "reward": "constant", "hyperparameters": {
                "max_steps": 200, "batch_size": 4, "num_generations": 4,
                "max_completion_length": 6, "logging_steps": 1, "learning_rate": 1e-4}}
    dpo = {"recipe": "dpo", "name": "dpo-small", "dataset": ["data/prefs.jsonl"], "init": tiny,
           "lora": {"r": 4, "lora_alpha": 8},
           "hyperparameters": {"max_steps": 8, "batch_size": 8, "logging_steps": 2,
                               "learning_rate": 1e-3, "max_length": 96}}
    with ScriptedServer(TrainingModel(grpo, dpo)) as server:
        result = run_intern("--workspace", str(ws), "train", env=intern_env(server.base_url),
                            cwd=ws, timeout=900)
    assert result.code == 0, result.output[-3000:]
    (run,) = _by_name("grpo-constant")
    assert run.status == "cancelled" and "stopped early by an alert" in run.status_detail
    assert any("reward_std" in a and "no gradient" in a for a in run.alerts), run.alerts
    spread = _ledger().series(run.id, "reward_std")
    assert len(spread) >= 5 and all(p.value == 0.0 for p in spread)
    assert max(p.step for p in spread) < 200
    (pref,) = _by_name("dpo-small")
    assert pref.status == "succeeded", pref.status_detail
    assert _ledger().series(pref.id, "loss")
    final = Path(pref.artifacts[0])
    assert (final / "config.json").exists()  # the LoRA adapter merged into a full model
    assert (final.parent / "adapter" / "adapter_config.json").exists()


def test_push_to_hub_waits_for_approval(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "model").mkdir(parents=True)
    (ws / "model" / "config.json").write_text("{}")
    steps = [Step(tool_calls=[{"name": "push_to_hub", "arguments": {
        "path": "model", "repo_id": "someone/tiny"}}]), Step(text="ok")]
    with ScriptedServer(lambda body, i: steps[i] if i < len(steps) else None) as server:
        env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                         HF_TOKEN="hf_notarealtokenbutlongenough")
        result = run_intern("--workspace", str(ws), "publish it", env=env, cwd=ws)
        tool_results = [m["content"] for r in server.requests for m in r["messages"]
                        if m["role"] == "tool"]
    assert result.code == 0, result.output[-2000:]
    assert tool_results and "approv" in tool_results[-1].lower()
    assert "private" in tool_results[-1] or "someone/tiny" in tool_results[-1]
