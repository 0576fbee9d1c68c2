"""Scores, paired comparisons, contamination and decontamination, reward-collapse alerts."""

from __future__ import annotations

import json
import random

import pytest

from openintern.compute.alerts import RewardCollapse, check_alerts, rules_from_spec
from openintern.compute.metrics import MetricPoint
from openintern.demo.llm_data import eval_rows, generated_examples, instruction_rows
from openintern.evaluation.contamination import check_contamination, text_of
from openintern.evaluation.stats import paired_comparison, wilson_interval
from openintern.synthesis.pipeline import decontaminate, deduplicate, parse_reply, validate


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    low, high = wilson_interval(0, 20)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.1611, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_paired_comparison_detects_a_real_difference_and_not_a_fake_one() -> None:
    rng = random.Random(0)
    a = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(300)]
    b = [1.0 if rng.random() < 0.7 else 0.0 for _ in range(300)]
    better = paired_comparison(a, b)
    assert better.significant and better.ci_low > 0 and better.difference > 0.3
    same = paired_comparison(a, list(a))
    assert same.p_value == 1.0 and same.difference == 0.0
    with pytest.raises(ValueError, match="different samples"):
        paired_comparison(a, b[:10])


def _eval_texts() -> list[list[str]]:
    return [["\n".join([r["input"], *r["choices"]])] for r in eval_rows()]


def test_planted_contamination_is_detected_and_clean_data_passes() -> None:
    train = [text_of(r) for r in instruction_rows()]
    clean = check_contamination(train, _eval_texts())
    assert clean.overlap == 0.0 and not clean.flagged
    planted = train + [text_of({"question": r["input"], "choices": r["choices"],
                                "answer": r["target"]}) for r in eval_rows()[:10]]
    report = check_contamination(planted, _eval_texts())
    assert report.ngram_hits == 10 and report.flagged
    assert "FLAGGED" in report.summary() and report.metrics()["contamination"] == 0.05


def test_long_texts_use_thirteen_grams() -> None:
    passage = " ".join(f"word{i}" for i in range(40))
    report = check_contamination([f"intro text {passage[:200]} and more"], [passage])
    assert report.ngram_hits == 1
    assert check_contamination(["totally different words here"], [passage]).ngram_hits == 0


def test_synthesis_steps_drop_what_they_should() -> None:
    from openintern.demo.llm_script import SCHEMA

    reply = "```json\n" + json.dumps(generated_examples("seed prompt", 200)) + "\n```"
    parsed = parse_reply(reply)
    assert parsed is not None and len(parsed) == 200
    assert parse_reply("I cannot help with that") is None
    valid, invalid = validate(parsed, SCHEMA)
    assert invalid > 0 and all(r["answer"] in "ABCD" for r in valid)
    unique, exact, _near = deduplicate(valid, 0.9)
    assert exact > 0 and len({json.dumps(r, sort_keys=True) for r in unique}) == len(unique)
    leaked = unique + [{"question": r["input"], "choices": r["choices"],
                        "answer": r["target"]} for r in eval_rows()[:5]]
    evals = [text_of(r) for r in eval_rows()]
    kept, dropped = decontaminate(leaked, evals)
    held_out = {r["input"] for r in eval_rows()}
    assert dropped >= 5 and len(kept) + dropped == len(leaked)
    assert not any(r["question"] in held_out for r in kept)


def _series(name: str, values: list[float]) -> list[MetricPoint]:
    return [MetricPoint(i, name, v, float(i)) for i, v in enumerate(values)]


def test_reward_collapse_fires_on_zero_spread_and_falling_mean_only() -> None:
    flat = check_alerts(_series("reward_std", [0.4, 0.3, 0, 0, 0, 0, 0]))
    assert [a.rule for a in flat] == ["reward_collapse"] and flat[0].stop
    assert check_alerts(_series("reward_std", [0.4, 0.3, 0, 0, 0.2, 0, 0])) == []
    falling = check_alerts(_series("reward", [1 - i / 20 for i in range(12)]))
    assert falling and "fell" in falling[0].message
    assert check_alerts(_series("reward", [0.5, 0.4, 0.6, 0.3] * 3)) == []
    rules = rules_from_spec([{"rule": "reward_collapse", "patience": 2, "stop": False}])
    assert rules == [RewardCollapse(patience=2, stop=False)]


def test_registry_benchmarks_are_wired_to_installed_inspect_evals_tasks(tmp_path) -> None:
    """The standard benchmarks download their data when they run, so only the wiring is
    tested offline: each name maps to a task function inspect_evals really has, and the
    recorded conditions name the installed release."""
    import ast
    import importlib.util
    from pathlib import Path

    from openintern.evaluation.conditions import REGISTRY
    from openintern.evaluation.runner import EvalRequest, build_conditions

    spec = importlib.util.find_spec("inspect_evals._registry")
    if spec is None or spec.origin is None:
        pytest.skip("inspect_evals is not installed (the llm extra)")
    tree = ast.parse(Path(spec.origin).read_text())
    exported = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    for short, full in REGISTRY.items():
        assert full.removeprefix("inspect_evals/") in exported, short
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    conditions, job = build_conditions(EvalRequest(model="m", task="gpqa_diamond"), tmp_path)
    assert job["registry"] and job["task"] == "inspect_evals/gpqa_diamond"
    assert conditions.benchmark_version.startswith("inspect_evals==0.")
    assert conditions.model_fingerprint.startswith("sha256:")
