"""A session's conclusion as report text: the last thing the assistant said, with every
number that is a result linked to where it comes from: a configuration's mean, CI
half-width or p-value to that configuration's row (which lists its runs), a run's final
metric to the run."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from openintern.llm.types import Message
from openintern.research.ledger import ExperimentRecord
from openintern.web.config_stats import ConfigRow

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


def _row_for(token: str, percent: bool, rows: Sequence[ConfigRow]) -> tuple[ConfigRow, str] | None:
    """The configuration row (and what the number is of it) whose mean, ± half-width or
    p-value, written with the token's decimals, is the token."""
    decimals = len(token.split(".")[1])
    target = float(token)
    for row in rows:
        if row.n < 2:  # one seed: its run is the better target (the run link below)
            continue
        for what, value in (("mean", row.mean), ("± half-width", row.half_width),
                            ("p-value vs baseline", row.p_value)):
            if value is None or not math.isfinite(value):
                continue
            shown = [value * 100] if percent else [value]
            if any(round(v, decimals) == target for v in shown):
                return row, what
    return None


def link_numbers(text: str, records: Sequence[ExperimentRecord],
                 configs: Sequence[ConfigRow] = ()) -> Markup:
    """``text`` escaped, with numbers linked: to the configuration row (``#anchor``) they
    are the mean, half-width or p-value of, else to the run whose final metric they are."""
    out: list[str] = []
    last = 0
    for match in _NUMBER.finditer(text):
        token, percent = match.group(1), bool(match.group(2))
        link = None
        row = _row_for(token, percent, configs)
        if row is not None:
            config, what = row
            runs = ", ".join(config.experiment_ids)
            link = (f'<a href="#{escape(config.anchor)}" class="metric-link config-link" '
                    f'title="{escape(config.label)}: {escape(what)} of {escape(config.metric)} '
                    f'over n={config.n} (runs {escape(runs)})">')
        else:
            found = _run_for(token, percent, records)
            if found is not None:
                record, metric = found
                link = (f'<a href="/experiments/{escape(record.id)}" class="metric-link" '
                        f'title="{escape(record.name)}: {escape(metric)}">')
        if link is None:
            continue
        out.append(str(escape(text[last:match.start()])))
        out.append(f"{link}{escape(match.group(0))}</a>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
