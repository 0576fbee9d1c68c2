"""Contamination check: does the training data contain the evaluation set?

Three measures per evaluation sample, computed over normalised text (lower case, words):

- **n-gram overlap** (the GPT-3 / lm-eval decontamination test): the sample shares at
  least one ``n``-gram (default 13 words) with the training data. A sample shorter than
  ``n`` words is tested with all of its words as one gram.
- **exact duplicate**: the normalised sample text occurs verbatim as a training item.
- **near duplicate**: MinHash (datasketch) estimated Jaccard similarity of word 3-shingles
  above ``near_threshold`` with some training item.

The report gives each figure as a share of the evaluation samples; ``flagged`` is true
when any share exceeds ``threshold``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"\w+")
DEFAULT_N = 13
DEFAULT_THRESHOLD = 0.01
_NUM_PERM = 64


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return _WORD.findall(text.lower())


def text_of(value: Any) -> str:
    """All strings inside a row or a value (message lists, dicts, choices), joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(text_of(v) for k, v in value.items() if k not in ("role", "id"))
    if isinstance(value, list | tuple):
        return "\n".join(text_of(v) for v in value)
    return ""


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of ``n``-grams (the whole sequence when it is shorter than ``n``)."""
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _shingles(tokens: Sequence[str], k: int = 3) -> set[str]:
    if len(tokens) < k:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def _minhash(tokens: Sequence[str]) -> Any:
    from datasketch import MinHash

    m = MinHash(num_perm=_NUM_PERM, seed=1)
    for s in _shingles(tokens):
        m.update(s.encode("utf-8"))
    return m


@dataclass
class ContaminationReport:
    """How much of an evaluation set the training data contains."""

    eval_samples: int
    train_items: int
    n: int
    ngram_hits: int
    exact_hits: int
    near_hits: int
    threshold: float
    near_threshold: float
    examples: list[str] = field(default_factory=list)  # a few contaminated eval samples

    @property
    def ngram_share(self) -> float:
        """Share of eval samples sharing an n-gram with the training data."""
        return self.ngram_hits / self.eval_samples if self.eval_samples else 0.0

    @property
    def exact_share(self) -> float:
        """Share of eval samples found verbatim in the training data."""
        return self.exact_hits / self.eval_samples if self.eval_samples else 0.0

    @property
    def near_share(self) -> float:
        """Share of eval samples with a near duplicate in the training data."""
        return self.near_hits / self.eval_samples if self.eval_samples else 0.0

    @property
    def overlap(self) -> float:
        """The headline figure: the largest of the three shares."""
        return max(self.ngram_share, self.exact_share, self.near_share)

    @property
    def flagged(self) -> bool:
        """Whether the overlap exceeds the threshold."""
        return self.overlap > self.threshold

    def metrics(self) -> dict[str, float]:
        """The figures as ledger metrics."""
        return {"contamination": self.overlap,
                f"contamination_{self.n}gram": self.ngram_share,
                "contamination_exact": self.exact_share,
                "contamination_near_dup": self.near_share}

    def summary(self) -> str:
        """One paragraph for the model and the report."""
        head = (f"contamination check: {self.ngram_hits}/{self.eval_samples} eval samples "
                f"({self.ngram_share:.1%}) share a {self.n}-gram with the {self.train_items} "
                f"training items; exact duplicates {self.exact_hits} ({self.exact_share:.1%}), "
                f"near duplicates (MinHash Jaccard ≥ {self.near_threshold:g}) {self.near_hits} "
                f"({self.near_share:.1%}).")
        if not self.flagged:
            return head + f" Below the {self.threshold:.1%} threshold: clean."
        shown = "; ".join(e[:120] for e in self.examples[:3])
        return (head + f" FLAGGED: {self.overlap:.1%} exceeds the {self.threshold:.1%} "
                f"threshold — a score on this set may be inflated by training on it. "
                f"Examples: {shown}")


class TextIndex:
    """Texts indexed for the three tests: n-grams (and short texts whole), exact
    normalised texts, and MinHash signatures in an LSH index."""

    def __init__(self, texts: Sequence[str], *, n: int = DEFAULT_N,
                 near_threshold: float = 0.8) -> None:
        from datasketch import MinHashLSH

        self.n = n
        self.near_threshold = near_threshold
        self._tokens = [t for t in (words(x) for x in texts) if t]
        self._grams: set[tuple[str, ...]] = set()
        self._short: dict[int, set[tuple[str, ...]]] = {}
        self._windows: dict[int, set[tuple[str, ...]]] = {}
        self._exact: set[str] = set()
        self._lsh = MinHashLSH(threshold=near_threshold, num_perm=_NUM_PERM)
        self._signatures: list[Any] = []
        for i, tokens in enumerate(self._tokens):
            if len(tokens) < n:
                self._short.setdefault(len(tokens), set()).add(tuple(tokens))
            else:
                self._grams |= ngrams(tokens, n)
            self._exact.add(" ".join(tokens))
            signature = _minhash(tokens)
            self._signatures.append(signature)
            self._lsh.insert(str(i), signature, check_duplication=False)

    def __len__(self) -> int:
        return len(self._tokens)

    def _windows_of(self, length: int) -> set[tuple[str, ...]]:
        # Every window of this length in the indexed texts (for queries shorter than n).
        if length not in self._windows:
            found: set[tuple[str, ...]] = set()
            for tokens in self._tokens:
                found |= ngrams(tokens, length) if len(tokens) >= length else set()
            self._windows[length] = found
        return self._windows[length]

    def ngram_hit(self, tokens: Sequence[str]) -> bool:
        """Whether ``tokens`` share an n-gram with the index (a query shorter than n must
        occur whole; a short indexed text must occur whole inside the query)."""
        if not tokens:
            return False
        if len(tokens) < self.n:
            if tuple(tokens) in self._windows_of(len(tokens)):
                return True
        elif ngrams(tokens, self.n) & self._grams:
            return True
        return any(ngrams(tokens, length) & short for length, short in self._short.items()
                   if length <= len(tokens))

    def exact_hit(self, tokens: Sequence[str]) -> bool:
        """Whether the normalised text is indexed verbatim."""
        return " ".join(tokens) in self._exact

    def near_hit(self, tokens: Sequence[str]) -> bool:
        """Whether a near duplicate (estimated Jaccard at or above the threshold) is
        indexed. LSH only proposes candidates; each is checked against its signature."""
        if not tokens or not self._tokens:
            return False
        signature = _minhash(tokens)
        return any(signature.jaccard(self._signatures[int(key)]) >= self.near_threshold
                   for key in self._lsh.query(signature))

    def hits(self, text: str) -> tuple[bool, bool, bool]:
        """(n-gram, exact, near) for one text."""
        tokens = words(text)
        return self.ngram_hit(tokens), self.exact_hit(tokens), self.near_hit(tokens)


def check_contamination(train_texts: Sequence[str], eval_samples: Sequence[str | Sequence[str]],
                        *, n: int = DEFAULT_N, threshold: float = DEFAULT_THRESHOLD,
                        near_threshold: float = 0.8) -> ContaminationReport:
    """Compare every evaluation sample against all training texts (see module doc). A
    sample may be given as several text variants (e.g. plain and as rendered in a prompt);
    it counts as contaminated when any variant is."""
    index = TextIndex(train_texts, n=n, near_threshold=near_threshold)
    ngram_hits = exact_hits = near_hits = 0
    examples: list[str] = []
    for sample in eval_samples:
        variants = [sample] if isinstance(sample, str) else list(sample)
        found = [index.hits(v) for v in variants]
        hit, is_exact, is_near = (any(f[i] for f in found) for i in range(3))
        ngram_hits += hit
        exact_hits += is_exact
        near_hits += is_near
        if (hit or is_exact or is_near) and len(examples) < 5:
            examples.append(" ".join(variants[0].split()))
    return ContaminationReport(len(eval_samples), len(index), n, ngram_hits, exact_hits,
                               near_hits, threshold, near_threshold, examples)
