"""The local dataset audit finds planted problems in CSV, JSONL, Parquet and Arrow data."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_fixtures import make_ctx, run_tool

from openintern.data.audit import AuditOptions, DatasetLoadError, audit_dataset
from openintern.tools.base import ToolError
from openintern.tools.datasets import Datasets

# 12 training rows with planted problems:
# - ids 1/2: exact duplicate rows; id 3 a case/punctuation/whitespace variant of them;
# - ids 6/7: identical text with different labels;
# - id 9: missing text; 9 "pos" vs 3 "neg" labels (3:1 imbalance).
TRAIN = [
    (1, "The movie was great", "pos"),
    (2, "The movie was great", "pos"),
    (3, "the MOVIE,   was great!!", "pos"),
    (4, "Terrible plot and acting", "neg"),
    (5, "An instant classic", "pos"),
    (6, "Not bad at all", "pos"),
    (7, "Not bad at all", "neg"),
    (8, "Loved every minute", "pos"),
    (9, None, "pos"),
    (10, "Would watch again", "pos"),
    (11, "A waste of time", "neg"),
    (12, "Beautiful photography", "pos"),
]
# Test rows: 101 is an exact copy of train 4's text, 102 a near copy of train 11's.
TEST = [
    (101, "Terrible plot and acting", "neg"),
    (102, "a WASTE of time.", "neg"),
    (103, "Fresh unseen review", "pos"),
    (104, "Another new one", "neg"),
]


def _rows(rows: list[tuple[int, str | None, str]]) -> list[dict[str, object]]:
    return [{"id": i, "text": t, "label": label} for i, t, label in rows]


def write_csv(path: Path, rows: list[tuple[int, str | None, str]]) -> None:
    lines = ["id,text,label"]
    for i, text, label in rows:
        cell = "" if text is None else '"' + text.replace('"', '""') + '"'
        lines.append(f"{i},{cell},{label}")
    path.write_text("\n".join(lines) + "\n")


def write_jsonl(path: Path, rows: list[tuple[int, str | None, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(rows)))


def write_parquet(path: Path, rows: list[tuple[int, str | None, str]]) -> None:
    pq.write_table(pa.Table.from_pylist(_rows(rows)), path)


def write_save_to_disk(folder: Path) -> None:
    """The layout datasets.DatasetDict.save_to_disk writes: Arrow stream files per split."""
    (folder).mkdir()
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    for name, rows in (("train", TRAIN), ("test", TEST)):
        split = folder / name
        split.mkdir()
        table = pa.Table.from_pylist(_rows(rows))
        with pa.OSFile(str(split / "data-00000-of-00001.arrow"), "wb") as sink, \
                pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        (split / "state.json").write_text(json.dumps(
            {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": name}))


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "save_to_disk"])
def test_audit_finds_planted_problems(tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "data"
    if fmt == "save_to_disk":
        write_save_to_disk(folder)
    else:
        folder.mkdir()
        WRITERS[fmt](folder / f"train.{fmt}", TRAIN)
        WRITERS[fmt](folder / f"test.{fmt}", TEST)
    report = audit_dataset(folder)

    assert [s.name for s in report.splits] == ["train", "test"]
    train, test = report.splits
    assert (train.rows, test.rows) == (12, 4)
    assert report.label_column == "label" and report.label_detected
    assert report.id_column == "id" and report.key_columns == ["text"]
    # Exact duplicates: row 2 repeats row 1 (the id differs and is ignored).
    assert train.exact_duplicates == 1
    assert train.exact_examples[0] == ["id=1", "id=2"]
    # Near duplicates add id 3 (variant of 1) and id 7 (same text as 6, other label).
    assert train.near_duplicates == 3
    assert ["id=1", "id=2", "id=3"] in train.near_examples
    assert train.conflicting_label_groups == 1
    missing = {c.name: c.missing for c in train.columns}
    assert missing == {"id": 0, "text": 1, "label": 0}
    assert train.balance is not None
    assert train.balance.counts == [("pos", 9), ("neg", 3)]
    assert train.balance.ratio == pytest.approx(3.0)
    (overlap,) = report.overlaps
    assert (overlap.earlier, overlap.later) == ("train", "test")
    assert overlap.exact == 1 and overlap.near == 2
    assert overlap.examples == [("id=101", "id=4"), ("id=102", "id=11")]

    text = report.to_markdown()
    assert "LEAKAGE: 2 of 4 test rows (50.0%) also occur in train" in text
    assert "1 exact, 1 only after normalisation" in text
    assert "class imbalance 3.0:1" in text
    assert "test id=101 = train id=4" in text


def test_numeric_near_duplicates_use_rounding(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [0.1 + 0.2, 1.5, 2.0], "y": [1, 2, 3]}),
                   tmp_path / "train.parquet")
    pq.write_table(pa.table({"x": [0.3, 9.0], "y": [1, 9]}), tmp_path / "test.parquet")
    report = audit_dataset(tmp_path, AuditOptions(round_digits=6))
    (overlap,) = report.overlaps
    # 0.1 + 0.2 != 0.3 exactly, but equal once rounded: near, not exact.
    assert overlap.exact == 0 and overlap.near == 1
    assert overlap.examples == [("row 0", "row 0")]


def test_sharded_split_files_form_one_split(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_parquet(data / "train-00000-of-00002.parquet", TRAIN[:6])
    write_parquet(data / "train-00001-of-00002.parquet", TRAIN[6:])
    write_parquet(data / "test-00000-of-00001.parquet", TEST)
    report = audit_dataset(tmp_path)
    assert {s.name: s.rows for s in report.splits} == {"train": 12, "test": 4}


def test_key_columns_and_label_override(tmp_path: Path) -> None:
    write_csv(tmp_path / "all.csv", TRAIN)
    report = audit_dataset(tmp_path / "all.csv",
                           AuditOptions(key_columns=["label"], label_column="label"))
    (split,) = report.splits
    assert split.name == "all" and not report.overlaps
    assert split.near_duplicates == 10  # only two distinct labels among 12 rows
    with pytest.raises(DatasetLoadError, match="not found"):
        audit_dataset(tmp_path / "all.csv", AuditOptions(label_column="nope"))


def test_unreadable_inputs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetLoadError, match="no file or folder"):
        audit_dataset(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetLoadError, match="supported formats"):
        audit_dataset(tmp_path / "notes.txt")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DatasetLoadError, match="could not read split"):
        audit_dataset(tmp_path / "bad.parquet")


async def test_audit_tool_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "train.csv", TRAIN)
    write_csv(folder / "test.csv", TEST)
    ctx = make_ctx(tmp_path)
    result = await run_tool(Datasets(), ctx, operation="audit", path="data")
    assert result.ok
    assert result.data["leakage"] == {"train->test": 2}
    assert result.data["splits"] == {"train": 12, "test": 4}
    assert "| train → test | 1 (25.0%) | 2 (50.0%) |" in result.text

    with pytest.raises(ToolError, match="outside the workspace"):
        await run_tool(Datasets(), ctx, operation="audit", path="/etc")
    with pytest.raises(ToolError, match="no file or folder"):
        await run_tool(Datasets(), ctx, operation="audit", path="nothing_here")
    with pytest.raises(ToolError, match="needs path"):
        await run_tool(Datasets(), ctx, operation="audit")
