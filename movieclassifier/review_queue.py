"""The review queue: tracked predictions nobody has answered, most uncertain first.

Uncertainty sampling (Lewis & Gale, 1994; Prodigy's ``textcat.teach``): the answers that
teach a model most are to the reviews it is least sure of. A stored prediction's
``probability`` is that of the label it gave (at least 0.5), so the most uncertain are the
lowest. ``bench/active.py`` measures the order against a random one with ``most_uncertain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from movieclassifier.schema import Feedback, StoredPrediction, as_utc


@dataclass(frozen=True)
class Question:
    """One tracked prediction waiting for an answer."""

    id: int
    review: str
    label: str
    probability: float
    version: int
    asked_at: datetime | None


@dataclass(frozen=True)
class Queue:
    """The next questions of the queue, and how many wait in all."""

    questions: list[Question]
    total: int


def _unanswered(version: int) -> list[ColumnElement[bool]]:
    answered = select(Feedback.id).where(Feedback.prediction_id == StoredPrediction.id).exists()
    return [StoredPrediction.model_version == version, ~answered]


def waiting(session: Session, version: int, limit: int = 1, offset: int = 0) -> Queue:
    """Unanswered predictions of ``version``, most uncertain first (ties: oldest first)."""
    filters = _unanswered(version)
    rows = session.execute(
        select(
            StoredPrediction.id,
            StoredPrediction.review,
            StoredPrediction.label,
            StoredPrediction.probability,
            StoredPrediction.model_version,
            StoredPrediction.created_at,
        )
        .where(*filters)
        .order_by(StoredPrediction.probability, StoredPrediction.id)
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(StoredPrediction).where(*filters))
    questions = [
        Question(row_id, review, label, probability, model_version, as_utc(created))
        for row_id, review, label, probability, model_version, created in rows
    ]
    return Queue(questions, int(total or 0))


def is_waiting(session: Session, prediction_id: int, version: int) -> bool:
    """Whether ``prediction_id`` is still in the queue of ``version``."""
    found = session.scalar(
        select(StoredPrediction.id).where(
            StoredPrediction.id == prediction_id, *_unanswered(version)
        )
    )
    return found is not None


def most_uncertain(positive_probabilities: Sequence[float] | np.ndarray) -> np.ndarray:
    """Indices of ``positive_probabilities``, most uncertain first: the queue's order.

    >>> most_uncertain([0.9, 0.45, 0.2, 0.6]).tolist()
    [1, 3, 2, 0]
    """
    distance = np.abs(np.asarray(positive_probabilities, dtype=float) - 0.5)
    return np.argsort(distance, kind="stable")
