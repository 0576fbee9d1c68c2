"""A time-series task: forecasting the next months of daily electricity demand.

The demand's level drifts (a trend plus a random walk), so a model validated on shuffled
rows is always tested on days next to days it trained on and looks far better than it
will on the hidden future, which lies after every training day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from openintern.bench.task import Table, TaskData, TaskSpec, Trap
from openintern.bench.tasks.layout import answers, describe, sample_submission

_DAYS, _TEST_DAYS = 1400, 280


def _series() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(61)
    day = np.arange(_DAYS)
    season = np.sin(2 * np.pi * (day - 20) / 365.25)
    temperature = np.round(12 + 10 * season + rng.normal(0, 3, _DAYS), 1)
    dow = day % 7
    holiday = (rng.random(_DAYS) < 0.03).astype(int)
    level = 300 + 0.1 * day + np.cumsum(rng.normal(0, 0.3, _DAYS))
    heating = 2.2 * np.clip(15 - temperature, 0, None)
    cooling = 3.0 * np.clip(temperature - 22, 0, None)
    weekly = np.where(dow >= 5, -25.0, 0.0)
    load = level + heating + cooling + weekly - 30 * holiday + rng.normal(0, 4, _DAYS)
    X = np.column_stack([day, dow, temperature, holiday]).astype(float)
    return day, X, np.round(load, 2), dow


def _design(X: np.ndarray, *, trend: bool) -> np.ndarray:
    """Weekday dummies, heating/cooling degrees, holiday, and optionally the day index."""
    day, dow, temp, holiday = X[:, 0], X[:, 1], X[:, 2], X[:, 3]
    cols = [(dow == k).astype(float) for k in range(1, 7)]
    cols += [np.clip(15 - temp, 0, None), np.clip(temp - 22, 0, None), holiday]
    if trend:
        cols.append(day)
    return np.column_stack(cols)


def build_energy_forecast() -> TaskData:
    """Daily demand of a made-up grid over ~4 years; the last 280 days are the test."""
    from sklearn.linear_model import LinearRegression

    day, X, y, dow = _series()
    tr, te = np.arange(_DAYS - _TEST_DAYS), np.arange(_DAYS - _TEST_DAYS, _DAYS)
    start = dt.date(2021, 1, 1)
    ids = [int(10_000 + d) for d in day]

    def rows(idx: np.ndarray, target: bool) -> Table:
        columns = ["id", "date", "day_index", "day_of_week", "temperature_c", "holiday"]
        out = [[ids[i], (start + dt.timedelta(days=int(day[i]))).isoformat(), int(day[i]),
                int(dow[i]), float(X[i, 2]), int(X[i, 3])] + ([float(y[i])] if target else [])
               for i in idx]
        return Table([*columns, "target"] if target else columns, out)

    def linear(recent: int, trend: bool) -> list[float]:
        fit = tr[-recent:]
        model = LinearRegression().fit(_design(X[fit], trend=trend), y[fit])
        return [round(float(p), 2) for p in model.predict(_design(X[te], trend=trend))]

    last = round(float(np.mean(y[tr][-28:])), 2)
    refs = {
        "mean of the last 28 days": [last] * len(te),
        "calendar + weather regression on the last 60 days": linear(60, trend=False),
        "the same with a trend, on the last 180 days": linear(180, trend=True),
    }
    description = describe(
        title="Grid demand: forecast the next nine months",
        overview="Daily electricity demand (MWh) of a regional grid with the day's "
                 "calendar and mean temperature. The training file covers the first "
                 f"{len(tr)} days; forecast the demand of the {len(te)} days that follow "
                 "(the temperature of those days is given, as a weather forecast would).",
        files={"data/train.csv": f"{len(tr)} days with their demand (`target`), in order",
               "data/test.csv": f"the next {len(te)} days without demand",
               "data/sample_submission.csv": "the submission format"},
        metric="mae", prediction="the predicted demand of that day (MWh)")
    test_ids = [ids[i] for i in te]
    return TaskData(
        description=description,
        public={"data/train.csv": rows(tr, True), "data/test.csv": rows(te, False),
                "data/sample_submission.csv": sample_submission(test_ids, last)},
        answers=answers(test_ids, y[te]), references=refs,
        trivial=[round(float(np.mean(y[tr])), 2)] * len(te))


SHUFFLED_CV = Trap(
    "shuffled_cv",
    "the demand level drifts: shuffled K-fold validation puts neighbouring days on both "
    "sides and reports a fraction of the error a forecast of the future really has; "
    "validate forward in time.",
    (("shuffl", "timeseriessplit", "time series split", "forward", "walk-forward",
      "temporal", "chronolog", "out-of-time", "time-ordered", "time order"),))

TASKS = [
    TaskSpec("energy-forecast", "Grid demand: forecast the next nine months", "time series",
             "mae", "1", build_energy_forecast, traps=(SHUFFLED_CV,)),
]
