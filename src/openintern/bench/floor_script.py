"""The training script the scripted honest floor writes into the workspace.

It knows nothing about any task: it reads the public files (the sample submission names
the id and target columns), fits a linear model on the numeric and text columns, reports
a holdout score of the metric it is told, and writes ``submission.csv``.
"""

BASELINE = '''\
"""A generic baseline for a tabular or text task in the MLE-bench layout.

Reads data/train.csv, data/test.csv and data/sample_submission.csv (its first column is
the id, its second the target), fits a scaled linear model on the numeric columns plus
TF-IDF of the text columns, reports the holdout score as a JSON metric line and writes
submission.csv.
"""
import argparse
import csv
import json

import numpy as np
from scipy import sparse
from sklearn import metrics
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--metric", default="accuracy")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--holdout", choices=["random", "chronological"], default="random")
args = parser.parse_args()


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def numeric(values):
    try:
        [float(v) for v in values]
        return True
    except ValueError:
        return False


id_col, target_col = read("data/sample_submission.csv")[0][:2]
tr_head, tr_rows = read("data/train.csv")
te_head, te_rows = read("data/test.csv")
features = [c for c in te_head if c != id_col and c in tr_head]
num_cols = [c for c in features if numeric([r[tr_head.index(c)] for r in tr_rows])]
text_cols = [c for c in features if c not in num_cols]
regression = args.metric in ("rmse", "mae")
labels = [r[tr_head.index(target_col)] for r in tr_rows]
y = np.array([float(v) for v in labels]) if regression else np.array(labels)


def parts(head, rows):
    nums = np.array([[float(r[head.index(c)]) for c in num_cols] for r in rows]).reshape(
        len(rows), len(num_cols))
    texts = [" ".join(r[head.index(c)] for c in text_cols) for r in rows]
    return nums, texts


class Design:
    """Scaling and TF-IDF fitted on the rows a model learns from."""

    def __init__(self, nums, texts):
        self.scaler = StandardScaler().fit(nums) if num_cols else None
        self.tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit(texts) \\
            if text_cols else None

    def __call__(self, nums, texts):
        blocks = []
        if self.scaler is not None:
            blocks.append(sparse.csr_matrix(self.scaler.transform(nums)))
        if self.tfidf is not None:
            blocks.append(self.tfidf.transform(texts))
        return sparse.hstack(blocks).tocsr()


def model():
    if regression:
        return Ridge(alpha=1.0)
    return LogisticRegression(max_iter=3000)


def predict(fitted, X):
    if args.metric == "roc_auc":
        classes = [str(c) for c in fitted.classes_]
        return fitted.predict_proba(X)[:, classes.index("1") if "1" in classes else -1]
    return fitted.predict(X)


def score(truth, pred):
    if args.metric == "roc_auc":
        return metrics.roc_auc_score(truth == "1", pred)
    if args.metric == "rmse":
        return float(np.sqrt(metrics.mean_squared_error(truth, pred)))
    if args.metric == "mae":
        return metrics.mean_absolute_error(truth, pred)
    if args.metric == "f1":
        return metrics.f1_score(truth, pred, pos_label="1", zero_division=0)
    if args.metric == "macro_f1":
        return metrics.f1_score(truth, pred, average="macro", zero_division=0)
    return metrics.accuracy_score(truth, pred)


nums, texts = parts(tr_head, tr_rows)
order = np.arange(len(tr_rows))
if args.holdout == "chronological":
    key = next(c for c in tr_head if "date" in c.lower() or "time" in c.lower())
    order = np.array(sorted(order, key=lambda i: tr_rows[i][tr_head.index(key)]))
    cut = int(len(order) * 0.8)
    fit_idx, val_idx = order[:cut], order[cut:]
else:
    fit_idx, val_idx = train_test_split(order, test_size=0.2, random_state=args.seed,
                                        stratify=None if regression else y)
design = Design(nums[fit_idx], [texts[i] for i in fit_idx])
fitted = model().fit(design(nums[fit_idx], [texts[i] for i in fit_idx]), y[fit_idx])
val = score(y[val_idx], predict(fitted, design(nums[val_idx], [texts[i] for i in val_idx])))
print(json.dumps({"step": 1, "val_" + args.metric: round(float(val), 6),
                  "holdout_rows": int(len(val_idx))}), flush=True)

design = Design(nums, texts)
fitted = model().fit(design(nums, texts), y)
te_nums, te_texts = parts(te_head, te_rows)
pred = predict(fitted, design(te_nums, te_texts))
with open("submission.csv", "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow([id_col, target_col])
    for row, p in zip(te_rows, pred):
        value = round(float(p), 6) if (regression or args.metric == "roc_auc") else p
        writer.writerow([row[te_head.index(id_col)], value])
print("wrote submission.csv with", len(te_rows), "rows", flush=True)
'''
