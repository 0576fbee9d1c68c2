"""A session's conclusion as report text: the last thing the assistant said, with every
number that is a run's result linked to that run."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from openintern.llm.types import Message
from openintern.research.ledger import ExperimentRecord

# Decimals only: integers in prose are mostly counts (epochs, seeds), not results.
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+)(%?)(?!\w|\.\d)")


def conclusion(messages: Sequence[Message]) -> str:
    """The last non-empty assistant text (the session's answer so far)."""
    for message in reversed(messages):
        if message.role == "assistant" and message.content.strip():
            return message.content.strip()
    return ""


def _run_for(token: str, percent: bool, records: Sequence[ExperimentRecord]
             ) -> tuple[ExperimentRecord, str] | None:
    """The run (and metric) whose final value, written with the token's decimals, is
    the token; ``percent`` also matches fractions shown as percentages."""
    decimals = len(token.split(".")[1])
    target = float(token)
    for record in records:
        for name, value in record.final_metrics.items():
            if not math.isfinite(value):
                continue
            shown = [value * 100] if percent else [value]
            if any(round(v, decimals) == target for v in shown):
                return record, name
    return None


def link_numbers(text: str, records: Sequence[ExperimentRecord]) -> Markup:
    """``text`` escaped, with numbers matching a run's final metric linked to the run."""
    out: list[str] = []
    last = 0
    for match in _NUMBER.finditer(text):
        found = _run_for(match.group(1), bool(match.group(2)), records)
        if found is None:
            continue
        record, metric = found
        out.append(str(escape(text[last:match.start()])))
        out.append(
            f'<a href="/experiments/{escape(record.id)}" class="metric-link" '
            f'title="{escape(record.name)}: {escape(metric)}">{escape(match.group(0))}</a>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
