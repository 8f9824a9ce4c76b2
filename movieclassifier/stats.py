"""The dashboard's numbers, computed from the database: counts, versions, live accuracy.

Pure (no Flask): every function takes a ``Session`` and aggregates in SQL, so the cost of a
dashboard view does not grow with Python loops over the predictions table. No function
here returns review text: the dashboard is public.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Case,
    ColumnElement,
    Integer,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from movieclassifier import reliability
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    HELD_OUT,
    LEARNED,
    LEARNING,
    PENDING,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    RETRACTED,
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
# The live reliability diagram counts this many of the newest answers: its cost stays flat.
LIVE_RELIABILITY_ROWS = 10_000


@dataclass(frozen=True)
class Counts:
    """How many predictions were stored and where their feedback stands."""

    predictions: int
    feedback: int
    pending: int
    learned: int
    quarantined: int
    discarded: int
    held_out: int = 0  # the gate's domain slice
    retracted: int = 0


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


def counts(session: Session, predictions: int | None = None) -> Counts:
    """Predictions stored and feedback by state: two aggregate queries, or one when the
    caller already counted the predictions (the dashboard sums ``versions``: every
    prediction names a registered version, and registry rows are never deleted)."""
    if predictions is None:
        predictions = session.scalar(select(func.count()).select_from(StoredPrediction)) or 0
    states = feedback_states(session)
    return Counts(predictions=predictions, feedback=sum(states.values()), **states)


def feedback_states(session: Session) -> dict[str, int]:
    """Feedback rows waiting ("pending"), learned, quarantined, discarded, held out (the
    domain slice) and retracted: one query."""
    by_status = dict(
        session.execute(select(Feedback.status, func.count()).group_by(Feedback.status)).all()
    )
    return {
        "pending": sum(by_status.get(status, 0) for status in WAITING_STATUSES),
        "learned": by_status.get(LEARNED, 0),
        "quarantined": by_status.get(QUARANTINED, 0),
        "discarded": by_status.get(DISCARDED, 0),
        "held_out": by_status.get(HELD_OUT, 0),
        "retracted": by_status.get(RETRACTED, 0),
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
    untrustworthy. Three aggregates, none a join of every prediction with its feedback
    (bench/results/dashboard.md): the registry, the predictions per version (counted on
    the ``(model_version, id)`` index alone) and the answers per version (``answers_by_version``).
    """
    current = select(CurrentModel.version).where(CurrentModel.id == 1).scalar_subquery()
    registry = session.execute(
        select(
            ModelVersion.version,
            ModelVersion.status,
            ModelVersion.source,
            ModelVersion.created_at,
            ModelVersion.promoted_at,
            ModelVersion.learned,
            ModelVersion.holdout_accuracy,
            ModelVersion.pruned_at,
            current,
        ).order_by(ModelVersion.version.desc())
    ).all()
    served = dict(
        session.execute(
            select(StoredPrediction.model_version, func.count()).group_by(
                StoredPrediction.model_version
            )
        ).all()
    )
    answered = answers_by_version(session)
    return [
        VersionStats(
            version=row[0],
            status=row[1],
            source=row[2],
            created_at=as_utc(row[3]),
            promoted_at=as_utc(row[4]),
            learned=row[5] or 0,
            holdout_accuracy=row[6],
            predictions=int(served.get(row[0], 0)),
            answers=answered.get(row[0], (0, 0))[0],
            correct=answered.get(row[0], (0, 0))[1],
            is_current=row[8] == row[0],
            pruned=row[7] is not None,
        )
        for row in registry
    ]


# More versions than this and the id ranges below make too long a statement: join instead.
MAX_RANGED_VERSIONS = 400
LOWEST_ID = -(2**63)


def answers_by_version(session: Session) -> dict[int, tuple[int, int]]:
    """Answers (not discarded) and how many were correct, per version that served them.

    The answer to a prediction of version v is found by the prediction's id. The first and
    last prediction of each version are two index look-ups (``id_ranges``); an answer whose
    prediction id lies in the range of one version only is that version's, without reading
    the prediction. Answers in ranges that overlap (while workers moved from one version to
    the next) are joined with their predictions, and so is every answer when there are too
    many versions for one statement.
    """
    kept = Feedback.status != DISCARDED
    ranges = id_ranges(session)
    if len(ranges) > MAX_RANGED_VERSIONS:
        return _answers_joined(session, kept)
    if not ranges:
        return {}  # no prediction, so no answer
    # Below the first range there is no prediction either; joined all the same.
    segments: list[tuple[int, int | None]] = [(LOWEST_ID, None), *segments_of(ranges)]
    bounds = [start for start, _ in segments[1:]]
    segment = _bisect_case(Feedback.prediction_id, bounds, 0, len(segments)).label("segment")
    rows = session.execute(
        select(segment, func.count(), func.coalesce(func.sum(_is_correct()), 0))
        .where(kept)
        .group_by(segment)
    )
    found: dict[int, tuple[int, int]] = {}
    overlaps = []
    for index, answers, correct in rows:
        version = segments[int(index)][1]
        if version is None:
            overlaps.append(int(index))
            continue
        before = found.get(version, (0, 0))
        found[version] = (before[0] + int(answers), before[1] + int(correct))
    if overlaps:
        spans = [
            Feedback.prediction_id.between(segments[i][0], segments[i + 1][0] - 1)
            if i + 1 < len(segments)
            else Feedback.prediction_id >= segments[i][0]
            for i in overlaps
        ]
        for version, (answers, correct) in _answers_joined(session, kept & or_(*spans)).items():
            before = found.get(version, (0, 0))
            found[version] = (before[0] + answers, before[1] + correct)
    return found


def _answers_joined(session: Session, where: ColumnElement[bool]) -> dict[int, tuple[int, int]]:
    rows = session.execute(
        select(
            StoredPrediction.model_version,
            func.count(),
            func.coalesce(func.sum(_is_correct()), 0),
        )
        .select_from(Feedback)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .where(where)
        .group_by(StoredPrediction.model_version)
    )
    return {int(version): (int(answers), int(correct)) for version, answers, correct in rows}


def id_ranges(session: Session) -> list[tuple[int, int, int]]:
    """(version, first prediction id, last prediction id) of every version that served any.

    Two index look-ups per version: ``(model_version, id)`` is indexed (migration 0005).
    """
    first = (
        select(func.min(StoredPrediction.id))
        .where(StoredPrediction.model_version == ModelVersion.version)
        .scalar_subquery()
    )
    last = (
        select(func.max(StoredPrediction.id))
        .where(StoredPrediction.model_version == ModelVersion.version)
        .scalar_subquery()
    )
    rows = session.execute(select(ModelVersion.version, first, last))
    return [(version, lo, hi) for version, lo, hi in rows if lo is not None]


def segments_of(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int | None]]:
    """Cut the ids into segments, each (first id, its version or None where ranges overlap).

    A segment runs to the next one's first id; the last runs past the last range, and
    holds no prediction (so no answer) unless one was stored meanwhile: it is joined.

    >>> segments_of([(1, 1, 10), (2, 8, 20), (3, 21, 30)])
    [(1, 1), (8, None), (11, 2), (21, 3), (31, None)]
    >>> segments_of([(5, 3, 3)])
    [(3, 5), (4, None)]
    """
    begins: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    for version, lo, hi in ranges:
        begins.setdefault(lo, []).append(version)
        ends.setdefault(hi + 1, []).append(version)
    points = sorted(begins.keys() | ends.keys())
    covering: set[int] = set()
    segments: list[tuple[int, int | None]] = []
    for start in points[:-1]:
        covering.difference_update(ends.get(start, ()))
        covering.update(begins.get(start, ()))
        owner = next(iter(covering)) if len(covering) == 1 else None
        if owner is not None and segments and segments[-1][1] == owner:
            continue  # the same version goes on
        segments.append((start, owner))
    segments.append((points[-1], None))
    return segments


def _bisect_case(column: Any, bounds: list[int], lo: int, hi: int) -> Any:
    """The index of the segment ``column`` falls in: ``bounds[i - 1] <= column < bounds[i]``
    for segment ``i`` of ``lo`` to ``hi - 1``, as nested CASEs (log2 comparisons a row)."""
    if hi - lo <= 1:
        return literal(lo)
    middle = (lo + hi) // 2
    return case(
        (column < bounds[middle - 1], _bisect_case(column, bounds, lo, middle)),
        else_=_bisect_case(column, bounds, middle, hi),
    )


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
    # SQLite caps a compound SELECT at 500 parts: more buckets are numbered instead.
    if session.get_bind().dialect.name == "sqlite" and 0 < math.ceil(total / size) <= 400:
        rows = _buckets_by_id(session, size)
    else:
        rows = _buckets_numbered(session, size)
    points = [
        Point(int(b) * size, int(n), int(correct or 0), as_utc(first), as_utc(last))
        for b, n, correct, first, last in rows
    ]
    return Series(size, total, points, promotions(session, points))


def live_reliability(
    session: Session, version: int, newest: int = LIVE_RELIABILITY_ROWS
) -> list[reliability.Bin]:
    """The reliability bins of the ``newest`` answers to ``version``'s predictions: per bin
    of the probability shown, how often people said the label was right (discarded answers
    left out, as in ``live_accuracy``). Self-selected: people answer what they choose to."""
    answers = (
        select(StoredPrediction.probability.label("shown"), _is_correct().label("right"))
        .join(Feedback, Feedback.prediction_id == StoredPrediction.id)
        .where(StoredPrediction.model_version == version, Feedback.status != DISCARDED)
        .order_by(Feedback.id.desc())
        .limit(newest)
        .subquery()
    )
    shown = answers.c.shown
    edges = [(number + 1) / reliability.BINS for number in range(reliability.BINS - 1)]
    which = case(*((shown < edge, number) for number, edge in enumerate(edges)), else_=len(edges))
    rows = session.execute(
        select(which, func.count(), func.avg(shown), func.sum(answers.c.right))
        .group_by(which)
        .order_by(which)
    )
    return [
        reliability.Bin(
            number / reliability.BINS,
            (number + 1) / reliability.BINS,
            int(answers),
            float(confidence),
            int(correct) / int(answers),
        )
        for number, answers, confidence, correct in rows
    ]


def _buckets_numbered(session: Session, size: int) -> Sequence[tuple[Any, ...]]:
    """(bucket, answers, correct, first, last) per ``size`` answers in id order: each kept
    answer numbered by a window function, then grouped (PostgreSQL does this well)."""
    numbered = (
        select(
            Feedback.correct,
            Feedback.created_at,
            (func.row_number().over(order_by=Feedback.id) - 1).label("n"),
        )
        .where(Feedback.status != DISCARDED)
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
    return [tuple(row) for row in rows]


def _buckets_by_id(session: Session, size: int) -> Sequence[tuple[Any, ...]]:
    """The same rows as ``_buckets_numbered``, for SQLite, where numbering and grouping
    100,000 answers takes twice as long: the first id of each bucket is found by stepping
    ``size`` answers on from the last one (one recursive query), then each bucket is an
    id range aggregated on its own (bench/results/dashboard.md)."""
    kept = Feedback.status != DISCARDED
    later = aliased(Feedback)
    first = select(func.min(Feedback.id)).where(kept).scalar_subquery()
    starts = select(literal(0).label("k"), first.label("id")).cte("starts", recursive=True)
    step = (
        select(later.id)
        .where(later.status != DISCARDED, later.id > starts.c.id)
        .order_by(later.id)
        .limit(1)
        .offset(size - 1)
        .scalar_subquery()
    )
    starts = starts.union_all(select(starts.c.k + 1, step).where(starts.c.id.is_not(None)))
    bounds = list(
        session.scalars(select(starts.c.id).where(starts.c.id.is_not(None)).order_by(starts.c.k))
    )
    parts = [
        select(
            literal(index),
            func.count(),
            func.sum(_is_correct()),
            func.min(Feedback.created_at),
            func.max(Feedback.created_at),
        ).where(
            kept,
            Feedback.id >= low,
            *([Feedback.id < bounds[index + 1]] if index + 1 < len(bounds) else []),
        )
        for index, low in enumerate(bounds)
    ]
    rows: list[tuple[Any, ...]] = [tuple(row) for row in session.execute(union_all(*parts))]
    return sorted(rows, key=lambda row: int(row[0]))


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


# recent_accuracy first looks at this many of the newest answers (of any version).
RECENT_SCAN_FACTOR = 10


def recent_accuracy(session: Session, window: int = COLLAPSE_WINDOW) -> RecentAccuracy:
    """Live accuracy over the newest ``window`` answers to the current version: three
    queries, four when the newest answers hold fewer than ``window`` for it.

    Answers an operator discarded do not count, as in ``versions``. The newest answers are
    read by feedback id, newest first, and stop at ``window``. They are looked for among the
    newest ``RECENT_SCAN_FACTOR * window`` answers first, each joined with its prediction:
    when ``window`` of them are the current version's, no older answer can be among its
    newest. Only otherwise (a version just promoted) are all answers searched, where
    PostgreSQL joins the current version's predictions with every answer (bench/results/
    dashboard.md).
    """
    since = session.scalar(
        select(Feedback.id)
        .order_by(Feedback.id.desc())
        .offset(RECENT_SCAN_FACTOR * window - 1)
        .limit(1)
    )
    answers, correct = _newest_answers(session, window, since)
    if since is not None and answers < window:
        answers, correct = _newest_answers(session, window, None)
    row = current_version(session)
    return RecentAccuracy(
        version=row.version if row else None,
        answers=answers,
        correct=correct,
        holdout_accuracy=row.holdout_accuracy if row else None,
    )


def _newest_answers(session: Session, window: int, since: int | None) -> tuple[int, int]:
    """How many of the newest ``window`` answers (from feedback id ``since`` on, if given)
    to the current version there are, and how many say it was right."""
    newest = (
        select(Feedback.correct)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .join(CurrentModel, CurrentModel.version == StoredPrediction.model_version)
        .where(CurrentModel.id == 1, Feedback.status != DISCARDED)
        .order_by(Feedback.id.desc())
        .limit(window)
    )
    if since is not None:
        newest = newest.where(Feedback.id >= since)
    counted = newest.subquery()
    answers, correct = session.execute(
        select(func.count(), func.coalesce(func.sum(case((counted.c.correct, 1), else_=0)), 0))
    ).one()
    return int(answers), int(correct)
