"""The test conditions of an evaluation: what a reader needs to trust (or redo) a score.

They are recorded as the experiment's config in the ledger, beside the result, so two
numbers are only compared when they were measured the same way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

#: Standard benchmarks of inspect_evals (they download their data when they run).
REGISTRY: dict[str, str] = {
    "gpqa_diamond": "inspect_evals/gpqa_diamond",
    "healthbench": "inspect_evals/healthbench",
    "mmlu_pro": "inspect_evals/mmlu_pro",
    "math": "inspect_evals/math",
    "aime2024": "inspect_evals/aime2024",
    "gsm8k": "inspect_evals/gsm8k",
}

TaskKind = Literal["mc", "exact", "judged"]


class Decoding(BaseModel):
    """Decoding parameters (greedy by default: scores are then reproducible)."""

    temperature: float | None = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(16, ge=1, le=32_768)
    do_sample: bool | None = False
    top_p: float | None = Field(None, gt=0, le=1)


class EvalConditions(BaseModel):
    """Everything the score depends on besides the model's weights."""

    benchmark: str
    benchmark_version: str
    split: str = "test"
    n: int | None = None                    # samples evaluated (None until known)
    limit: int | None = None
    kind: TaskKind | Literal["registry"] = "mc"
    template: str = "default"
    few_shot: int = 0
    chain_of_thought: bool = False
    decoding: Decoding = Field(default_factory=Decoding)
    seed: int = 0
    judge: str | None = None
    model: str
    model_fingerprint: str

    def as_config(self) -> dict[str, Any]:
        """Plain data for the ledger's config column."""
        return self.model_dump(mode="json")


def file_version(path: Path) -> str:
    """A local benchmark's version: the sha256 of its file (first 16 hex digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:16]


def registry_version(name: str) -> str:
    """A registry benchmark's version: the installed inspect_evals release."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"inspect_evals=={version('inspect_evals')}"
    except PackageNotFoundError:
        return "inspect_evals (not installed)"


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja")


def model_fingerprint(model: str, workspace: Path, revision: str | None = None) -> str:
    """A checkpoint folder: sha256 over its weight, config and tokenizer files (by name and
    content); a Hub id: its revision (as given; 'main' is a moving target and says so);
    an endpoint model: its id."""
    path = Path(model) if Path(model).is_absolute() else workspace / model
    if path.is_dir():
        digest = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and p.suffix in _WEIGHT_SUFFIXES and "checkpoint-" not in str(
                           p.relative_to(path)))
        if not files:
            raise ValueError(f"{path} has no model files (config.json, *.safetensors); "
                             "give the folder a trainer saved with save_pretrained")
        for f in files:
            digest.update(str(f.relative_to(path)).encode() + b"\0")
            digest.update(f.read_bytes())
        return "sha256:" + digest.hexdigest()[:16]
    if revision:
        return f"hub:{model}@{revision}"
    if "/" in model and not model.startswith(("openai", "anthropic", "hf/")):
        return f"hub:{model}@main (unpinned: pass a revision)"
    return f"endpoint:{model}"


def condition_key(config: dict[str, Any]) -> str:
    """The conditions without the model: two evaluations are comparable when equal."""
    clean = {k: v for k, v in config.items()
             if k not in ("model", "model_fingerprint", "n")}
    return json.dumps(clean, sort_keys=True, default=str)
