"""The dashboard's numbers, computed from the database: counts, versions, live accuracy.

Pure (no Flask): every function takes a ``Session`` and aggregates in SQL, so the cost of a
dashboard view does not grow with Python loops over the predictions table. No function
here returns review text: the dashboard is public.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Case, Integer, case, func, select
from sqlalchemy.orm import Session

from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    LEARNED,
    LEARNING,
    PENDING,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    CurrentModel,
    Feedback,
    ModelVersion,
    RetrainRun,
    StoredPrediction,
    as_utc,
)

# Feedback still waiting to be learned: new, claimed by a running retrain, or approved by
# an operator after quarantine (the next retrain learns it).
WAITING_STATUSES = (PENDING, LEARNING, APPROVED)
# Bucket sizes for the live accuracy chart: the smallest that keeps it under MAX_POINTS.
BUCKET_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
MAX_POINTS = 60


@dataclass(frozen=True)
class Counts:
    """How many predictions were stored and where their feedback stands."""

    predictions: int
    feedback: int
    pending: int
    learned: int
    quarantined: int
    discarded: int


@dataclass(frozen=True)
class VersionStats:
    """One model version: registry facts plus how the predictions it served were judged."""

    version: int
    status: str
    source: str
    created_at: datetime | None
    promoted_at: datetime | None
    learned: int
    holdout_accuracy: float | None
    predictions: int
    answers: int
    correct: int
    is_current: bool
    pruned: bool = False

    @property
    def live_accuracy(self) -> float | None:
        """Share of answered predictions of this version that people marked correct."""
        return self.correct / self.answers if self.answers else None


@dataclass(frozen=True)
class Point:
    """One bucket of consecutive answers on the live accuracy chart."""

    start: int
    answers: int
    correct: int
    first_at: datetime | None
    last_at: datetime | None

    @property
    def end(self) -> int:
        return self.start + self.answers

    @property
    def accuracy(self) -> float:
        return self.correct / self.answers


@dataclass(frozen=True)
class Promotion:
    """A version's (latest) promotion, placed after the answers given before it."""

    version: int
    promoted_at: datetime
    answers_before: int


@dataclass(frozen=True)
class Series:
    """Live accuracy over answers, ``bucket`` answers per point, with promotion marks."""

    bucket: int
    total: int
    points: list[Point]
    promotions: list[Promotion]


def counts(session: Session) -> Counts:
    """Predictions stored and feedback by state: two aggregate queries."""
    predictions = session.scalar(select(func.count()).select_from(StoredPrediction)) or 0
    states = feedback_states(session)
    return Counts(predictions=predictions, feedback=sum(states.values()), **states)


def feedback_states(session: Session) -> dict[str, int]:
    """Feedback rows waiting ("pending"), learned, quarantined and discarded: one query."""
    by_status = dict(
        session.execute(select(Feedback.status, func.count()).group_by(Feedback.status)).all()
    )
    return {
        "pending": sum(by_status.get(status, 0) for status in WAITING_STATUSES),
        "learned": by_status.get(LEARNED, 0),
        "quarantined": by_status.get(QUARANTINED, 0),
        "discarded": by_status.get(DISCARDED, 0),
    }


def current_version(session: Session) -> ModelVersion | None:
    """The registry row of the version workers serve now (no aggregates: cheap)."""
    return session.scalar(
        select(ModelVersion).join(CurrentModel, CurrentModel.version == ModelVersion.version)
    )


def _is_correct() -> Case[int]:
    return case((Feedback.correct, 1), else_=0)


def versions(session: Session) -> list[VersionStats]:
    """Every version, newest first, with the live accuracy of the predictions it served.

    Live accuracy leaves out feedback an operator discarded: those answers were judged
    untrustworthy.
    """
    served = (
        select(
            StoredPrediction.model_version.label("version"),
            func.count(StoredPrediction.id).label("predictions"),
            func.count(Feedback.id).label("answers"),
            func.coalesce(func.sum(_is_correct()), 0).label("correct"),
        )
        .outerjoin(
            Feedback,
            (Feedback.prediction_id == StoredPrediction.id) & (Feedback.status != DISCARDED),
        )
        .group_by(StoredPrediction.model_version)
        .subquery()
    )
    current = select(CurrentModel.version).where(CurrentModel.id == 1).scalar_subquery()
    query = (
        select(
            ModelVersion.version,
            ModelVersion.status,
            ModelVersion.source,
            ModelVersion.created_at,
            ModelVersion.promoted_at,
            ModelVersion.learned,
            ModelVersion.holdout_accuracy,
            ModelVersion.pruned_at,
            func.coalesce(served.c.predictions, 0),
            func.coalesce(served.c.answers, 0),
            func.coalesce(served.c.correct, 0),
            current,
        )
        .outerjoin(served, served.c.version == ModelVersion.version)
        .order_by(ModelVersion.version.desc())
    )
    return [
        VersionStats(
            version=row[0],
            status=row[1],
            source=row[2],
            created_at=as_utc(row[3]),
            promoted_at=as_utc(row[4]),
            learned=row[5] or 0,
            holdout_accuracy=row[6],
            predictions=int(row[8]),
            answers=int(row[9]),
            correct=int(row[10]),
            is_current=row[11] == row[0],
            pruned=row[7] is not None,
        )
        for row in session.execute(query)
    ]


def current(version_stats: list[VersionStats]) -> VersionStats | None:
    """The version workers serve now, from the result of ``versions``."""
    return next((v for v in version_stats if v.is_current), None)


def bucket_size(total: int, max_points: int = MAX_POINTS) -> int:
    """The smallest bucket from ``BUCKET_SIZES`` that draws ``total`` answers in few points.

    >>> bucket_size(0), bucket_size(60), bucket_size(61), bucket_size(5000)
    (1, 1, 2, 100)
    """
    for size in BUCKET_SIZES:
        if math.ceil(total / size) <= max_points:
            return size
    return math.ceil(total / max_points)


def live_accuracy(session: Session, max_points: int = MAX_POINTS) -> Series:
    """Live accuracy per bucket of consecutive answers, and where each promotion fell."""
    kept = Feedback.status != DISCARDED
    total = session.scalar(select(func.count()).select_from(Feedback).where(kept)) or 0
    size = bucket_size(total, max_points)
    numbered = (
        select(
            Feedback.correct,
            Feedback.created_at,
            (func.row_number().over(order_by=Feedback.id) - 1).label("n"),
        )
        .where(kept)
        .subquery()
    )
    bucket = func.cast(numbered.c.n, Integer) // size
    rows = session.execute(
        select(
            bucket,
            func.count(),
            func.sum(case((numbered.c.correct, 1), else_=0)),
            func.min(numbered.c.created_at),
            func.max(numbered.c.created_at),
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    points = [
        Point(int(b) * size, int(n), int(correct or 0), as_utc(first), as_utc(last))
        for b, n, correct, first, last in rows
    ]
    return Series(size, total, points, promotions(session, points))


def promotions(session: Session, points: list[Point]) -> list[Promotion]:
    """Each version's latest promotion, placed among the answers of ``points`` by time.

    Exact when a point is one answer; otherwise placed within its bucket by time. Placing
    it from the buckets already fetched avoids a count over all feedback per version.
    """
    rows = session.execute(
        select(ModelVersion.version, ModelVersion.promoted_at)
        .where(ModelVersion.promoted_at.is_not(None))
        .order_by(ModelVersion.promoted_at, ModelVersion.version)
    )
    placed = []
    for version, promoted_at in rows:
        moment = as_utc(promoted_at)
        assert moment is not None  # filtered in SQL
        placed.append(Promotion(version, moment, answers_before(points, moment)))
    return placed


def answers_before(points: list[Point], moment: datetime) -> int:
    """How many answers of ``points`` were given at or before ``moment``.

    >>> from datetime import UTC
    >>> at = lambda minute: datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
    >>> points = [Point(0, 10, 5, at(0), at(9)), Point(10, 10, 5, at(10), at(19))]
    >>> [answers_before(points, at(minute)) for minute in (9, 14, 30)]
    [10, 14, 20]
    """
    answered = 0
    for point in points:
        if point.first_at is None or point.last_at is None or point.first_at > moment:
            break
        if point.last_at <= moment:
            answered = point.end
            continue
        # The moment falls inside this bucket: interpolate by time.
        share = (moment - point.first_at) / (point.last_at - point.first_at)
        return point.start + int(share * point.answers)
    return answered


def last_retrain(session: Session) -> RetrainRun | None:
    """The newest row of ``retrain_runs``, or None before the first run."""
    return session.scalar(select(RetrainRun).order_by(RetrainRun.id.desc()).limit(1))


@dataclass(frozen=True)
class RetrainHistory:
    """The newest retrain run, and the newest that promoted and that rejected a version."""

    last_run: RetrainRun | None
    last_promotion: RetrainRun | None
    last_rejection: RetrainRun | None


def retrain_history(session: Session) -> RetrainHistory:
    """The last run, last promotion and last rejection of ``retrain_runs``: one query.

    The newest run of each status is fetched; the newest of those is the last run.
    """
    newest_per_status = select(func.max(RetrainRun.id)).group_by(RetrainRun.status)
    runs = session.scalars(
        select(RetrainRun).where(RetrainRun.id.in_(newest_per_status)).order_by(RetrainRun.id)
    ).all()
    by_status = {run.status: run for run in runs}
    return RetrainHistory(
        last_run=runs[-1] if runs else None,
        last_promotion=by_status.get(PROMOTED),
        last_rejection=by_status.get(REJECTED),
    )


@dataclass(frozen=True)
class RetrainOutcome:
    """Retrain runs that ended with one status: how many, their seconds, a histogram."""

    status: str
    runs: int
    seconds: float
    # Cumulative run counts per upper bound in seconds, as Prometheus histograms want them.
    buckets: list[tuple[float, int]]


def retrain_outcomes(session: Session, bounds: tuple[float, ...]) -> list[RetrainOutcome]:
    """Runs by outcome with their duration histogram over ``bounds``: one query."""
    at_most = [func.sum(case((RetrainRun.seconds <= bound, 1), else_=0)) for bound in bounds]
    rows = session.execute(
        select(
            RetrainRun.status,
            func.count(),
            func.coalesce(func.sum(RetrainRun.seconds), 0.0),
            *at_most,
        )
        .group_by(RetrainRun.status)
        .order_by(RetrainRun.status)
    )
    return [
        RetrainOutcome(
            status=row[0],
            runs=int(row[1]),
            seconds=float(row[2]),
            buckets=[(bound, int(n or 0)) for bound, n in zip(bounds, row[3:], strict=True)],
        )
        for row in rows
    ]


# Live accuracy has collapsed when, over the newest COLLAPSE_WINDOW answers to the current
# version's predictions (at least COLLAPSE_MIN_ANSWERS of them), under COLLAPSE_BELOW were
# marked correct while its held-out accuracy is at least COLLAPSE_HOLDOUT_AT_LEAST: people
# are contradicting a model that scores well on held-out reviews. Either the answers are
# lies (the gate keeps them out of the model), or the reviews differ from the held-out ones.
COLLAPSE_WINDOW = 200
COLLAPSE_MIN_ANSWERS = 50
COLLAPSE_BELOW = 0.5
COLLAPSE_HOLDOUT_AT_LEAST = 0.8


@dataclass(frozen=True)
class RecentAccuracy:
    """The current version's newest answers (up to ``COLLAPSE_WINDOW``) and its held-out figure."""

    version: int | None
    answers: int
    correct: int
    holdout_accuracy: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answers if self.answers else None

    @property
    def collapsed(self) -> bool:
        """The one rule for the dashboard's warning and the /metrics gauge.

        >>> RecentAccuracy(1, 200, 90, 0.92).collapsed
        True
        >>> [RecentAccuracy(1, 49, 0, 0.92).collapsed, RecentAccuracy(1, 200, 100, 0.92).collapsed]
        [False, False]
        >>> [RecentAccuracy(1, 200, 90, 0.7).collapsed, RecentAccuracy(1, 200, 90, None).collapsed]
        [False, False]
        """
        return (
            self.answers >= COLLAPSE_MIN_ANSWERS
            and self.holdout_accuracy is not None
            and self.holdout_accuracy >= COLLAPSE_HOLDOUT_AT_LEAST
            and self.correct < COLLAPSE_BELOW * self.answers
        )


def recent_accuracy(session: Session, window: int = COLLAPSE_WINDOW) -> RecentAccuracy:
    """Live accuracy over the newest ``window`` answers to the current version: two queries.

    Answers an operator discarded do not count, as in ``versions``. The newest answers are
    read by feedback id, newest first, and stop at ``window``: cheap enough for a scrape.
    """
    newest = (
        select(Feedback.correct)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .join(CurrentModel, CurrentModel.version == StoredPrediction.model_version)
        .where(CurrentModel.id == 1, Feedback.status != DISCARDED)
        .order_by(Feedback.id.desc())
        .limit(window)
        .subquery()
    )
    answers, correct = session.execute(
        select(func.count(), func.coalesce(func.sum(case((newest.c.correct, 1), else_=0)), 0))
    ).one()
    row = current_version(session)
    return RecentAccuracy(
        version=row.version if row else None,
        answers=int(answers),
        correct=int(correct),
        holdout_accuracy=row.holdout_accuracy if row else None,
    )
