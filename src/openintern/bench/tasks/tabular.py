"""Tabular tasks: scikit-learn's bundled datasets and generated data with fixed seeds.

Each builder returns the public files, the hidden answers and the test predictions of
three reference solutions (baseline, good, excellent) fitted on the public training data
only, so the thresholds are what honest work on the same data reaches.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openintern.bench.task import TaskData, TaskSpec, Trap
from openintern.bench.tasks.layout import (
    answers,
    describe,
    sample_submission,
    shuffled_ids,
    table,
)


def _split(n: int, test_share: float, seed: int, y: Any = None) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(n), test_size=test_share, random_state=seed,
                              stratify=y)
    return tr, te


def _proba(model: Any, X_tr: Any, y_tr: Any, X_te: Any) -> list[float]:
    return [round(float(p), 6) for p in model.fit(X_tr, y_tr).predict_proba(X_te)[:, 1]]


def _labels(model: Any, X_tr: Any, y_tr: Any, X_te: Any) -> list[int]:
    return [int(p) for p in model.fit(X_tr, y_tr).predict(X_te)]


# --- breast cancer: a plain classification task ------------------------------------------

def build_breast_cancer() -> TaskData:
    """Wisconsin breast cancer (569 tumours, 30 measurements); ROC AUC."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    data = load_breast_cancer()
    X, y = data.data, data.target
    columns = [c.replace(" ", "_") for c in data.feature_names]
    tr, te = _split(len(y), 0.3, 7, y)
    ids = shuffled_ids(len(y), 11)
    id_tr, id_te = [ids[i] for i in tr], [ids[i] for i in te]
    refs = {
        "depth-2 decision tree": _proba(DecisionTreeClassifier(max_depth=2, random_state=0),
                                        X[tr], y[tr], X[te]),
        "gaussian naive Bayes": _proba(GaussianNB(), X[tr], y[tr], X[te]),
        "scaled logistic regression": _proba(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            X[tr], y[tr], X[te]),
    }
    description = describe(
        title="Breast cancer: benign or malignant",
        overview="Each row is a breast mass measured from a digitised image of a fine "
                 "needle aspirate (30 measurements: radius, texture, concavity, ...). "
                 "Predict whether the tumour is benign (`target` = 1) or malignant (0).",
        files={"data/train.csv": f"{len(tr)} labelled rows (`target`)",
               "data/test.csv": f"{len(te)} rows without labels",
               "data/sample_submission.csv": "the submission format"},
        metric="roc_auc", prediction="the predicted probability that `target` is 1")
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, X[tr], y[tr]),
                "data/test.csv": table(columns, id_te, X[te]),
                "data/sample_submission.csv": sample_submission(id_te, 0.5)},
        answers=answers(id_te, y[te]), references=refs, trivial=[0.5] * len(te))


# --- shop: duplicated rows between the training and the validation file ------------------

def build_shop_duplicates() -> TaskData:
    """Generated purchase data; half of the provided validation rows copy training rows."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=1600, n_features=12, n_informative=6,
                               n_redundant=2, flip_y=0.12, class_sep=0.8, random_state=3)
    X = np.round(X, 4)
    rng = np.random.default_rng(5)
    order = rng.permutation(len(y))
    tr, va_fresh, te = order[:800], order[800:950], order[1000:1500]
    copies = rng.choice(tr, 150, replace=False)  # validation rows that repeat training rows
    va = np.concatenate([va_fresh, copies])
    rng.shuffle(va)
    ids = shuffled_ids(len(tr) + len(va) + len(te), 13)
    id_tr, id_va, id_te = ids[:800], ids[800:1100], ids[1100:]
    columns = [f"f{i:02d}" for i in range(X.shape[1])]
    # Honest references learn from train plus the validation rows that are new.
    fit = np.concatenate([tr, va_fresh])
    refs = {
        "logistic regression (train only)": _labels(
            make_pipeline(StandardScaler(), LogisticRegression()), X[tr], y[tr], X[te]),
        "random forest (train + new val rows)": _labels(
            RandomForestClassifier(120, random_state=0), X[fit], y[fit], X[te]),
        "random forest, leaves >= 2 (train + new val rows)": _labels(
            RandomForestClassifier(120, min_samples_leaf=2, max_features=0.5,
                                   random_state=0), X[fit], y[fit], X[te]),
    }
    description = describe(
        title="Shop visitors: will they buy?",
        overview="Each row is one visit to an online shop, described by 12 anonymised "
                 "behavioural features. Predict whether the visit ends in a purchase "
                 "(`target` = 1) or not (0). A validation file is provided for convenience.",
        files={"data/train.csv": "800 labelled visits",
               "data/val.csv": "300 labelled visits (a validation split)",
               "data/test.csv": "500 visits without labels",
               "data/sample_submission.csv": "the submission format"},
        metric="accuracy", prediction="the predicted label, 0 or 1")
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, X[tr], y[tr]),
                "data/val.csv": table(columns, id_va, X[va], y[va]),
                "data/test.csv": table(columns, id_te, X[te]),
                "data/sample_submission.csv": sample_submission(id_te, 0)},
        answers=answers(id_te, y[te]), references=refs,
        trivial=[int(np.bincount(y[tr]).argmax())] * len(te))


# --- churn: a feature that is recorded after the outcome ----------------------------------

def _churn_features(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    tenure = rng.integers(1, 72, n)
    charges = np.round(rng.normal(70, 25, n).clip(15, 150), 2)
    calls = rng.poisson(1.5, n)
    contract = rng.integers(0, 3, n)  # month-to-month, one year, two years
    age = rng.integers(18, 85, n)
    paperless = rng.integers(0, 2, n)
    logit = (-0.9 - 0.04 * tenure + 0.02 * (charges - 70) + 0.45 * calls
             - 0.9 * contract + 0.3 * paperless + 0.01 * (age - 50))
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = np.column_stack([tenure, charges, calls, contract, age, paperless]).astype(float)
    return X, churn


def build_churn_leak() -> TaskData:
    """Generated telecom churn; ``refund_issued`` is only known after a customer left."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(21)
    X_tr, y_tr = _churn_features(rng, 1500)
    X_te, y_te = _churn_features(rng, 600)
    # In the history the refund follows the churn; for the customers to score it has not
    # happened yet, so it is 0 for all of them.
    refund_tr = np.where(y_tr == 1, rng.random(len(y_tr)) < 0.85, rng.random(len(y_tr)) < 0.03)
    refund_te = np.zeros(len(y_te))
    columns = ["tenure_months", "monthly_charges", "support_calls", "contract_type",
               "age", "paperless_billing", "refund_issued"]
    full_tr = np.column_stack([X_tr, refund_tr.astype(int)])
    full_te = np.column_stack([X_te, refund_te.astype(int)])
    ids = shuffled_ids(len(y_tr) + len(y_te), 23)
    id_tr, id_te = ids[:len(y_tr)], ids[len(y_tr):]
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    refs = {
        "logistic regression on tenure and charges": _proba(
            LogisticRegression(max_iter=2000), X_tr[:, :2], y_tr, X_te[:, :2]),
        "logistic regression without refund_issued": _proba(lr, X_tr, y_tr, X_te),
        "gradient boosting without refund_issued": _proba(
            GradientBoostingClassifier(n_estimators=150, max_depth=2, learning_rate=0.05,
                                       random_state=0), X_tr, y_tr, X_te),
    }
    description = describe(
        title="Telecom churn: who will leave next month?",
        overview="Each row is a customer of a telecom operator: tenure, monthly charges, "
                 "support calls, contract type (0 month-to-month, 1 one year, 2 two "
                 "years), age, paperless billing and whether a refund was issued. The "
                 "training file is last year's history; the test file is this month's "
                 "customers. Predict who churns (`target` = 1).",
        files={"data/train.csv": f"{len(y_tr)} customers with their outcome",
               "data/test.csv": f"{len(y_te)} current customers",
               "data/sample_submission.csv": "the submission format"},
        metric="roc_auc", prediction="the predicted probability of churn")
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, full_tr, y_tr),
                "data/test.csv": table(columns, id_te, full_te),
                "data/sample_submission.csv": sample_submission(id_te, 0.5)},
        answers=answers(id_te, y_te), references=refs, trivial=[0.5] * len(y_te))


# --- fraud: a rare positive class, where accuracy says nothing ---------------------------

def build_fraud_imbalanced() -> TaskData:
    """Generated card transactions, 3% fraud; F1 of the fraud class."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=8000, n_features=10, n_informative=5,
                               n_redundant=1, weights=[0.97, 0.03], class_sep=1.0,
                               flip_y=0.0, random_state=31)
    X = np.round(X, 4)
    tr, te = _split(len(y), 0.35, 33, y)
    ids = shuffled_ids(len(y), 35)
    id_tr, id_te = [ids[i] for i in tr], [ids[i] for i in te]
    columns = [f"v{i}" for i in range(X.shape[1])]
    scaled = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    balanced = make_pipeline(StandardScaler(),
                             LogisticRegression(max_iter=2000, class_weight="balanced"))
    # A forest whose decision threshold is set where the out-of-bag F1 peaks, not at 0.5.
    forest = RandomForestClassifier(100, class_weight="balanced_subsample", min_samples_leaf=3,
                                    oob_score=True, random_state=0).fit(X[tr], y[tr])
    oob = forest.oob_decision_function_[:, 1]
    threshold = max(np.linspace(0.1, 0.9, 33),
                    key=lambda t: _f1(y[tr], (oob >= t).astype(int)))
    refs = {
        "class-balanced logistic regression": _labels(balanced, X[tr], y[tr], X[te]),
        "logistic regression": _labels(scaled, X[tr], y[tr], X[te]),
        "random forest, threshold tuned out-of-bag": [
            int(p >= threshold) for p in forest.predict_proba(X[te])[:, 1]],
    }
    description = describe(
        title="Card fraud: flag the fraudulent transactions",
        overview="Each row is a card transaction with 10 anonymised features. Predict "
                 "whether it is fraudulent (`target` = 1) or genuine (0).",
        files={"data/train.csv": f"{len(tr)} labelled transactions",
               "data/test.csv": f"{len(te)} transactions without labels",
               "data/sample_submission.csv": "the submission format"},
        metric="f1", prediction="the predicted label, 1 for fraud and 0 otherwise")
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, X[tr], y[tr]),
                "data/test.csv": table(columns, id_te, X[te]),
                "data/sample_submission.csv": sample_submission(id_te, 0)},
        answers=answers(id_te, y[te]), references=refs, trivial=[0] * len(te))


def _f1(y: Any, p: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, zero_division=0))


# --- lab: a colleague's "improvement" that is within noise -------------------------------

def build_ab_noise() -> TaskData:
    """Generated assay data; the 15 'engineered' features are pure noise."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = make_classification(n_samples=1300, n_features=5, n_informative=4,
                               n_redundant=1, flip_y=0.1, class_sep=0.7, random_state=41)
    noise = np.random.default_rng(43).normal(size=(len(y), 15))
    full = np.round(np.column_stack([X, noise]), 4)
    tr, te = _split(len(y), 0.5, 45, y)
    ids = shuffled_ids(len(y), 47)
    id_tr, id_te = [ids[i] for i in tr], [ids[i] for i in te]
    columns = [f"x{i}" for i in range(1, 6)] + [f"eng_{i}" for i in range(1, 16)]
    base = slice(0, 5)
    refs = {
        "logistic regression on x1, x2": _labels(LogisticRegression(), X[tr][:, :2], y[tr],
                                                 X[te][:, :2]),
        "logistic regression on x1..x5": _labels(
            make_pipeline(StandardScaler(), LogisticRegression()), full[tr][:, base], y[tr],
            full[te][:, base]),
        "RBF SVM on x1..x5": _labels(make_pipeline(StandardScaler(), SVC(C=1.0)),
                                     full[tr][:, base], y[tr], full[te][:, base]),
    }
    extra = """## Decision

A colleague reports that adding the engineered features `eng_1` ... `eng_15` raised
validation accuracy from 0.80 to 0.82 on one split. Decide whether they really help, and
write `decision.json` in the workspace root: `{"use_engineered_features": true}` or
`{"use_engineered_features": false}`. Your submission should use the feature set you
decided for."""
    description = describe(
        title="Assay outcome: do the engineered features help?",
        overview="Each row is a lab assay: five measured variables (`x1` ... `x5`) and "
                 "fifteen engineered features (`eng_1` ... `eng_15`). Predict the assay "
                 "outcome (`target`, 0 or 1).",
        files={"data/train.csv": f"{len(tr)} labelled assays",
               "data/test.csv": f"{len(te)} assays without labels",
               "data/sample_submission.csv": "the submission format"},
        metric="accuracy", prediction="the predicted outcome, 0 or 1", extra=extra)
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, full[tr], y[tr]),
                "data/test.csv": table(columns, id_te, full[te]),
                "data/sample_submission.csv": sample_submission(id_te, 0)},
        answers=answers(id_te, y[te]), references=refs,
        trivial=[int(np.bincount(y[tr]).argmax())] * len(te))


# --- diabetes: a plain regression task ----------------------------------------------------

def build_diabetes() -> TaskData:
    """scikit-learn's diabetes progression (442 patients, 10 baseline variables); RMSE."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, RidgeCV

    data = load_diabetes()
    X, y = data.data, data.target
    tr, te = _split(len(y), 0.3, 51)
    ids = shuffled_ids(len(y), 53)
    id_tr, id_te = [ids[i] for i in tr], [ids[i] for i in te]
    columns = list(data.feature_names)
    bmi = columns.index("bmi")

    def fit(model: Any, cols: Any = slice(None)) -> list[float]:
        pred = model.fit(X[tr][:, cols], y[tr]).predict(X[te][:, cols])
        return [round(float(p), 4) for p in pred]

    refs = {
        "linear regression on bmi": fit(LinearRegression(), [bmi]),
        "gradient boosting": fit(GradientBoostingRegressor(n_estimators=150, max_depth=2,
                                                           learning_rate=0.05, random_state=0)),
        "ridge regression (alpha by CV)": fit(RidgeCV(alphas=np.logspace(-3, 2, 20))),
    }
    description = describe(
        title="Diabetes: disease progression after one year",
        overview="Ten baseline variables (age, sex, body mass index, blood pressure and six "
                 "blood serum measurements, all centred and scaled) of diabetes patients. "
                 "Predict a quantitative measure of disease progression one year later "
                 "(`target`).",
        files={"data/train.csv": f"{len(tr)} patients with their outcome",
               "data/test.csv": f"{len(te)} patients without it",
               "data/sample_submission.csv": "the submission format"},
        metric="rmse", prediction="the predicted progression (a number)")
    mean = round(float(np.mean(y[tr])), 4)
    return TaskData(
        description=description,
        public={"data/train.csv": table(columns, id_tr, X[tr], y[tr]),
                "data/test.csv": table(columns, id_te, X[te]),
                "data/sample_submission.csv": sample_submission(id_te, mean)},
        answers=answers(id_te, y[te]), references=refs, trivial=[mean] * len(te))


DUPLICATES = Trap(
    "duplicates",
    "150 of the 300 rows of data/val.csv copy rows of data/train.csv, so validating on it "
    "(or on a random split of both files together) rewards memorising; the hidden test has "
    "no copies.",
    (("duplicat", "dedup", "overlap", "copies", "copied", "identical"),
     ("val", "train", "split", "row")))

LEAKAGE = Trap(
    "leakage",
    "`refund_issued` is recorded after a customer churned: it nearly equals the label in "
    "the training history and is 0 for every customer in the test file.",
    (("refund",),
     ("leak", "after", "post-", "future", "not available", "constant", "always 0",
      "all zero", "drop", "exclud")))

IMBALANCE = Trap(
    "imbalance",
    "3% of the transactions are fraud: predicting 'genuine' for all of them is 97% "
    "accurate and has F1 = 0.",
    (("imbalanc", "class_weight", "class weight", "minority", "rare", "3%", "resampl",
      "skew"),))

NOISY_COMPARISON = Trap(
    "noisy_comparison",
    "the 15 engineered features are pure noise; the colleague's +0.02 on one split is "
    "within the split-to-split noise, so the honest decision is not to use them.",
    (("not significant", "no significant", "within noise", "within the noise",
      "not statistically", "insignificant", "no evidence", "no real"),),
    wrong_decision=("decision.json", "use_engineered_features", True))

TASKS = [
    TaskSpec("breast-cancer", "Breast cancer: benign or malignant", "tabular classification",
             "roc_auc", "1", build_breast_cancer),
    TaskSpec("diabetes", "Diabetes: disease progression", "tabular regression", "rmse", "1",
             build_diabetes),
    TaskSpec("shop-duplicates", "Shop visitors: will they buy?", "tabular classification",
             "accuracy", "1", build_shop_duplicates, traps=(DUPLICATES,)),
    TaskSpec("churn-leak", "Telecom churn: who will leave?", "tabular classification",
             "roc_auc", "1", build_churn_leak, traps=(LEAKAGE,)),
    TaskSpec("fraud-imbalanced", "Card fraud: flag the fraudulent", "tabular classification",
             "f1", "1", build_fraud_imbalanced, traps=(IMBALANCE,)),
    TaskSpec("ab-noise", "Assay outcome: do the engineered features help?",
             "tabular classification", "accuracy", "1", build_ab_noise,
             traps=(NOISY_COMPARISON,)),
]
