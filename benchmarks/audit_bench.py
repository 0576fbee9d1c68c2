"""Wall time of the local dataset audit on a 1,000,000-row Parquet dataset.

Generates train.parquet (1,000,000 rows) and test.parquet (100,000 rows) in a temporary
folder, with planted exact duplicates, near duplicates (case/punctuation variants) and
test rows copied from train, then times ``audit_dataset`` and checks it found the plants.
Target: under 10 s on a 2-core machine.

Run: ``python benchmarks/audit_bench.py [--rows N]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from openintern.data.audit import AuditOptions, audit_dataset

WORDS = np.array([
    "the", "a", "model", "data", "train", "test", "loss", "token", "layer", "batch",
    "learning", "rate", "gradient", "attention", "head", "vector", "score", "label", "text",
    "image", "audio", "sample", "noise",
])


def _texts(rng: np.random.Generator, n: int, offset: int) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, 8))
    return [f"{' '.join(WORDS[row])} #{offset + i}" for i, row in enumerate(picks)]


def make_dataset(folder: Path, rows: int, seed: int = 0) -> dict[str, int]:
    """Write the two splits; return how many of each kind of problem were planted."""
    rng = np.random.default_rng(seed)
    test_rows = rows // 10
    train_text = _texts(rng, rows, 0)
    planted = {"exact_dups": rows // 1000, "near_dups": rows // 1000, "leaked": test_rows // 100}
    # Exact duplicates: copy earlier rows (text and label) over the last rows.
    exact = planted["exact_dups"]
    for i in range(exact):
        train_text[rows - 1 - i] = train_text[i]
    # Near duplicates: upper-cased, punctuated variants of other earlier rows.
    near = planted["near_dups"]
    for i in range(near):
        train_text[rows - 1 - exact - i] = train_text[exact + i].upper() + "!!"
    labels = rng.choice(np.array(["neg", "pos", "neutral"]), size=rows, p=[0.6, 0.3, 0.1])
    labels[rows - exact:] = labels[:exact][::-1]
    train = pa.table({
        "id": np.arange(rows),
        "text": train_text,
        "score": rng.normal(size=rows).round(4),
        "label": labels,
    })
    test_text = _texts(rng, test_rows, rows)
    for i in range(planted["leaked"]):
        test_text[i] = train_text[10 * exact + i]
    test = pa.table({
        "id": np.arange(rows, rows + test_rows),
        "text": test_text,
        "score": rng.normal(size=test_rows).round(4),
        "label": rng.choice(np.array(["neg", "pos", "neutral"]), size=test_rows),
    })
    pq.write_table(train, folder / "train.parquet")
    pq.write_table(test, folder / "test.parquet")
    return planted


def main() -> None:
    """Generate, audit, print a table of timings and findings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        planted = make_dataset(folder, args.rows)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        # Compare on text only: the random score column would otherwise make rows unique.
        report = audit_dataset(folder, AuditOptions(key_columns=["text"]))
        audited = time.perf_counter() - started
    train, test = report.splits[0], report.splits[1]
    overlap = report.overlaps[0]
    print("| step | value |\n|---|---:|")
    print(f"| rows (train + test) | {train.rows + test.rows:,} |")
    print(f"| generate Parquet (s) | {generated:.2f} |")
    print(f"| audit wall time (s) | {audited:.2f} |")
    print("| target (s) | 10.00 |")
    print(f"| near-duplicate train rows found / planted | "
          f"{train.near_duplicates:,} / {planted['exact_dups'] + planted['near_dups']:,} |")
    print(f"| leaked test rows found / planted | {overlap.near:,} / {planted['leaked']:,} |")
    if audited >= 10.0:
        raise SystemExit(f"audit took {audited:.1f} s, over the 10 s target")


if __name__ == "__main__":
    main()
