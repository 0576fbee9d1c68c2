"""Reward functions for the GRPO recipe, chosen by name (``"reward": "mc_letter"``) or
given as ``"file.py:function"`` from the workspace.

TRL calls each with the batch's ``completions`` (strings, or message lists for
conversational data) and every dataset column as a keyword argument; it returns one float
per completion.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

RewardFn = Callable[..., list[float]]
_ANSWER = re.compile(r"ANSWER\s*:\s*([A-Z])")


def completion_text(completion: Any) -> str:
    """The text of one completion (plain string or a list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def mc_letter(completions: list[Any], answer: list[str] | None = None, **_: Any) -> list[float]:
    """1 when the completion says ``ANSWER: <the right letter>``, else 0."""
    targets = answer or [""] * len(completions)
    out = []
    for completion, target in zip(completions, targets, strict=False):
        found = _ANSWER.search(completion_text(completion))
        out.append(1.0 if found and found.group(1) == str(target).strip() else 0.0)
    return out


def exact_answer(completions: list[Any], answer: list[str] | None = None, **_: Any
                 ) -> list[float]:
    """1 when the stripped completion equals the ``answer`` column, else 0."""
    targets = answer or [""] * len(completions)
    return [1.0 if completion_text(c).strip() == str(t).strip() else 0.0
            for c, t in zip(completions, targets, strict=False)]


def format_reward(completions: list[Any], **_: Any) -> list[float]:
    """1 when the completion has the ``ANSWER: X`` format at all (a shaping reward)."""
    return [1.0 if _ANSWER.search(completion_text(c)) else 0.0 for c in completions]


def constant(completions: list[Any], **_: Any) -> list[float]:
    """The same reward for everything: no learning signal (a collapsed reward; useful to
    check that the collapse alert fires)."""
    return [1.0 for _ in completions]


BUILTIN: dict[str, RewardFn] = {"mc_letter": mc_letter, "exact_answer": exact_answer,
                                "format": format_reward, "constant": constant}


def load_reward(spec: str) -> RewardFn:
    """A built-in reward by name, or ``path/to/file.py:function``."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py"):
        raise SystemExit(f"unknown reward {spec!r}: use one of {sorted(BUILTIN)} or "
                         "file.py:function")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"cannot load reward file {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SystemExit(f"{path} has no function {name}")
    return fn  # type: ignore[no-any-return]
