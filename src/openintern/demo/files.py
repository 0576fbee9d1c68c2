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
"""Train one model on scikit-learn's digits and append its test accuracy to results.jsonl."""
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
result = {"step": 1, "model": args.model, "seed": args.seed,
          "train_accuracy": round(clf.score(X_tr, y_tr), 4),
          "test_accuracy": round(clf.score(X_te, y_te), 4),
          "fit_seconds": round(time.perf_counter() - start, 3)}
print(json.dumps(result))
with open("results.jsonl", "a") as f:
    f.write(json.dumps(result) + "\\n")
'''

COMPARE = '''\
"""Compare models over seeds: mean, 95% CI (Student t) and a paired t-test (each seed
uses the same train/test split for both models, so the runs pair up by seed)."""
import json
from collections import defaultdict

import numpy as np
from scipy import stats

by_seed = defaultdict(dict)
with open("results.jsonl") as f:
    for line in f:
        r = json.loads(line)
        by_seed[r["model"]][r["seed"]] = r["test_accuracy"]
seeds = sorted(set(by_seed["svm"]) & set(by_seed["logreg"]))
runs = {m: [by_seed[m][s] for s in seeds] for m in ("logreg", "svm")}

summary = {}
print(f"{'model':<8} {'n':>2} {'mean':>7} {'95% CI':>17}")
for model, accs in sorted(runs.items()):
    a = np.array(accs)
    half = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    summary[model] = {"n": len(a), "mean": round(float(a.mean()), 4),
                      "ci_low": round(float(a.mean() - half), 4),
                      "ci_high": round(float(a.mean() + half), 4)}
    s = summary[model]
    print(f"{model:<8} {s['n']:>2} {s['mean']:>7.4f} [{s['ci_low']:.4f}, {s['ci_high']:.4f}]")
t, p = stats.ttest_rel(runs["svm"], runs["logreg"])
summary["paired_t"] = round(float(t), 3)
summary["p_value"] = float(f"{p:.3g}")
print(f"paired t-test svm vs logreg over seeds {seeds}: t = {t:.3f}, p = {p:.3g}")
print(json.dumps(summary))
'''
