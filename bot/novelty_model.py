"""The fitted part of novelty: the update model and its threshold (pure data + math).

``update``: p(an item is another report of a recent story | features of the pair), named
features (``bot.novelty.UPDATE_FEATURES``) standardised with the training mean and spread, so
weights read as "per typical difference". It decides step 3 (``same-development``).

There is no fitted alert model: one was fitted for step 6 and never decided anything (on every
training set the items reaching step 6 were ~30 first reports against 1-3 restatements, and the
restatements added MORE facts than a typical first report, so every weight but one was zeroed
and every fitted threshold was the lowest of the grid; bench/fit_novelty.py prints those counts).
What remains at step 6 is decided by the facts (bot.novelty). A shipped file that still holds an
``alert`` section is read as before; the section is ignored.

The shipped weights (``bot/novelty_model.json``) are fitted by ``bench/fit_novelty.py`` on the
labelled dev items; ``make eval`` refits on four story folds and scores the fifth, so the printed
figures are for weights that never saw the stories they are judged on. Two variants: ``embed``
(the ``sem`` feature is a multilingual embedding cosine) and ``lexical`` (n-gram cosine, when
the embedding package is unavailable).

Inference is plain Python (no numpy) so the lexical fallback needs nothing; fitting uses numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping, Sequence

MODEL_FILE = "novelty_model.json"


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(bias + sum(weight_f * (x_f - mean_f) / scale_f)); decide at ``threshold``."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5

    def probability(self, x: Mapping[str, float]) -> float:
        z = self.bias
        for f, w, m, s in zip(self.features, self.weights, self.mean, self.scale):
            z += w * (float(x.get(f, 0.0)) - m) / s
        if z < -35:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6), "mean": [round(m, 6) for m in self.mean],
                "scale": [round(s, 6) for s in self.scale], "threshold": round(self.threshold, 4)}

    @classmethod
    def from_json(cls, d: Mapping) -> "Logistic":
        return cls(tuple(d["features"]), tuple(d["weights"]), float(d["bias"]), tuple(d["mean"]),
                   tuple(d["scale"]), float(d.get("threshold", 0.5)))


@dataclass(frozen=True)
class NoveltyModel:
    """What novelty fits: the update model of step 3, for one similarity variant."""

    update: Logistic
    variant: str = "lexical"
    note: str = ""
    extra: dict = field(default_factory=dict)


def load_model(variant: str, path=None) -> NoveltyModel:
    """The shipped model of ``variant`` ('embed' or 'lexical'), or one from ``path``."""
    if path is None:
        text = resources.files("bot").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    data = json.loads(text)
    return model_from_json(data, variant)


def model_from_json(data: Mapping, variant: str) -> NoveltyModel:
    v = data["variants"][variant]
    return NoveltyModel(Logistic.from_json(v["update"]), variant, data.get("note", ""))


def steady_threshold(grid: Sequence[float], costs: Sequence[float]) -> float:
    """The threshold of ``grid`` whose training cost, averaged with its two neighbours' (one at
    each end of the grid), is least; the lowest such threshold on a tie.

    The cost over thresholds is a step curve made by a few dozen training items: its lowest
    point alone is often a single step that one item opens or closes (fold 1 of the dev sample:
    cost 2 at 0.80 between 3.5 and 3.5, 2.5 over 0.60-0.70), so the bare minimum jumps between
    distant thresholds when one training row changes. Averaging over neighbours prefers a
    threshold whose cost stays low around it, which is what a held-out item meets."""
    n = len(grid)
    if n == 0 or len(costs) != n:
        raise ValueError("grid and costs must be non-empty and of one length")
    best = (float("inf"), grid[0])
    for i in range(n):
        window = costs[max(0, i - 1):i + 2]
        smooth = sum(window) / len(window)
        if smooth < best[0] - 1e-9:
            best = (smooth, grid[i])
    return best[1]


def fit_logistic(rows: Sequence[Mapping[str, float]], labels: Sequence[int],
                 features: Sequence[str], *, l2: float = 1.0, iterations: int = 50,
                 signs: Mapping[str, int] | None = None) -> Logistic:
    """L2-regularised logistic regression by Newton's method on standardised features.

    ``l2`` is the ridge strength on the weights (not the bias): with a few hundred labelled
    items it keeps a feature that separates the training folds by chance from dominating.
    ``signs``: feature -> +1 / -1 / 0; a feature whose weight comes out with the other sign is
    dropped (weight 0) and the rest refitted, until every weight agrees with its meaning.
    """
    active = list(features)
    while True:
        model = _fit(rows, labels, features, active, l2=l2, iterations=iterations)
        wrong = [f for f, w in zip(model.features, model.weights)
                 if f in active and signs and signs.get(f, 0) * w < 0]
        if not wrong:
            return model
        # Drop the most contradicting one first: removing it can fix the others' signs.
        worst = max(wrong, key=lambda f: abs(model.weights[model.features.index(f)]))
        active.remove(worst)


def _fit(rows, labels, features, active, *, l2: float, iterations: int) -> Logistic:
    import numpy as np

    x = np.array([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=float)
    y = np.array(labels, dtype=float)
    mean = x.mean(axis=0) if len(x) else np.zeros(len(features))
    scale = x.std(axis=0) if len(x) else np.ones(len(features))
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    z[:, [i for i, f in enumerate(features) if f not in active]] = 0.0
    a = np.hstack([np.ones((len(z), 1)), z])
    w = np.zeros(a.shape[1])
    reg = np.eye(a.shape[1]) * l2
    reg[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -35, 35)))
        grad = a.T @ (p - y) + reg @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + reg + np.eye(a.shape[1]) * 1e-9
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Logistic(tuple(features), tuple(float(v) for v in w[1:]), float(w[0]),
                    tuple(float(v) for v in mean), tuple(float(v) for v in scale))
