"""The held-out reviews that ``train_stream.py --holdout`` keeps for the retraining gate."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from movieclassifier.model import Labelled
from movieclassifier.schema import HoldoutReview

INSERT_CHUNK = 1000


def replace(session: Session, reviews: Sequence[str], labels: Sequence[int]) -> None:
    """Make ``reviews`` the held-out set (no commit; done with the version that made it)."""
    session.execute(delete(HoldoutReview))
    rows = [{"review": r, "label": int(y)} for r, y in zip(reviews, labels, strict=True)]
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(HoldoutReview), rows[start : start + INSERT_CHUNK])


def load(session: Session) -> Labelled:
    """The held-out reviews and their labels, in a stable order."""
    result = session.execute(
        select(HoldoutReview.review, HoldoutReview.label).order_by(HoldoutReview.id)
    )
    held = Labelled([], [])
    for review, label in result:
        held.texts.append(review)
        held.labels.append(label)
    return held


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(HoldoutReview)) or 0
