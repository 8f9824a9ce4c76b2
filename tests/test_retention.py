"""PREDICTION_RETENTION_DAYS: unanswered predictions expire, answered ones stay, on both
backends; ``flask --app movieclassifier prune`` runs it and says how many went."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from test_stats import add_version

from movieclassifier import feedback, retention
from movieclassifier.config import ConfigError, Settings
from movieclassifier.schema import (
    DISCARDED,
    LEARNED,
    PENDING,
    PROMOTED,
    QUARANTINED,
    Feedback,
    StoredPrediction,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def add_prediction(session, version, age_days, answer=None, now=NOW):
    """A prediction made ``age_days`` before ``now``; answered with status ``answer`` if given."""
    moment = now - timedelta(days=age_days)
    row = StoredPrediction(
        review=f"a review from {age_days} days ago",
        label="positive",
        probability=0.9,
        model_version=version,
        channel="api",
        created_at=moment,
    )
    session.add(row)
    session.flush()
    if answer is not None:
        session.add(
            Feedback(
                prediction_id=row.id,
                correct=True,
                label=1,
                status=answer,
                created_at=moment,
                updated_at=moment,
            )
        )
        session.flush()
    return row.id


def remaining(sessions):
    with sessions() as session:
        return set(session.scalars(select(StoredPrediction.id)))


@pytest.fixture
def version(sessions):
    with sessions.begin() as session:
        return add_version(session, PROMOTED, holdout=0.9)


def test_old_unanswered_predictions_expire_and_answered_or_recent_ones_stay(sessions, version):
    with sessions.begin() as session:
        old = [add_prediction(session, version, age) for age in (91, 200, 1000)]
        answered = [
            add_prediction(session, version, 400, answer=status)
            for status in (PENDING, LEARNED, QUARANTINED, DISCARDED)
        ]
        recent = [add_prediction(session, version, age) for age in (0, 30, 89.9)]
    with sessions() as session:
        assert retention.expire_unanswered(session, 90, now=NOW) == len(old)
    assert remaining(sessions) == set(answered) | set(recent)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == len(answered)
        assert retention.expire_unanswered(session, 90, now=NOW) == 0


def test_zero_days_keeps_everything(sessions, version):
    with sessions.begin() as session:
        ids = {add_prediction(session, version, age) for age in (1, 365, 5000)}
    with sessions() as session:
        assert retention.expire_unanswered(session, 0, now=NOW) == 0
    assert remaining(sessions) == ids


def test_the_cutoff_is_days_before_now():
    assert retention.cutoff(90, NOW) == datetime(2026, 9, 4, 12, 0, tzinfo=UTC)
    assert retention.cutoff(0, NOW) is None
    assert retention.cutoff(10**9, NOW) is None  # before year 1: nothing is that old


def test_expiry_deletes_in_chunks_and_counts_them_all(engine, sessions, version, monkeypatch):
    monkeypatch.setattr(retention, "CHUNK_ROWS", 3)
    with sessions.begin() as session:
        # Old rows with answered ones between them, and recent ones after: ten chunks' work.
        for i in range(25):
            add_prediction(session, version, 100 + i, answer=LEARNED if i % 5 == 0 else None)
        kept = {add_prediction(session, version, 100, answer=PENDING)}
        kept |= {add_prediction(session, version, 1) for _ in range(4)}
    statements = []

    def record(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        with sessions() as session:
            assert retention.expire_unanswered(session, 90, now=NOW) == 20
    finally:
        event.remove(engine, "before_cursor_execute", record)
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 7  # 20 rows, 3 at a time
    assert len(remaining(sessions)) == 5 + len(kept)


def test_an_answer_given_while_expiring_is_kept(settings, sessions, version):
    """``feedback.add`` locks the prediction: on PostgreSQL the expiry skips it, on SQLite it
    waits for the answer's commit; either way the answer and its prediction stay."""
    with sessions.begin() as session:
        prediction = add_prediction(session, version, 365)
    answering = sessions()
    feedback.add(answering, prediction, correct=True)  # locked, not committed yet
    result = {}

    def expire():
        with sessions() as session:
            result["removed"] = retention.expire_unanswered(session, 90, now=NOW)

    worker = threading.Thread(target=expire)
    worker.start()
    time.sleep(0.5)
    answering.commit()
    answering.close()
    worker.join(timeout=30)
    assert result == {"removed": 0}
    with sessions() as session:
        assert feedback.answer_of(session, prediction) is not None


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")


def test_prune_expires_unanswered_predictions_and_says_how_many(runner, env, sessions, version):
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for age in (100, 120):
            add_prediction(session, version, age, now=now)
        kept = add_prediction(session, version, 120, answer=LEARNED, now=now)
        recent = add_prediction(session, version, 1, now=now)
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "pruned versions: none; removed 0 files",
        "expired 2 unanswered predictions older than 90 days",
    ]
    assert remaining(sessions) == {kept, recent}


def test_prune_with_retention_zero_keeps_predictions(runner, env, sessions, version, monkeypatch):
    monkeypatch.setenv("PREDICTION_RETENTION_DAYS", "0")
    with sessions.begin() as session:
        old = add_prediction(session, version, 10_000)
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    assert "PREDICTION_RETENTION_DAYS is 0: unanswered predictions are kept" in result.output
    assert remaining(sessions) == {old}


def test_prune_with_a_bad_setting_stops_in_one_line(runner, env, monkeypatch):
    monkeypatch.setenv("PREDICTION_RETENTION_DAYS", "ninety")
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 1
    assert result.output == (
        'Error: PREDICTION_RETENTION_DAYS must be an integer of at least 0, got "ninety"\n'
    )


@pytest.mark.parametrize("value", ["-1", "ninety", "1.5"])
def test_a_bad_retention_setting_is_refused(value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"PREDICTION_RETENTION_DAYS": value})
    assert str(caught.value) == (
        f'PREDICTION_RETENTION_DAYS must be an integer of at least 0, got "{value}"'
    )


def test_the_retention_setting_defaults_to_90_days_and_reads_0():
    assert Settings.from_env({}).prediction_retention_days == 90
    assert Settings.from_env({"PREDICTION_RETENTION_DAYS": "0"}).prediction_retention_days == 0


# --- The dashboard's figures at scale (bench/dashboard_scale.py): the faster queries of
# ``stats`` must give the same figures as the plain join and the numbered buckets. ---


def add_interleaved(session, versions, pattern, answers):
    """Predictions served by ``versions[pattern[i]]`` in id order; ``answers[i]`` is None
    (unanswered), True/False (answered), or "discarded"."""
    ids = []
    for i, (which, answer) in enumerate(zip(pattern, answers, strict=True)):
        status = DISCARDED if answer == "discarded" else LEARNED
        row = add_prediction(session, versions[which], 1, answer=None)
        ids.append(row)
        if answer is not None:
            correct = answer is True
            session.add(
                Feedback(
                    prediction_id=row,
                    correct=correct,
                    label=1 if correct else 0,
                    status=status,
                    created_at=NOW + timedelta(minutes=i),
                    updated_at=NOW + timedelta(minutes=i),
                )
            )
    session.flush()
    return ids


def test_answers_per_version_match_the_join_when_versions_interleave(sessions):
    from movieclassifier import stats

    with sessions.begin() as session:
        versions = [add_version(session, PROMOTED, holdout=0.9) for _ in range(4)]
        # v0 alone, then v0 and v1 interleaved (workers moving over), v1 alone, v2 one
        # prediction inside v1's range, v3 with no answer at all.
        pattern = [0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 2, 1, 1, 3, 3]
        answers = [True, False, None, True, True, "discarded", False, True, None, False]
        answers += [True, True, "discarded", None, None]
        add_interleaved(session, versions, pattern, answers)
    with sessions() as session:
        kept = Feedback.status != DISCARDED
        expected = {
            versions[0]: (4, 2),
            versions[1]: (4, 3),
            versions[2]: (1, 1),
        }
        assert stats._answers_joined(session, kept) == expected
        assert stats.answers_by_version(session) == expected
        by_version = {row.version: (row.answers, row.correct) for row in stats.versions(session)}
        assert by_version == {**expected, versions[3]: (0, 0)}


def test_live_accuracy_buckets_by_id_match_the_numbered_buckets(sessions):
    from movieclassifier import stats

    with sessions.begin() as session:
        (version,) = [add_version(session, PROMOTED, holdout=0.9)]
        answers = [
            "discarded" if i % 7 == 3 else (i % 3 != 0) if i % 11 else None for i in range(130)
        ]
        add_interleaved(session, [version], [0] * len(answers), answers)
    with sessions() as session:
        for size in (1, 2, 5, 10, 50, 200):
            assert stats._buckets_by_id(session, size) == stats._buckets_numbered(session, size)
        series = stats.live_accuracy(session, max_points=7)
        assert series.total == sum(point.answers for point in series.points)
        assert [point.start for point in series.points] == [
            i * series.bucket for i in range(len(series.points))
        ]


def test_recent_accuracy_looks_past_the_newest_answers_when_it_must(sessions):
    from test_stats import make_current

    from movieclassifier import stats

    with sessions.begin() as session:
        old, current = (add_version(session, PROMOTED, holdout=0.9) for _ in range(2))
        make_current(session, current)
        # Three answers to the current version, then 25 newer ones to another version: the
        # newest 2 * RECENT_SCAN_FACTOR answers hold none of the current version's.
        add_interleaved(
            session, [old, current], [1, 1, 1] + [0] * 25, [True, False, False] + [True] * 25
        )
    with sessions() as session:
        recent = stats.recent_accuracy(session, window=2)
        assert (recent.version, recent.answers, recent.correct) == (current, 2, 0)
        assert stats.recent_accuracy(session, window=5).answers == 3
    with sessions.begin() as session:
        add_interleaved(session, [current], [0] * 4, [True, True, False, True])
    with sessions() as session:
        recent = stats.recent_accuracy(session, window=2)
        assert (recent.answers, recent.correct) == (2, 1)
