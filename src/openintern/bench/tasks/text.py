"""Text tasks from generated language (fixed seeds; nothing downloaded).

- ``review-sentiment``: short product reviews, three classes; negation ("not great") and
  mixed reviews ("great but noisy") make word counts alone insufficient.
- ``tiny-lm``: a small language-modelling task. Sentences of a made-up language where
  the verb is fixed by the sentence's subject, which a relative clause can separate from
  it ("the old dog that sees the cats ..." → "barks"). Predicting the next word needs
  more context than the last word or two: a tiny language model trained from scratch
  (no pretrained weights are available offline) or any sequence model does it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openintern.bench.task import Table, TaskData, TaskSpec
from openintern.bench.tasks.layout import answers, describe, sample_submission, shuffled_ids

_PRODUCTS = ["headphones", "blender", "backpack", "lamp", "kettle", "charger", "jacket",
             "mouse", "speaker", "chair", "tent", "drill"]
_ASPECTS = ["the sound", "the battery", "the build", "the price", "the fit", "the motor",
            "the handle", "the finish", "the cable", "the zip"]
_GOOD = ["great", "excellent", "reliable", "comfortable", "sturdy", "fantastic", "solid",
         "lovely", "superb", "smooth"]
_BAD = ["terrible", "flimsy", "awful", "broken", "noisy", "disappointing", "useless",
        "cheap", "fragile", "clunky"]
_MEH = ["okay", "average", "fine", "decent", "acceptable", "ordinary", "standard"]
_FILLER = ["it arrived on {day}.", "i bought it for my {who}.", "the box was {colour}.",
           "delivery took {n} days.", "i have used it for {n} weeks.", "it came with a manual."]
_DAYS = ["monday", "tuesday", "friday", "saturday", "sunday"]
_WHO = ["sister", "dad", "office", "flat", "son", "partner"]
_COLOURS = ["blue", "white", "brown", "black"]
_LABELS = ["negative", "neutral", "positive"]


def _phrase(rng: np.random.Generator, tone: str) -> str:
    aspect = rng.choice(_ASPECTS)
    if tone == "good":
        word = rng.choice(_GOOD) if rng.random() < 0.75 else f"not {rng.choice(_BAD)}"
    elif tone == "bad":
        word = rng.choice(_BAD) if rng.random() < 0.7 else f"not {rng.choice(_GOOD)}"
    else:
        word = rng.choice(_MEH)
    return f"{aspect} is {word}"


def _review(rng: np.random.Generator, label: str) -> str:
    parts: list[str] = []
    if label == "positive":
        parts = [_phrase(rng, "good") for _ in range(rng.integers(1, 3))]
    elif label == "negative":
        parts = [_phrase(rng, "bad") for _ in range(rng.integers(1, 3))]
    elif rng.random() < 0.5:
        parts = [_phrase(rng, "meh")]
    else:  # mixed: one good and one bad point
        parts = [f"{_phrase(rng, 'good')} but {_phrase(rng, 'bad')}"]
    product = rng.choice(_PRODUCTS)
    text = f"this {product}: " + ". ".join(parts) + "."
    filler = rng.choice(_FILLER).format(day=rng.choice(_DAYS), who=rng.choice(_WHO),
                                        colour=rng.choice(_COLOURS), n=rng.integers(2, 9))
    return f"{filler} {text}" if rng.random() < 0.5 else f"{text} {filler}"


def _fit_text(vectorizer: Any, model: Any, train: list[str], y: list[str], test: list[str]
              ) -> list[str]:
    from sklearn.pipeline import make_pipeline

    return [str(p) for p in make_pipeline(vectorizer, model).fit(train, y).predict(test)]


def build_review_sentiment() -> TaskData:
    """2,400 generated reviews (negative / neutral / positive), 6% label noise."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    rng = np.random.default_rng(71)
    n = 2400
    labels = [str(rng.choice(_LABELS)) for _ in range(n)]
    texts = [_review(rng, label) for label in labels]
    noisy = [str(rng.choice(_LABELS)) if rng.random() < 0.06 else lab for lab in labels]
    tr, te = np.arange(1600), np.arange(1600, n)
    ids = shuffled_ids(n, 73)
    x_tr, y_tr = [texts[i] for i in tr], [noisy[i] for i in tr]
    x_te = [texts[i] for i in te]
    refs = {
        "word counts + naive Bayes": _fit_text(CountVectorizer(), MultinomialNB(), x_tr, y_tr,
                                               x_te),
        "TF-IDF 1-2 grams + logistic regression": _fit_text(
            TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=2000),
            x_tr, y_tr, x_te),
        "TF-IDF 1-3 grams + logistic regression, C=20": _fit_text(
            TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(C=20, max_iter=4000), x_tr, y_tr, x_te),
    }
    description = describe(
        title="Product reviews: negative, neutral or positive?",
        overview="Short customer reviews of household products. Classify each review's "
                 "overall sentiment as `negative`, `neutral` or `positive` (reviews that "
                 "weigh a good point against a bad one count as neutral).",
        files={"data/train.csv": f"{len(tr)} reviews (`text`) with their label",
               "data/test.csv": f"{len(te)} reviews without labels",
               "data/sample_submission.csv": "the submission format"},
        metric="macro_f1", prediction="`negative`, `neutral` or `positive`")
    return TaskData(
        description=description,
        public={"data/train.csv": Table(["id", "text", "target"],
                                        [[ids[i], texts[i], noisy[i]] for i in tr]),
                "data/test.csv": Table(["id", "text"], [[ids[i], texts[i]] for i in te]),
                "data/sample_submission.csv": sample_submission([ids[i] for i in te],
                                                                "neutral")},
        answers=answers([ids[i] for i in te], [noisy[i] for i in te]), references=refs,
        trivial=["neutral"] * len(te))


# --- tiny language ------------------------------------------------------------------------

_ANIMALS = {"dog": ("barks", "bark", "dogs"), "cat": ("purrs", "purr", "cats"),
            "bird": ("sings", "sing", "birds"), "horse": ("gallops", "gallop", "horses"),
            "wolf": ("howls", "howl", "wolves"), "bee": ("buzzes", "buzz", "bees"),
            "frog": ("croaks", "croak", "frogs"), "owl": ("hoots", "hoot", "owls")}
_ADJECTIVES = ["small", "old", "happy", "grey", "quick", "lazy", "young", "wild"]
_SEE = ("sees", "see")
_PLACES = ["near the river", "by the barn", "in the field", "under the tree"]


def _noun_phrase(rng: np.random.Generator) -> tuple[str, str, bool]:
    animal = str(rng.choice(list(_ANIMALS)))
    plural = bool(rng.random() < 0.5)
    words = ["the"] + ([str(rng.choice(_ADJECTIVES))] if rng.random() < 0.5 else [])
    words.append(_ANIMALS[animal][2] if plural else animal)
    return " ".join(words), animal, plural


def _sentence(rng: np.random.Generator) -> tuple[str, str]:
    """(prompt, next word): the subject's phrase, an optional clause, and the verb."""
    subject, animal, plural = _noun_phrase(rng)
    roll = rng.random()
    middle = ""
    if roll < 0.45:
        other, _, _ = _noun_phrase(rng)
        middle = f" that {_SEE[1] if plural else _SEE[0]} {other}"
    elif roll < 0.65:
        middle = f" {rng.choice(_PLACES)}"
    verb = _ANIMALS[animal][1] if plural else _ANIMALS[animal][0]
    return subject + middle, verb


def _positional(prompts: list[str]) -> list[dict[str, float]]:
    """Words tagged with their position (a reference that can see word order)."""
    return [{f"{k}={w}": 1.0 for k, w in enumerate(p.split()[:4])} for p in prompts]


def build_tiny_lm() -> TaskData:
    """3,000 sentence prefixes of the made-up language; predict the next word."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(81)
    n = 3000
    pairs = [_sentence(rng) for _ in range(n)]
    verbs = sorted({v for forms in _ANIMALS.values() for v in forms[:2]})
    # 4% of sentences use another verb: the language is not perfectly regular.
    targets = [str(rng.choice(verbs)) if rng.random() < 0.04 else v for _, v in pairs]
    prompts = [p for p, _ in pairs]
    tr, te = np.arange(2000), np.arange(2000, n)
    ids = shuffled_ids(n, 83)
    p_tr, y_tr = [prompts[i] for i in tr], [targets[i] for i in tr]
    p_te = [prompts[i] for i in te]

    def ngram(order: int) -> list[str]:
        """Most frequent next word after the prompt's last ``order`` words (backing off)."""
        tables: list[dict[tuple[str, ...], dict[str, int]]] = [{} for _ in range(order + 1)]
        for p, y in zip(p_tr, y_tr, strict=True):
            words = p.split()
            for k in range(order + 1):
                ctx = tuple(words[-k:]) if k else ()
                counts = tables[k].setdefault(ctx, {})
                counts[y] = counts.get(y, 0) + 1
        out = []
        for p in p_te:
            words = p.split()
            for k in range(order, -1, -1):
                seen = tables[k].get(tuple(words[-k:]) if k else ())
                if seen:
                    out.append(max(sorted(seen), key=seen.__getitem__))
                    break
        return out

    vec = DictVectorizer()
    model = LogisticRegression(max_iter=3000).fit(vec.fit_transform(_positional(p_tr)), y_tr)
    refs = {
        "bigram model (the last word)": ngram(1),
        "bag of words + logistic regression": _fit_text(
            CountVectorizer(), LogisticRegression(max_iter=3000), p_tr, y_tr, p_te),
        "position-tagged words + logistic regression": [
            str(v) for v in model.predict(vec.transform(_positional(p_te)))],
    }
    description = describe(
        title="Tiny language: predict the next word",
        overview="Sentences of a small made-up language, cut just before their verb. "
                 "Train a small language model (from scratch: no pretrained weights or "
                 "downloads are available) or any sequence model on the training "
                 "sentences, and predict the word that comes next. `data/corpus.txt` has "
                 "the training sentences in full, one per line, for language-model style "
                 "training.",
        files={"data/train.csv": f"{len(tr)} prompts (`prompt`) with their next word",
               "data/corpus.txt": "the same training sentences, complete, one per line",
               "data/test.csv": f"{len(te)} prompts without the next word",
               "data/sample_submission.csv": "the submission format"},
        metric="accuracy", prediction="the predicted next word (one lowercase word)")
    corpus = "".join(f"{p} {y}\n" for p, y in zip(p_tr, y_tr, strict=True))
    return TaskData(
        description=description,
        public={"data/train.csv": Table(["id", "prompt", "target"],
                                        [[ids[i], prompts[i], targets[i]] for i in tr]),
                "data/corpus.txt": corpus,
                "data/test.csv": Table(["id", "prompt"], [[ids[i], prompts[i]] for i in te]),
                "data/sample_submission.csv": sample_submission([ids[i] for i in te],
                                                                verbs[0])},
        answers=answers([ids[i] for i in te], [targets[i] for i in te]), references=refs,
        trivial=[max(set(y_tr), key=y_tr.count)] * len(te))


TASKS = [
    TaskSpec("review-sentiment", "Product reviews: sentiment", "text classification",
             "macro_f1", "1", build_review_sentiment),
    TaskSpec("tiny-lm", "Tiny language: predict the next word", "language modelling (LLM)",
             "accuracy", "1", build_tiny_lm),
]
