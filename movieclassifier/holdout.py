"""The held-out reviews that ``train_stream.py --holdout`` keeps for the gate, and the gate a
new base from ``train_stream.py`` goes through (a retrain's is ``retrain._gate``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import model_store
from movieclassifier.model import Labelled, SentimentModel
from movieclassifier.schema import PROMOTED, REJECTED, HoldoutReview

INSERT_CHUNK = 1000

# Why a version was promoted or rejected (``GateResult.reason``).
FIRST = "first"  # no version was current
NOT_GATED = "not_gated"  # no held-out set is stored to compare on
GATE = "gate"  # compared with the current version on the stored held-out set
OVERRIDDEN = "promote"  # rejected by the gate, published because promote=True


@dataclass(frozen=True)
class GateResult:
    """How the new version compared with the current one on the stored held-out set."""

    status: str
    reason: str
    current_version: int | None = None
    rows: int = 0
    accuracy_current: float | None = None
    accuracy_new: float | None = None
    max_drop: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def passes_gate(before: float, after: float, max_drop: float) -> bool:
    """Whether held-out accuracy ``after`` is no more than ``max_drop`` below ``before``.

    >>> passes_gate(0.90, 0.89, 0.01), passes_gate(0.90, 0.88, 0.01)
    (True, False)
    """
    # A tiny tolerance, so a drop of exactly max_drop on a float round-off is not a rejection.
    return before - after <= max_drop + 1e-9


def gate_against_current(
    sessions: sessionmaker[Session],
    model_dir: Path,
    model: SentimentModel,
    max_drop: float,
    promote: bool,
) -> GateResult:
    """Score the current version and ``model`` on the stored held-out set: the set the
    current version is gated on, before this run's rows replace it.

    Raises:
        model_store.ModelStoreError: the current version cannot be loaded.
    """
    with sessions() as session:
        current_version = model_store.current_version(session)
        if current_version is None:
            return GateResult(PROMOTED, FIRST, max_drop=max_drop)
        held = load(session)
        if not held.texts:
            return GateResult(PROMOTED, NOT_GATED, current_version, max_drop=max_drop)
        current = model_store.load(session, current_version, model_dir)
    # The features do not depend on the model: hash the held-out reviews once.
    features = model.vectorize(held.texts)
    before = current.accuracy_of_features(features, held.labels)
    after = model.accuracy_of_features(features, held.labels)
    passed = passes_gate(before, after, max_drop)
    status = PROMOTED if passed or promote else REJECTED
    reason = GATE if passed or not promote else OVERRIDDEN
    return GateResult(status, reason, current_version, len(held.texts), before, after, max_drop)
