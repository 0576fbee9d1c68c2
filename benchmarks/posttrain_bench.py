"""LLM post-training benchmark on this CPU: SFT tokens/s of the recipe on the tiny demo
model, evaluation samples/s of the evaluate recipe (inspect_ai, greedy), and synthesize
throughput against the scripted model server with 20 ms latency at concurrency 1 and 16.

Run: ``python benchmarks/posttrain_bench.py`` (a few minutes on 2 cores; needs the llm
extra). Training and evaluation run as plain subprocesses of the recipes (no sandbox), so
the figures are the recipes' own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from openintern.demo.llm_data import eval_rows, instruction_rows, mc_item, write_jsonl
from openintern.demo.llm_script import SCHEMA, TEMPLATE, synthesis_reply
from openintern.llm.client import LiteLLMClient
from openintern.llm.scripted import ScriptedServer
from openintern.synthesis.generator import GeneratorModel, generate
from openintern.synthesis.spec import SynthesisSpec, plan
from openintern.training.recipes import install_recipes

STEPS = 100
BATCH = 32
EVAL_SAMPLES = 200
SYNTH_CALLS = 120


def _run(argv: list[str], cwd: Path) -> str:
    env = {**os.environ, "OPENINTERN_TORCH_THREADS": str(os.cpu_count() or 1)}
    env.pop("OPENINTERN_METRICS", None)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def bench_sft(ws: Path) -> tuple[float, float, int]:
    """(tokens/s over the run, steady tokens/s from the callback, parameters)."""
    import random

    rng = random.Random(0)
    write_jsonl(ws / "train.jsonl", [mc_item(rng) for _ in range(STEPS * BATCH)])
    config = {"init": {"vocab_size": 512, "hidden_size": 128, "layers": 2, "heads": 4},
              "dataset": "train.jsonl", "template": TEMPLATE, "output_dir": "out",
              "learning_rate": 3e-3, "batch_size": BATCH, "max_steps": STEPS,
              "logging_steps": 10, "warmup_steps": 10, "max_length": 128}
    (ws / "sft.json").write_text(json.dumps(config))
    out = _run([sys.executable, "recipes/sft.py", "--config", "sft.json"], ws)
    records = [json.loads(line) for line in out.splitlines() if line.startswith('{"step"')]
    tokens = max(r.get("num_tokens", 0) for r in records)
    seconds = next(r["train_seconds"] for r in records if "train_seconds" in r)
    steady = [r["tokens_per_s"] for r in records if "tokens_per_s" in r][1:]
    params = 0
    for line in out.splitlines():
        if "scratch model (" in line:
            params = int(float(line.split("(")[1].split(" M")[0]) * 1e6)
    return tokens / seconds, sum(steady) / max(1, len(steady)), params


def bench_eval(ws: Path) -> tuple[float, float]:
    """(samples/s of the evaluation proper, accuracy) of the trained model."""
    write_jsonl(ws / "eval.jsonl", eval_rows(EVAL_SAMPLES))
    spec = {"model": f"hf/{(ws / 'out' / 'final').resolve()}", "task": str(ws / "eval.jsonl"),
            "kind": "mc", "template": TEMPLATE, "decoding": {"temperature": 0.0,
                                                             "max_tokens": 8,
                                                             "do_sample": False},
            "out_dir": str(ws / "eval-out")}
    (ws / "eval.json").write_text(json.dumps(spec))
    _run([sys.executable, "recipes/evaluate.py", "--spec", "eval.json"], ws)
    result = json.loads((ws / "eval-out" / "result.json").read_text())
    return float(result["samples_per_s"]), float(result["accuracy"])


async def _synth(base_url: str, ws: Path, concurrency: int) -> float:
    spec = SynthesisSpec(name="bench", task="largest-number questions", json_schema=SCHEMA,
                         seed_examples=instruction_rows()[:3], n=SYNTH_CALLS, per_call=1,
                         output=str(ws / "s.jsonl"), seed=concurrency)
    client = LiteLLMClient("openai/scripted", api_base=base_url, api_key="bench",
                           max_retries=0)
    raw = ws / f"raw-{concurrency}.jsonl"
    start = time.perf_counter()
    run = await generate(plan(spec), GeneratorModel(client, None, None), raw,
                         concurrency=concurrency)
    return len(run.replies) / (time.perf_counter() - start)


def bench_synthesis(ws: Path) -> dict[int, float]:
    """Examples/s (one per call) at concurrency 1 and 16, 20 ms server latency."""

    def responder(body: dict[str, object], index: int) -> object:
        reply = synthesis_reply(body)  # type: ignore[arg-type]
        if reply is not None:
            reply.delay_s = 0.02
        return reply

    out = {}
    with ScriptedServer(responder) as server:  # type: ignore[arg-type]
        asyncio.run(_synth(server.base_url, ws, 2))  # warm LiteLLM up
        for concurrency in (1, 16):
            out[concurrency] = asyncio.run(_synth(server.base_url, ws, concurrency))
    return out


def main() -> None:
    """Run the three benchmarks and print one table."""
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        install_recipes(ws)
        console.print("synthesis (scripted server, 20 ms latency)…")
        synth = bench_synthesis(ws)
        console.print(f"SFT recipe ({STEPS} steps × {BATCH})…")
        overall, steady, params = bench_sft(ws)
        console.print(f"evaluation ({EVAL_SAMPLES} samples)…")
        samples, accuracy = bench_eval(ws)
    table = Table(title=f"LLM post-training on this CPU ({os.cpu_count()} cores)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"SFT tokens/s, whole run ({params / 1e6:.2f} M params, {STEPS} steps)",
                  f"{overall:,.0f}")
    table.add_row("SFT tokens/s, steady (callback)", f"{steady:,.0f}")
    table.add_row(f"evaluation samples/s (greedy, {EVAL_SAMPLES} samples)", f"{samples:.1f}")
    table.add_row("  accuracy of that model", f"{accuracy:.3f}")
    table.add_row("synthesize examples/s, concurrency 1", f"{synth[1]:.1f}")
    table.add_row("synthesize examples/s, concurrency 16", f"{synth[16]:.1f}")
    table.add_row("  speed-up", f"{synth[16] / synth[1]:.1f}×")
    console.print(table)


if __name__ == "__main__":
    main()
