"""How long a tracked prediction nobody answered is kept (``PREDICTION_RETENTION_DAYS``).

Pure (no Flask, no click): ``flask --app movieclassifier prune`` and the retrain run call
``expire_unanswered``. A prediction with a feedback row, in whatever status, is answered
and stays whatever its age: the labels it carries are what the retrains learn and what the
dashboard's live accuracy counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from movieclassifier.schema import Feedback, StoredPrediction

# Rows deleted per statement and per transaction: small enough that a SQLite writer (the
# web storing predictions) waits a moment at most, and that no statement names a million ids.
CHUNK_ROWS = 2000


def cutoff(days: int, now: datetime | None = None) -> datetime | None:
    """The creation time before which an unanswered prediction is expired, or None when
    nothing is (``days`` 0, or so many days that the date would precede year 1).

    >>> cutoff(90, datetime(2026, 12, 3, 12, 0, tzinfo=UTC)).isoformat()
    '2026-09-04T12:00:00+00:00'
    >>> cutoff(0) is None, cutoff(10**9) is None
    (True, True)
    """
    if days <= 0:
        return None
    moment = now if now is not None else datetime.now(UTC)
    # SQLite stores times as naive UTC text: compare in UTC.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return None


def _unanswered() -> ColumnElement[bool]:
    return ~exists().where(Feedback.prediction_id == StoredPrediction.id)


def expire_unanswered(session: Session, days: int, now: datetime | None = None) -> int:
    """Delete the tracked predictions older than ``days`` days that have no feedback row;
    how many were deleted. ``days`` 0 (or less) deletes nothing.

    It COMMITS after each chunk of ``CHUNK_ROWS`` rows, so no transaction grows with the
    table and SQLite's write lock is held for one chunk at a time: call it with a session
    that has nothing else pending (whatever it has is committed as it starts), outside any
    transaction of the caller's. A run that stops half-way keeps the chunks it committed;
    the next run removes the rest.

    An answer given meanwhile is never lost: ``feedback.add`` locks the prediction before it
    inserts, each chunk is locked first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, which skips
    a prediction being answered; SQLite has one writer at a time) and the DELETE checks again
    that the row has no feedback. An answer to a prediction just deleted finds no prediction.

    Chunks walk the primary key upwards, up to the highest id created before the cutoff, so
    a run looks at each old row once (bench/results/dashboard.md: 600,000 of 1,000,000 rows
    in under a minute on either backend).
    """
    before = cutoff(days, now)
    if before is None:
        return 0
    old = StoredPrediction.created_at < before
    highest = session.scalar(select(func.max(StoredPrediction.id)).where(old))
    session.commit()
    if highest is None:
        return 0
    removed = 0
    after = 0
    while True:
        ids = list(
            session.scalars(
                select(StoredPrediction.id)
                .where(
                    StoredPrediction.id > after,
                    StoredPrediction.id <= highest,
                    old,
                    _unanswered(),
                )
                .order_by(StoredPrediction.id)
                .limit(CHUNK_ROWS)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            session.commit()
            return removed
        result = session.execute(
            delete(StoredPrediction)
            .where(StoredPrediction.id.in_(ids), _unanswered())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        removed += result.rowcount  # type: ignore[attr-defined]
        after = ids[-1]
