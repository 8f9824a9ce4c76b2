"""Probabilities that mean what they say: temperature scaling, fitted on rows not learned.

The classifier's raw probabilities are underconfident on reviews like its training data
(on the book's split: mean confidence 0.875 against accuracy 0.921, ECE 0.046). One
parameter fixes most of it: P(positive) = sigmoid(scale * score), with the scale that
minimizes the log-loss of rows the version did not learn from (docs/DESIGN.md,
calibration). Its sign-preserving form keeps every label; only the probabilities that the
pages, the API and the stored predictions show change (docs/DESIGN.md, invariant 14).

Fitted when a base is trained (on its held-out rows) and again by every retrain (on the
lineage's held-out rows plus the domain slice, answers held out of learning). Measured
in ``bench/calibration.py``; Platt scaling's extra intercept was measured too and moves
labels without lowering the error further (bench/results/calibration.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

from movieclassifier import reliability
from movieclassifier.model import IDENTITY, Calibration, Featured, Labelled, SentimentModel

# The sets a calibration is fitted on, as a version's details name them.
HELD_OUT = "held-out rows"
DOMAIN_SLICE = "domain slice"
# Fewer rows than this fit nothing: the version keeps the calibration it started from.
MIN_ROWS = 100
# The scales tried: a temperature between 1/20 and 20.
SCALE_BOUNDS = (0.05, 20.0)


def fit_scale(scores: np.ndarray, labels: np.ndarray) -> float:
    """The scale of the scores (logits) that minimizes the log-loss of ``labels``.

    The log-loss is convex in the scale, so a bounded scalar search finds its minimum.

    >>> scores = np.array([2.0, 2.0, 2.0, -2.0])
    >>> round(fit_scale(scores, np.array([1, 1, 0, 0])), 2)  # 3 of 4 right at +-2: shrink
    0.55
    """
    signed = np.where(np.asarray(labels) == 1, 1.0, -1.0) * np.asarray(scores, np.float64)

    def loss(scale: float) -> float:
        return float(-np.mean(log_expit(scale * signed)))

    found = minimize_scalar(loss, bounds=SCALE_BOUNDS, method="bounded")
    return float(found.x)


def calibrate(
    model: SentimentModel,
    sets: Iterable[tuple[str, Labelled | Featured]],
    keep: Calibration = IDENTITY,
) -> Calibration:
    """Fit ``model``'s calibration on the named sets of rows it did not learn; set it.

    Rows already hashed (``Featured``, as the gate has them) are not hashed again. With
    fewer than ``MIN_ROWS`` rows in all, ``model`` gets ``keep`` (the calibration of the
    version it started from). Returns what it set.
    """
    named = [
        (name, rows if isinstance(rows, Featured) else Featured.of(rows)) for name, rows in sets
    ]
    named = [(name, done) for name, done in named if done.rows.texts]
    total = sum(len(done.rows.texts) for _, done in named)
    if total < MIN_ROWS:
        model.calibration = keep
        return keep
    scores = np.concatenate([model.scores(done.features) for _, done in named])
    labels = np.concatenate([np.asarray(done.rows.labels) for _, done in named])
    scale = round(fit_scale(scores, labels), 6)
    # The held-out rows come first when there are any (their scores lead ``scores``).
    held = named[0][1].rows if named[0][0] == HELD_OUT else None
    model.calibration = Calibration(
        scale=scale,
        rows=total,
        ece_before=round(reliability.ece(expit(scores), labels), 6),
        ece_after=round(reliability.ece(expit(scale * scores), labels), 6),
        fitted_on=", ".join(f"{name} ({len(done.rows.texts)})" for name, done in named),
        held_out_bins=_bins(scale * scores[: len(held.texts)], held.labels) if held else (),
    )
    return model.calibration


def _bins(
    scores: np.ndarray, labels: list[int]
) -> tuple[tuple[float, float, int, float, float], ...]:
    return tuple(
        (b.low, b.high, b.rows, round(b.confidence, 6), round(b.accuracy, 6))
        for b in reliability.reliability(expit(scores), labels)
    )
