"""How far probabilities can be trusted: ECE, Brier, log-loss and the reliability bins.

One place for these figures: the calibration fit, ``evaluate.py``, the dashboard's
reliability diagram and ``bench/calibration.py`` all call these functions, so the same
number means the same thing everywhere.

Every function takes P(positive) per row and the true labels (0/1). The expected
calibration error uses 10 equal-width bins of the confidence of the predicted label (the
probability the page shows), as the issue and most papers define it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 10
# Probabilities are clipped this far from 0 and 1 before a logarithm.
EPSILON = 1e-12


@dataclass(frozen=True)
class Bin:
    """One confidence bin: [low, high), its rows, their mean confidence and accuracy."""

    low: float
    high: float
    rows: int
    confidence: float
    accuracy: float


def _arrays(positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray):
    p = np.asarray(positive, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities for {y.size} labels")
    return p, y


def confidence_and_hit(
    positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The probability of the predicted label and whether that label is right, per row.

    >>> confidence, hit = confidence_and_hit([0.9, 0.3], [1, 1])
    >>> confidence.round(2).tolist(), hit.tolist()
    ([0.9, 0.7], [True, False])
    """
    p, y = _arrays(positive, labels)
    predicted = (p >= 0.5).astype(np.int64)
    return np.where(predicted == 1, p, 1.0 - p), predicted == y


def bins_of(confidence: np.ndarray, hit: np.ndarray, bins: int = BINS) -> list[Bin]:
    """The non-empty equal-width bins of ``confidence`` (a confidence of 1.0 is in the last)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(hit, dtype=bool)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    found = []
    for number in range(bins):
        inside = which == number
        rows = int(inside.sum())
        if rows:
            found.append(
                Bin(
                    number / bins,
                    (number + 1) / bins,
                    rows,
                    float(confidence[inside].mean()),
                    float(hit[inside].mean()),
                )
            )
    return found


def recorded_bins(calibration: dict[str, Any] | None) -> list[Bin]:
    """The held-out bins a version's details record (``details["calibration"]``; none
    for a version made before calibration)."""
    return [Bin(*values) for values in (calibration or {}).get("held_out_bins") or []]


def reliability(
    positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, bins: int = BINS
) -> list[Bin]:
    """The reliability diagram's bins: per bin of confidence, how often the label was right."""
    return bins_of(*confidence_and_hit(positive, labels), bins=bins)


def ece_of_bins(found: Sequence[Bin]) -> float:
    """The expected calibration error of bins: the row-weighted mean |accuracy - confidence|."""
    total = sum(b.rows for b in found)
    if not total:
        return math.nan
    return sum(b.rows * abs(b.accuracy - b.confidence) for b in found) / total


def ece(
    positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, bins: int = BINS
) -> float:
    """Expected calibration error over ``bins`` equal-width bins of confidence.

    >>> ece([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1], [1] * 9 + [0])
    0.1
    """
    return round(ece_of_bins(reliability(positive, labels, bins)), 12)


def brier(positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """The mean squared difference between P(positive) and the label.

    >>> brier([1.0, 0.5], [1, 0])
    0.125
    """
    p, y = _arrays(positive, labels)
    return float(np.mean((p - y) ** 2)) if p.size else math.nan


def log_loss(positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """The mean negative log-likelihood of the labels, in nats.

    >>> round(log_loss([0.5, 0.5], [1, 0]), 4)
    0.6931
    """
    p, y = _arrays(positive, labels)
    if not p.size:
        return math.nan
    p = np.clip(p, EPSILON, 1.0 - EPSILON)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1.0 - p)))


def accuracy(positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Share of rows whose predicted label (P(positive) >= 0.5) is the true one."""
    _, hit = confidence_and_hit(positive, labels)
    return float(hit.mean()) if hit.size else math.nan


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    >>> [round(x, 3) for x in wilson_interval(90, 100)]
    [0.826, 0.945]
    """
    if trials <= 0:
        return (math.nan, math.nan)
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return (centre - half / denominator, centre + half / denominator)
