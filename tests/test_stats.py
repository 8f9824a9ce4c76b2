"""The dashboard's numbers, on rows inserted straight into each backend's tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from movieclassifier import schema, stats
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    LEARNED,
    LEARNING,
    PENDING,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    ROLLED_BACK,
    CurrentModel,
    Feedback,
    ModelVersion,
    RetrainRun,
    StoredPrediction,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def add_version(session, status, holdout=None, promoted_at=None, learned=0):
    row = ModelVersion(
        status=status,
        filename=f"classifier-{status}-{promoted_at}.pkl",
        sha256="0" * 64,
        size_bytes=1,
        sklearn_version="x",
        numpy_version="x",
        feature_params={},
        source="test",
        holdout_accuracy=holdout,
        promoted_at=promoted_at,
        learned=learned,
        created_at=T0,
    )
    session.add(row)
    session.flush()
    return row.version


def make_current(session, version):
    session.merge(CurrentModel(id=1, version=version, changed_at=T0))
    session.flush()


def add_answers(session, version, outcomes, status=LEARNED, start=T0, review="a review"):
    """One stored prediction per outcome (True = marked correct), answered a minute apart."""
    for i, correct in enumerate(outcomes):
        prediction = StoredPrediction(
            review=review, label="positive", probability=0.9, model_version=version, channel="web"
        )
        session.add(prediction)
        session.flush()
        if correct is None:
            continue
        moment = start + timedelta(minutes=i)
        session.add(
            Feedback(
                prediction_id=prediction.id,
                correct=correct,
                label=1 if correct else 0,
                status=status,
                created_at=moment,
                updated_at=moment,
            )
        )
    session.flush()


def add_run(session, status, seconds, started_at=T0, version=None):
    session.add(
        RetrainRun(
            started_at=started_at,
            finished_at=started_at + timedelta(seconds=seconds),
            status=status,
            version=version,
            learned=3,
            seconds=seconds,
            message=f"{status} run",
        )
    )
    session.flush()


def test_an_empty_database_has_zero_everything(session):
    assert stats.counts(session) == stats.Counts(0, 0, 0, 0, 0, 0)
    assert stats.versions(session) == []
    assert stats.current([]) is None
    assert stats.current_version(session) is None
    series = stats.live_accuracy(session)
    assert (series.total, series.points, series.promotions) == (0, [], [])
    assert stats.last_retrain(session) is None
    assert stats.retrain_outcomes(session, (1.0,)) == []


def test_counts_group_feedback_by_state(session):
    v1 = add_version(session, PROMOTED)
    add_answers(session, v1, [True, False], status=PENDING)
    add_answers(session, v1, [True], status=LEARNING)
    add_answers(session, v1, [False], status=APPROVED)
    add_answers(session, v1, [True, True, True], status=LEARNED)
    add_answers(session, v1, [False, False], status=QUARANTINED)
    add_answers(session, v1, [False], status=DISCARDED)
    add_answers(session, v1, [None, None])  # predictions nobody answered
    assert stats.counts(session) == stats.Counts(
        predictions=12, feedback=10, pending=4, learned=3, quarantined=2, discarded=1
    )


def test_versions_carry_live_accuracy_of_what_they_served(session):
    v1 = add_version(session, ROLLED_BACK, holdout=0.85, promoted_at=T0)
    v2 = add_version(session, REJECTED, holdout=0.70, learned=4)
    v3 = add_version(session, PROMOTED, holdout=0.86, promoted_at=T0 + timedelta(days=1))
    make_current(session, v3)
    add_answers(session, v1, [True, True, False, None])
    # Discarded answers were judged untrustworthy: they do not count.
    add_answers(session, v1, [False, False], status=DISCARDED)
    add_answers(session, v3, [True, True, True, False, True], status=PENDING)

    rows = stats.versions(session)
    assert [r.version for r in rows] == [v3, v2, v1]
    by_version = {r.version: r for r in rows}
    assert (by_version[v1].predictions, by_version[v1].answers, by_version[v1].correct) == (6, 3, 2)
    assert by_version[v1].live_accuracy == pytest.approx(2 / 3)
    assert by_version[v1].status == ROLLED_BACK
    assert by_version[v2].live_accuracy is None
    assert (by_version[v2].predictions, by_version[v2].learned) == (0, 4)
    assert by_version[v3].live_accuracy == pytest.approx(0.8)
    assert by_version[v3].holdout_accuracy == pytest.approx(0.86)
    assert stats.current(rows).version == v3
    assert stats.current_version(session).version == v3
    assert [r.is_current for r in rows] == [True, False, False]
    assert by_version[v3].promoted_at == T0 + timedelta(days=1)


def test_live_accuracy_is_bucketed_in_answer_order_with_promotion_marks(session):
    v1 = add_version(session, PROMOTED, promoted_at=T0 - timedelta(hours=1))
    # 130 answers: every third one wrong; v2 is promoted after the 100th.
    outcomes = [i % 3 != 0 for i in range(130)]
    add_answers(session, v1, outcomes[:100])
    v2_at = T0 + timedelta(minutes=99, seconds=30)
    v2 = add_version(session, PROMOTED, promoted_at=v2_at)
    add_answers(session, v2, outcomes[100:], start=T0 + timedelta(minutes=100))
    add_answers(session, v2, [False] * 5, status=DISCARDED, start=T0 + timedelta(minutes=200))

    series = stats.live_accuracy(session, max_points=60)
    assert (series.total, series.bucket) == (130, 5)
    assert len(series.points) == 26
    for index, point in enumerate(series.points):
        chunk = outcomes[index * 5 : index * 5 + 5]
        assert (point.start, point.answers, point.correct) == (index * 5, 5, sum(chunk))
        assert point.first_at == T0 + timedelta(minutes=index * 5)
    assert [(p.version, p.answers_before) for p in series.promotions] == [(v1, 0), (v2, 100)]
    assert series.promotions[1].promoted_at == v2_at


def test_live_accuracy_keeps_a_short_last_bucket(session):
    v1 = add_version(session, PROMOTED, promoted_at=T0)
    add_answers(session, v1, [True, False, True])
    series = stats.live_accuracy(session, max_points=2)
    assert series.bucket == 2
    assert [(p.start, p.answers, p.correct) for p in series.points] == [(0, 2, 1), (2, 1, 1)]
    assert series.points[-1].accuracy == 1.0


def test_retrain_outcomes_count_runs_and_durations(session):
    add_run(session, "promoted", 3.0)
    add_run(session, "promoted", 40.0)
    add_run(session, "rejected", 10.0)
    outcomes = {o.status: o for o in stats.retrain_outcomes(session, (5.0, 15.0, 60.0))}
    assert set(outcomes) == {"promoted", "rejected"}
    promoted = outcomes["promoted"]
    assert (promoted.runs, promoted.seconds) == (2, 43.0)
    assert promoted.buckets == [(5.0, 1), (15.0, 1), (60.0, 2)]
    assert outcomes["rejected"].buckets == [(5.0, 0), (15.0, 1), (60.0, 1)]


def test_last_retrain_is_the_newest_run(session):
    add_run(session, "promoted", 3.0, started_at=T0)
    add_run(session, "nothing_to_learn", 0.5, started_at=T0 + timedelta(hours=1))
    last = stats.last_retrain(session)
    assert (last.status, last.message) == ("nothing_to_learn", "nothing_to_learn run")
    assert schema.as_utc(last.started_at) == T0 + timedelta(hours=1)


def test_recent_accuracy_collapses_with_many_wrong_answers_only(session):
    v1 = add_version(session, PROMOTED, holdout=0.92, promoted_at=T0)
    make_current(session, v1)
    assert stats.recent_accuracy(session) == stats.RecentAccuracy(v1, 0, 0, 0.92)
    # Fewer answers than the minimum: all wrong, still no flag.
    add_answers(session, v1, [False] * (stats.COLLAPSE_MIN_ANSWERS - 1))
    recent = stats.recent_accuracy(session)
    assert (recent.answers, recent.correct, recent.collapsed) == (49, 0, False)
    add_answers(session, v1, [False])
    assert stats.recent_accuracy(session).collapsed


def test_recent_accuracy_counts_the_newest_window_of_the_current_version(session):
    v1 = add_version(session, PROMOTED, holdout=0.9, promoted_at=T0)
    v2 = add_version(session, PROMOTED, holdout=0.9, promoted_at=T0)
    make_current(session, v2)
    # Good answers: no flag.
    add_answers(session, v2, [i % 10 != 0 for i in range(300)])
    recent = stats.recent_accuracy(session)
    assert (recent.answers, recent.correct, recent.collapsed) == (200, 180, False)
    # Another version's wrong answers and discarded ones do not count.
    add_answers(session, v1, [False] * 300)
    add_answers(session, v2, [False] * 300, status=DISCARDED)
    assert stats.recent_accuracy(session).accuracy == 0.9
    # The newest 200 of v2: 120 wrong after 80 of the good ones.
    add_answers(session, v2, [False] * 120)
    recent = stats.recent_accuracy(session)
    assert (recent.version, recent.answers, recent.correct) == (v2, 200, 72)
    assert recent.accuracy == pytest.approx(0.36) and recent.collapsed
    # Exactly half right is not a collapse.
    add_answers(session, v2, [True, False] * 100)
    recent = stats.recent_accuracy(session)
    assert (recent.answers, recent.correct, recent.collapsed) == (200, 100, False)


def test_recent_accuracy_needs_a_model_that_scores_well_held_out(session):
    v1 = add_version(session, PROMOTED, holdout=0.7, promoted_at=T0)
    make_current(session, v1)
    add_answers(session, v1, [False] * 200)
    assert not stats.recent_accuracy(session).collapsed
    v2 = add_version(session, PROMOTED, holdout=None, promoted_at=T0)
    make_current(session, v2)
    add_answers(session, v2, [False] * 200)
    recent = stats.recent_accuracy(session)
    assert (recent.version, recent.answers, recent.collapsed) == (v2, 200, False)
