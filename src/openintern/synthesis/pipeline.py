"""From raw generations to a dataset: parse → validate → deduplicate → decontaminate →
upsample → write (JSONL or Parquet) with a data card, counting what each step dropped."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openintern.evaluation.contamination import TextIndex, text_of, words
from openintern.synthesis.generator import GenerationRun
from openintern.synthesis.spec import SynthesisSpec

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


@dataclass
class Counts:
    """How many examples each step received and dropped."""

    calls: int = 0
    candidates: int = 0
    unparsable_replies: int = 0
    invalid: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    contaminated: int = 0
    kept: int = 0
    written: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain data."""
        return dict(self.__dict__)


@dataclass
class SynthesisResult:
    """The written dataset and its provenance."""

    path: Path
    card_path: Path
    counts: Counts
    rows: list[dict[str, Any]] = field(default_factory=list)


def parse_reply(text: str) -> list[Any] | None:
    """The JSON array (or single object) in a reply, or None when there is none."""
    body = _FENCE.sub("", text.strip())
    start, end = body.find("["), body.rfind("]")
    candidates = [body[start:end + 1]] if 0 <= start < end else []
    candidates.append(body)
    for chunk in candidates:
        try:
            data = json.loads(chunk)
        except json.JSONDecodeError:
            continue
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            return [data]
    return None


def validate(examples: list[Any], schema: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The examples that match ``schema`` and how many did not."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    ok = [e for e in examples if isinstance(e, dict) and validator.is_valid(e)]
    return ok, len(examples) - len(ok)


def deduplicate(rows: list[dict[str, Any]], near_threshold: float
                ) -> tuple[list[dict[str, Any]], int, int]:
    """Drop exact duplicates (canonical JSON) then near duplicates (MinHash LSH over the
    rows' text); returns (kept, exact dropped, near dropped)."""
    from datasketch import MinHashLSH

    from openintern.evaluation.contamination import _minhash

    seen: set[str] = set()
    unique = []
    for row in rows:
        key = json.dumps(row, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    exact = len(rows) - len(unique)
    lsh = MinHashLSH(threshold=near_threshold, num_perm=64)
    signatures: dict[str, Any] = {}
    kept = []
    for i, row in enumerate(unique):
        tokens = words(text_of(row))
        if not tokens:
            kept.append(row)
            continue
        signature = _minhash(tokens)
        # LSH proposes candidates; only a checked estimate above the threshold counts.
        if any(signature.jaccard(signatures[k]) >= near_threshold
               for k in lsh.query(signature)):
            continue
        signatures[str(i)] = signature
        lsh.insert(str(i), signature, check_duplication=False)
        kept.append(row)
    return kept, exact, len(unique) - len(kept)


def eval_texts_of(paths: list[Path]) -> list[str]:
    """The texts of evaluation sets to decontaminate against (every row of every file,
    plain and with lettered choices)."""
    from openintern.training.recipes.common import read_rows

    texts: list[str] = []
    for path in paths:
        for row in read_rows(path):
            texts.append(text_of(row))
    return texts


def decontaminate(rows: list[dict[str, Any]], eval_texts: list[str]
                  ) -> tuple[list[dict[str, Any]], int]:
    """Drop rows that share a 13-gram with, equal, or nearly equal an evaluation sample."""
    if not eval_texts:
        return rows, 0
    index = TextIndex(eval_texts, near_threshold=0.8)
    kept = [r for r in rows if not any(index.hits(text_of(r)))]
    return kept, len(rows) - len(kept)


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """JSONL, or Parquet when the name ends in .parquet (atomically: temp file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), tmp)
    else:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def build_dataset(spec: SynthesisSpec, run: GenerationRun, output: Path,
                  eval_paths: list[Path], generator: str) -> SynthesisResult:
    """Everything after generation, in order; writes the dataset and its card."""
    counts = Counts(calls=len(run.replies))
    examples: list[Any] = []
    for index in sorted(run.replies):
        parsed = parse_reply(run.replies[index])
        if parsed is None:
            counts.unparsable_replies += 1
            continue
        examples += parsed
    counts.candidates = len(examples)
    valid, counts.invalid = validate(examples, spec.json_schema)
    unique, counts.exact_duplicates, counts.near_duplicates = deduplicate(
        valid, spec.near_dup_threshold)
    clean, counts.contaminated = decontaminate(unique, eval_texts_of(eval_paths))
    counts.kept = len(clean)
    rows = [row for row in clean for _ in range(spec.upsample)]
    counts.written = len(rows)
    write_rows(output, rows)
    card = output.with_name(output.name + ".card.md")
    card.write_text(data_card(spec, run, counts, generator, eval_paths), encoding="utf-8")
    return SynthesisResult(output, card, counts, rows)


def data_card(spec: SynthesisSpec, run: GenerationRun, counts: Counts, generator: str,
              eval_paths: list[Path]) -> str:
    """A markdown data card: how the set was made and what was dropped where."""
    from openintern.synthesis.spec import SYSTEM_PROMPT, USER_PROMPT

    rows = "\n".join(f"| {k.replace('_', ' ')} | {v} |" for k, v in counts.as_dict().items())
    axes = "; ".join(f"{k}: {', '.join(v)}" for k, v in spec.axes.items()) or "none"
    return f"""# {spec.name} (synthetic)

{spec.task}

- generator model: `{generator}` (provider-default sampling), seed {spec.seed}
- requested: {spec.n} candidates, {spec.per_call} per call, {spec.shots} seed examples shown
  per call (of {len(spec.seed_examples)} given); diversity axes: {axes}
- upsampled ×{spec.upsample}; decontaminated against: \
{', '.join(str(p) for p in eval_paths) or 'nothing'}
- cost: ${run.usage.cost_usd:.4f} ({run.usage.prompt_tokens} prompt + \
{run.usage.completion_tokens} completion tokens)
- spec fingerprint: {spec.fingerprint()}

| step | count |
| --- | --- |
{rows}

## Prompts

System:

```
{SYSTEM_PROMPT}
```

User:

```
{USER_PROMPT}
```

## Schema

```json
{json.dumps(spec.json_schema, indent=1)}
```
"""
