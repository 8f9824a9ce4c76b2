"""A new base carries the labels learned so far (docs/DESIGN.md, "The lifetime of a label")."""

from __future__ import annotations

import csv
import gzip

from sqlalchemy import select

from loop_helpers import add_labelled, assert_learned_exactly_once, movie_rows, write_csv
from movieclassifier import lifetime, model_store, retrain, training
from movieclassifier.schema import LEARNED, PENDING, PROMOTED, Feedback, ModelVersion
from servers import REPO_ROOT

RT = REPO_ROOT / "data" / "rt_polarity.csv.gz"
ANSWERS = 2000
TEST_FROM = 5000  # RT rows from here on are never answered: the domain's test set
TEST_ROWS = 1000


def rt_rows(start, count):
    with gzip.open(RT, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [(review, int(label)) for review, label in rows[start : start + count]]


def domain_accuracy(sessions, settings, version, rows):
    with sessions() as session:
        model = model_store.load(session, version, settings.model_dir)
    return model.accuracy([r for r, _ in rows], [y for _, y in rows])


def learn_the_domain(engine, settings, sessions):
    """Honest answers on short reviews, learned by one retrain."""
    ids = add_labelled(sessions, settings.model_dir, rt_rows(0, ANSWERS))
    report = retrain.retrain(engine, settings, batch_size=ANSWERS)
    # The small fixture model is unsure on short reviews: the screen holds some back.
    assert report.status == PROMOTED and report.learned > ANSWERS // 2, report
    with sessions() as session:
        learned = list(session.scalars(select(Feedback.id).where(Feedback.status == LEARNED)))
    return report.version, learned, ids


def new_base(sessions, settings, tmp_path, carry=True):
    path = write_csv(tmp_path / "more.csv", movie_rows(2600, skip=100))
    return training.train_from_csv(
        path,
        sessions,
        settings.model_dir,
        batch_size=500,
        epochs=2,
        holdout=500,
        workers=0,
        carry_feedback=carry,
    )


def test_a_new_base_carries_the_labels_learned_so_far(
    settings, engine, sessions, imdb_model, tmp_path
):
    test = rt_rows(TEST_FROM, TEST_ROWS)
    before = domain_accuracy(sessions, settings, imdb_model, test)
    learned_by, learned, _ = learn_the_domain(engine, settings, sessions)
    lifted = domain_accuracy(sessions, settings, learned_by, test)
    assert lifted > before + 0.01, (before, lifted)
    report = new_base(sessions, settings, tmp_path)
    assert (report.status, report.carried, report.carried_from) == (
        PROMOTED,
        len(learned),
        learned_by,
    )
    carried = domain_accuracy(sessions, settings, report.version, test)
    # The domain keeps what it learned, within a point.
    assert abs(carried - lifted) <= 0.01, (before, lifted, carried)
    # The labels themselves: the carried base fits them, the plain one never saw them.
    answered = rt_rows(0, ANSWERS)
    fits = domain_accuracy(sessions, settings, report.version, answered)
    forgot = domain_accuracy(sessions, settings, report.base_version, answered)
    assert fits > forgot + 0.03, (fits, forgot)
    with sessions() as session:
        assert model_store.current_version(session) == report.version
        row = session.get(ModelVersion, report.version)
        assert (row.parent_version, row.carried_from, row.consolidated, row.learned) == (
            report.base_version,
            learned_by,
            True,
            0,
        )
        assert row.details["carried"] == len(learned)
        # Carried, not learned again: each label keeps the version that learned it.
        assert {session.get(Feedback, i).learned_version for i in learned} == {learned_by}
        assert_learned_exactly_once(session, learned)
        assert lifetime.reflected_versions(session, report.version) >= {learned_by}


def test_the_next_retrain_builds_on_the_carried_base(
    settings, engine, sessions, imdb_model, tmp_path
):
    _, learned, _ = learn_the_domain(engine, settings, sessions)
    report = new_base(sessions, settings, tmp_path)
    more = add_labelled(sessions, settings.model_dir, rt_rows(ANSWERS, 100))
    again = retrain.retrain(engine, settings)
    assert again.status == PROMOTED and again.parent_version == report.version, again
    with sessions() as session:
        details = session.get(ModelVersion, again.version).details
        start = lifetime.start_of(session, again.version)
    # It starts from the carried base and replays only what came after it.
    assert details["started_from_version"] == report.version and details["replayed"] == 0
    assert start.anchor == report.base_version
    with sessions() as session:
        standing = [i for i in more if session.get(Feedback, i).status == LEARNED]
        assert_learned_exactly_once(session, learned + standing)


def test_without_feedback_a_new_base_carries_nothing(
    settings, engine, sessions, imdb_model, tmp_path
):
    learn_the_domain(engine, settings, sessions)
    report = new_base(sessions, settings, tmp_path, carry=False)
    assert (report.carried, report.version) == (0, report.base_version)


def test_a_rollback_past_a_carried_base_keeps_the_labels(
    settings, engine, sessions, imdb_model, tmp_path
):
    learned_by, learned, _ = learn_the_domain(engine, settings, sessions)
    report = new_base(sessions, settings, tmp_path)
    # Back to the plain new base: the carried labels wait to be learned again on it.
    done = lifetime.rollback(sessions, settings.model_dir, report.base_version)
    assert sorted(done.requeued) == sorted(learned)
    with sessions() as session:
        assert {session.get(Feedback, i).status for i in learned} == {PENDING}
    again = retrain.retrain(engine, settings, batch_size=ANSWERS)
    assert again.parent_version == report.base_version and again.learned > 0, again
    with sessions() as session:
        standing = [i for i in learned if session.get(Feedback, i).status == LEARNED]
        assert len(standing) >= len(learned) * 0.9
        assert {session.get(Feedback, i).learned_version for i in standing} == {again.version}
    assert learned_by not in {again.version}


def test_a_new_base_waits_for_a_running_retrain(settings, engine, sessions, imdb_model, tmp_path):
    """Training publishes under the one-writer lock (invariant 1): a retrain holding it
    finishes first, and the new base is published on top of what that retrain made."""
    import threading
    import time

    from movieclassifier import locking

    held = threading.Event()
    released_at = []

    def hold_the_lock():
        with locking.retrain_lock(engine):
            held.set()
            time.sleep(8)
            released_at.append(time.time())

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(30)
    started = time.time()
    report = new_base(sessions, settings, tmp_path)
    holder.join()
    with sessions() as session:
        published = session.get(ModelVersion, report.version).promoted_at.timestamp()
    # It had trained well before the lock was free (so it waited), and published after.
    assert started + report.seconds < released_at[0] <= published
