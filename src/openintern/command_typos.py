"""A one-word "task" that is a mistyped command (``intern sesions``) should not start a
paid model session. Standard library only: it runs before every command."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insertions, deletions, substitutions and swaps
    of neighbours). Hand-written: the standard library has none, and one function is not
    worth a dependency."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def close_command(word: str, commands: Iterable[str]) -> str | None:
    """The command ``word`` most likely misspells, or None. Only single words count, and
    only within 1 edit for words of up to 4 letters, 2 edits for longer ones."""
    if not word or any(c.isspace() for c in word) or word.startswith("-"):
        return None
    lowered = word.lower()
    limit = 1 if len(lowered) <= 4 else 2
    best: tuple[int, str] | None = None
    for command in sorted(commands):
        if lowered == command:
            return None if word == command else command
        distance = edit_distance(lowered, command)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, command)
    return best[1] if best else None
