"""The code the scripted demo model writes into the workspace (real, runnable scripts)."""

INSPECT = """\
python - <<'PY'
import json
import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
X, y = d.data, d.target
print(json.dumps({"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
                  "n_classes": int(len(np.unique(y)))}))
print("class counts:", np.bincount(y).tolist())
print("exact duplicate rows:", int(X.shape[0] - np.unique(X, axis=0).shape[0]))
print("pixel value range:", float(X.min()), "to", float(X.max()))
PY"""

TRAIN = '''\
"""Train one model on scikit-learn's digits; the split follows the seed.

Reports its metrics as JSON lines with a "step" (what the experiment ledger records).
"""
import argparse
import json
import time

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

MODELS = {
    "logreg": lambda seed: LogisticRegression(max_iter=2000, random_state=seed),
    "svm": lambda seed: SVC(kernel="rbf", C=10.0, gamma="scale", random_state=seed),
}

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=sorted(MODELS), required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=args.seed)
start = time.perf_counter()
clf = make_pipeline(StandardScaler(), MODELS[args.model](args.seed)).fit(X_tr, y_tr)
print(json.dumps({"step": 1, "train_accuracy": round(clf.score(X_tr, y_tr), 4),
                  "test_accuracy": round(clf.score(X_te, y_te), 4),
                  "fit_seconds": round(time.perf_counter() - start, 3)}), flush=True)
'''
