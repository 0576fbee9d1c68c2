"""Evaluate a model on a benchmark with inspect_ai; the job side of the ``evaluate`` tool.

    python recipes/evaluate.py --spec evals/<id>/spec.json

The spec (JSON) names the model (``hf/<folder or Hub id>`` for transformers, or any
inspect_ai model id such as ``openai-api/<name>/<model>`` for an endpoint), the task (a
local JSONL/CSV file with ``kind`` mc / exact / judged, or a registry name such as
``inspect_evals/gpqa_diamond``), limit, seed, decoding (temperature, max_tokens,
do_sample, top_p), template, few-shot examples, chain of thought and judge. It writes
``result.json`` (accuracy, n, correct), ``samples.jsonl`` (one scored sample per line)
and the inspect log under ``log/``, and reports accuracy and samples/s as metrics.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from statistics import NormalDist
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MC_TEMPLATE, log_metrics  # type: ignore[import-not-found]

COT_SUFFIX = "\n\nThink step by step before answering."
_MAX_TEXT = 2000


def _score(value: Any) -> float:
    """inspect_ai's score values as numbers: C(orrect)=1, P(artial)=0.5, I(ncorrect)=0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}.get(str(value), 0.0)


def _local_task(spec: dict[str, Any]) -> Any:
    from inspect_ai import Task
    from inspect_ai.dataset import FieldSpec, csv_dataset, json_dataset
    from inspect_ai.scorer import choice, exact, model_graded_qa
    from inspect_ai.solver import chain_of_thought, generate, multiple_choice, system_message

    path = spec["task"]
    fields = FieldSpec(input=spec.get("input_field", "input"),
                       target=spec.get("target_field", "target"),
                       choices=spec.get("choices_field", "choices"),
                       id=spec.get("id_field", "id"))
    if str(path).endswith(".csv"):
        dataset = csv_dataset(path, fields, shuffle=False)
    else:
        dataset = json_dataset(path, fields, shuffle=False)
    kind = spec.get("kind", "mc")
    solvers: list[Any] = []
    if spec.get("system_prompt"):
        solvers.append(system_message(spec["system_prompt"]))
    if kind == "mc":
        template = spec.get("template") or MC_TEMPLATE
        if spec.get("cot"):
            template += COT_SUFFIX
        solvers.append(multiple_choice(template=template))
        scorer = choice()
    else:
        if spec.get("cot"):
            solvers.append(chain_of_thought())
        solvers.append(generate())
        scorer = model_graded_qa(model=spec.get("judge")) if kind == "judged" else exact()
    return Task(dataset=dataset, solver=solvers, scorer=scorer, name=Path(path).stem)


def _few_shot(spec: dict[str, Any]) -> str | None:
    shots = spec.get("few_shot") or []
    if not shots:
        return None
    lines = ["Examples:"]
    for shot in shots:
        lines.append(f"Q: {shot.get('input', '')}\nA: {shot.get('target', '')}")
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation described by ``--spec``; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    out = Path(spec.get("out_dir") or args.spec.parent)
    out.mkdir(parents=True, exist_ok=True)
    from inspect_ai import eval as inspect_eval

    few = _few_shot(spec)
    if few:
        spec["system_prompt"] = "\n\n".join(p for p in (spec.get("system_prompt"), few) if p)
    task: Any = spec["task"] if spec.get("registry") else _local_task(spec)
    decoding = dict(spec.get("decoding") or {})
    model_args = dict(spec.get("model_args") or {})
    # Sampling on/off is a model argument of inspect's hf provider (which samples by
    # default), not a generation setting; other providers are greedy at temperature 0.
    do_sample = decoding.pop("do_sample", None)
    if str(spec["model"]).startswith("hf/") and do_sample is not None:
        model_args.setdefault("do_sample", bool(do_sample))
    started = time.perf_counter()
    logs = inspect_eval(
        task, model=spec["model"], model_args=model_args, limit=spec.get("limit"),
        seed=spec.get("seed"), log_dir=str(out / "log"), display="none",
        log_format="json", max_samples=spec.get("max_samples"),
        **{k: v for k, v in decoding.items() if v is not None},
        **({"model_base_url": spec["model_base_url"]} if spec.get("model_base_url") else {}),
        **dict((spec.get("task_args") and {"task_args": spec["task_args"]}) or {}),
    )
    seconds = time.perf_counter() - started
    log = logs[0]
    samples = []
    for sample in log.samples or []:
        scores = sample.scores or {}
        first = next(iter(scores.values()), None)
        samples.append({
            "id": sample.id, "epoch": sample.epoch,
            "input": str(sample.input if isinstance(sample.input, str)
                         else json.dumps([m.text for m in sample.input]))[:_MAX_TEXT],
            "target": sample.target, "output": (sample.output.completion or "")[:_MAX_TEXT],
            "answer": first.answer if first else None,
            "score": _score(first.value) if first else 0.0,
        })
    with open(out / "samples.jsonl", "w", encoding="utf-8") as handle:
        for row in samples:
            handle.write(json.dumps(row, default=str) + "\n")
    n = len(samples)
    correct = sum(s["score"] for s in samples)
    accuracy = correct / n if n else math.nan
    z = NormalDist().inv_cdf(0.975)
    result = {
        "status": log.status, "error": str(log.error.message) if log.error else None,
        "n": n, "correct": correct, "accuracy": accuracy, "seconds": seconds,
        "samples_per_s": n / seconds if seconds > 0 else 0.0,
        "scorer": log.results.scores[0].name if log.results and log.results.scores else None,
        "log_file": str(log.location), "z": z,
        "task_version": getattr(log.eval, "task_version", None),
        "inspect_version": getattr(log.eval.packages, "get", lambda _k: None)("inspect_ai"),
    }
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
    if log.status != "success":
        print(f"openintern: evaluation {log.status}: {result['error']}", file=sys.stderr)
        return 1
    log_metrics(1, accuracy=accuracy, n=float(n), correct=float(correct),
                samples_per_s=result["samples_per_s"], eval_seconds=seconds)
    print(f"openintern: accuracy {accuracy:.4f} on {n} samples ({seconds:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
