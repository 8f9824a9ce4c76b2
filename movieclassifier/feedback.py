"""Stored predictions and the feedback on them: the repository functions.

Functions take a ``Session`` and never commit; the view or job owns the transaction.
The confirmed label always comes from the server's own stored prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from movieclassifier.model import LABEL_IDS, Prediction
from movieclassifier.schema import PENDING, Feedback, StoredPrediction


class UnknownPrediction(LookupError):
    """Feedback names a prediction id that was never stored."""


class AlreadyLearned(Exception):
    """The feedback was already taken by a retrain; it can no longer change."""


def store_predictions(
    session: Session, reviews: Sequence[str], predictions: Sequence[Prediction], channel: str
) -> list[StoredPrediction]:
    """Keep the predictions that were shown, so feedback can refer to them by id."""
    rows = [
        StoredPrediction(
            review=review,
            label=prediction.label,
            probability=prediction.probability,
            model_version=prediction.model_version,
            channel=channel,
        )
        for review, prediction in zip(reviews, predictions, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def get_prediction(session: Session, prediction_id: int) -> StoredPrediction:
    """The stored prediction ``prediction_id``.

    Raises:
        UnknownPrediction: there is none with that id.
    """
    row = session.get(StoredPrediction, prediction_id)
    if row is None:
        raise UnknownPrediction(f"there is no stored prediction with id {prediction_id}")
    return row


def confirmed_label(prediction: StoredPrediction, correct: bool) -> int:
    """The label a person confirmed: the predicted one if correct, the other one if not.

    >>> confirmed_label(StoredPrediction(label="positive"), correct=False)
    0
    """
    predicted = LABEL_IDS[prediction.label]
    return predicted if correct else 1 - predicted


def add(session: Session, prediction_id: int, correct: bool) -> Feedback:
    """Record an answer; a second answer replaces the first while it is still pending.

    Raises:
        UnknownPrediction: no stored prediction has that id.
        AlreadyLearned: a retrain has taken the earlier answer; it can no longer change.
    """
    prediction = get_prediction(session, prediction_id)
    label = confirmed_label(prediction, correct)
    # Lock the row, so a retrain claiming it and this replacement cannot interleave.
    existing = session.scalar(
        select(Feedback).where(Feedback.prediction_id == prediction_id).with_for_update()
    )
    if existing is None:
        row = Feedback(prediction_id=prediction_id, correct=correct, label=label, status=PENDING)
        session.add(row)
        session.flush()
        return row
    if existing.status != PENDING:
        raise AlreadyLearned(
            f"the answer to prediction {prediction_id} is already {existing.status}; "
            "it can no longer change"
        )
    existing.correct = correct
    existing.label = label
    existing.updated_at = datetime.now(UTC)
    session.flush()
    return existing
