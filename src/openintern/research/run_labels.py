"""Names that tell runs apart. A sweep gives all its runs one name ("digits-classifier"
ten times); a run's label is what distinguishes it among the runs sharing that name: the
configuration values that vary among them and the seed (``svm · seed 3``,
``lr=0.1, depth=3 · seed 0``). Runs with a name of their own keep it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from openintern.research.ledger import ExperimentRecord


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def varying_keys(records: Sequence[ExperimentRecord]) -> list[str]:
    """The configuration keys (seed aside) whose values differ among ``records``."""
    keys = sorted({k for r in records for k in r.config if k != "seed"})
    out = []
    for key in keys:
        seen = {json.dumps(r.config.get(key), sort_keys=True, default=str) for r in records}
        if len(seen) > 1:
            out.append(key)
    return out


def config_text(config: dict[str, object], keys: Sequence[str] | None = None) -> str:
    """``key=value`` pairs of ``config`` (only ``keys`` when given, seed left out); a lone
    string value stands for itself (``svm`` rather than ``model=svm``)."""
    chosen = [k for k in (keys if keys is not None else sorted(config)) if k != "seed"]
    if len(chosen) == 1 and isinstance(config.get(chosen[0]), str):
        return str(config[chosen[0]])
    return ", ".join(f"{k}={_value(config.get(k))}" for k in chosen)


@dataclass
class RunName:
    """How to name one run: ``label`` among its siblings, ``title`` on its own."""

    label: str  # what tells it apart from the runs sharing its name
    title: str  # name and label, for places without the group around it
    group: str  # the runs sharing its name (sweep) and configuration belong together


def run_names(records: Sequence[ExperimentRecord]) -> dict[str, RunName]:
    """A :class:`RunName` for every record, by id, computed among ``records``."""
    by_name: dict[str, list[ExperimentRecord]] = {}
    for r in records:
        by_name.setdefault(r.sweep_id or r.name or r.id, []).append(r)
    out: dict[str, RunName] = {}
    for siblings in by_name.values():
        keys = varying_keys(siblings)
        seeds = {r.seed for r in siblings}
        for r in siblings:
            parts = [config_text(r.config, keys)] if keys else []
            if len(seeds) > 1 and r.seed is not None:
                parts.append(f"seed {r.seed}")
            if len(siblings) > 1 and not parts:
                parts.append(r.id[:6])  # identical runs: only the id tells them apart
            label = " · ".join(p for p in parts if p) or r.name or r.id
            base = r.name or r.id
            title = base if label == base else f"{base} · {label}"
            group = f"{r.sweep_id or r.name}|{r.config_key}"
            out[r.id] = RunName(label, title, group)
    return out
