"""Scoring stored versions on a labelled file: accuracy with its 95% interval, the confusion
matrix, ECE, Brier and log-loss (``flask evaluate``, ``scripts/evaluate.py``).

The file is streamed (``datafiles.ReviewFiles``, any format it reads) in batches through
each model's ``predict``, the path serving takes, so what is scored is what the API would
answer, calibration included. Only P(positive) and the label of each row are kept. The
figures come from ``reliability``, the one place they are defined.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from movieclassifier import reliability
from movieclassifier.csvdata import CSVFormatError, batches
from movieclassifier.datafiles import ReviewFiles, skipped_dict
from movieclassifier.model import SentimentModel

# Reviews predicted per call.
BATCH = 2_000


@dataclass(frozen=True)
class Confusion:
    """Rows by true label and predicted label (P(positive) >= 0.5 predicts positive)."""

    true_negative: int
    false_positive: int
    false_negative: int
    true_positive: int


@dataclass(frozen=True)
class Evaluation:
    """One version's figures on the rows of a file."""

    version: int | None
    rows: int
    accuracy: float
    accuracy_interval: tuple[float, float]
    confusion: Confusion
    ece: float
    brier: float
    log_loss: float

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["accuracy_interval"] = list(self.accuracy_interval)
        return figures


@dataclass(frozen=True)
class Scored:
    """The evaluations of each model on the same rows, the rows skipped, and (with two
    models) on how many rows their predicted labels differ."""

    evaluations: list[Evaluation]
    skipped: dict[str, int]
    disagreements: int | None


def evaluation(
    version: int | None, positive: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> Evaluation:
    """The figures of P(positive) ``positive`` against ``labels`` (0/1).

    >>> e = evaluation(3, [0.9, 0.8, 0.3, 0.6], [1, 1, 0, 0])
    >>> e.rows, e.accuracy, e.confusion
    (4, 0.75, Confusion(true_negative=1, false_positive=1, false_negative=0, true_positive=2))
    """
    p = np.asarray(positive, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    predicted = p >= 0.5
    actual = y == 1
    right = int(np.sum(predicted == actual))
    return Evaluation(
        version,
        int(y.size),
        reliability.accuracy(p, y),
        reliability.wilson_interval(right, int(y.size)),
        Confusion(
            int(np.sum(~actual & ~predicted)),
            int(np.sum(~actual & predicted)),
            int(np.sum(actual & ~predicted)),
            int(np.sum(actual & predicted)),
        ),
        reliability.ece(p, y),
        reliability.brier(p, y),
        reliability.log_loss(p, y),
    )


def score(models: Sequence[SentimentModel], files: ReviewFiles, batch: int = BATCH) -> Scored:
    """Every model's figures on the rows of ``files``, read once.

    Raises:
        CSVFormatError: a file is not a labelled review file, or no row is left to score.
    """
    positives = [array("d") for _ in models]
    labels = array("b")
    rows = ((review, label) for _line, review, label in files)
    for texts, truth in batches(rows, batch):
        for model, probabilities in zip(models, positives, strict=True):
            probabilities.extend(p.positive_probability for p in model.predict(texts))
        labels.extend(truth)
    if not labels:
        raise CSVFormatError(f"{files.name}: no rows to evaluate")
    y = np.frombuffer(labels, dtype=np.int8)
    arrays = [np.frombuffer(p, dtype=np.float64) for p in positives]
    evaluations = [evaluation(m.version, p, y) for m, p in zip(models, arrays, strict=True)]
    disagreements = None
    if len(arrays) == 2:
        disagreements = int(np.sum((arrays[0] >= 0.5) != (arrays[1] >= 0.5)))
    return Scored(evaluations, skipped_dict(files.skipped), disagreements)
