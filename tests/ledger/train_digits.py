"""Real scikit-learn training for the tests: SGD logistic regression on load_digits.

Reports loss and val_acc per epoch through openintern.track and prints a line per epoch.
Options make it misbehave on purpose (NaN loss, crash) for the failure-path tests.
"""

import argparse
import os
import sys
import time

from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from openintern import track

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--alpha", type=float, default=1e-4)
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--seed", type=int, default=int(os.environ.get("OPENINTERN_SEED", 0)))
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--nan-at", type=int, default=-1)
parser.add_argument("--crash-at", type=int, default=-1)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=args.lr,
                      alpha=args.alpha, random_state=args.seed)
for epoch in range(1, args.epochs + 1):
    model.partial_fit(X_train, y_train, classes=list(range(10)))
    loss = float(log_loss(y_test, model.predict_proba(X_test), labels=list(range(10))))
    acc = float(model.score(X_test, y_test))
    if epoch == args.nan_at:
        loss = float("nan")
    if epoch == args.crash_at:
        print("Traceback: simulated crash in epoch", epoch, file=sys.stderr, flush=True)
        sys.exit(3)
    track.log(step=epoch, loss=loss, val_acc=acc)
    print(f"epoch {epoch} loss {loss:.4f} val_acc {acc:.4f}", flush=True)
    if args.sleep:
        time.sleep(args.sleep)
print("done", flush=True)
