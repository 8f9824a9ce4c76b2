"""The lifetime of a label (docs/DESIGN.md): learned once, carried, requeued after a
rollback, retracted, forgotten; each label still learned by exactly one version."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sqlalchemy import func, select, text

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import add_feedback, assert_learned_exactly_once
from movieclassifier import learning, lifetime, model_store, retrain
from movieclassifier.model import Labelled
from movieclassifier.schema import (
    DISCARDED,
    LEARNED,
    PENDING,
    PROMOTED,
    RETRACTED,
    ROLLED_BACK,
    Feedback,
    ModelVersion,
    Removal,
    StoredPrediction,
)

REVIEWS = POSITIVE_REVIEWS + NEGATIVE_REVIEWS


def learn_all(engine, settings, sessions, reviews):
    """Answers that confirm the model (never suspect), learned by one promoted version."""
    ids = add_feedback(sessions, settings.model_dir, reviews, correct=True)
    report = retrain.retrain(engine, settings)
    assert report.status == PROMOTED and report.learned == len(ids), report
    return ids, report.version


def weights(sessions, settings, version):
    with sessions() as session:
        return model_store.load(session, version, settings.model_dir).classifier.coef_.ravel()


def refit_without(sessions, settings, base_version, keep_ids):
    """What learning exactly ``keep_ids`` on the base gives: the weights a drop must reach."""
    with sessions() as session:
        base = model_store.load(session, base_version, settings.model_dir)
        rows = session.execute(
            select(StoredPrediction.review, Feedback.label)
            .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
            .where(Feedback.id.in_(keep_ids))
            .order_by(Feedback.id)
        ).all()
    labelled = Labelled([r for r, _ in rows], [y for _, y in rows])
    return learning.learn(base, labelled, Labelled([], [])).classifier.coef_.ravel()


def test_a_retracted_label_leaves_the_next_version(settings, engine, sessions, seed_model):
    first, v2 = learn_all(engine, settings, sessions, POSITIVE_REVIEWS[:5])
    second, v3 = learn_all(engine, settings, sessions, NEGATIVE_REVIEWS[:5])
    with sessions.begin() as session:
        done = lifetime.retract(session, [first[0], second[1]])
    assert done.learned == sorted([first[0], second[1]]) and done.waiting == []
    report = retrain.retrain(engine, settings)
    assert (report.status, report.dropped, report.learned) == (PROMOTED, 2, 0), report
    assert "dropped the effect of 2 retracted answers" in report.message
    with sessions() as session:
        rows = {row.id: row for row in session.scalars(select(Feedback))}
        version = session.get(ModelVersion, report.version)
        assert model_store.current_version(session) == report.version
    assert {rows[i].status for i in (first[0], second[1])} == {RETRACTED}
    assert {rows[i].dropped_version for i in (first[0], second[1])} == {report.version}
    # Still learned by the version that first took it: the accounting keeps both facts.
    assert (rows[first[0]].learned_version, rows[second[1]].learned_version) == (v2, v3)
    assert version.details["full_refit"] and version.consolidated
    # The new weights are exactly those of the remaining labels on the base.
    kept = [i for i in first + second if i not in (first[0], second[1])]
    expected = refit_without(sessions, settings, seed_model, kept)
    np.testing.assert_allclose(weights(sessions, settings, report.version), expected)
    # Nothing is left to drop, and nothing to learn.
    assert retrain.retrain(engine, settings).status == "nothing_to_learn"


def test_a_waiting_answer_retracted_is_never_learned(settings, engine, sessions, seed_model):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3], correct=True)
    with sessions.begin() as session:
        done = lifetime.retract(session, ids[:1])
    assert done.waiting == ids[:1] and done.learned == []
    report = retrain.retrain(engine, settings)
    assert (report.learned, report.dropped) == (2, 0)
    with sessions() as session:
        assert session.get(Feedback, ids[0]).status == RETRACTED
        assert_learned_exactly_once(session, ids[1:])


@pytest.mark.parametrize(
    ("name", "message"),
    [("unknown", "there is no answer with id 999"), ("twice", "is already retracted")],
)
def test_retract_refuses_and_changes_nothing(settings, sessions, seed_model, name, message):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:2], correct=True)
    if name == "twice":
        with sessions.begin() as session:
            lifetime.retract(session, ids[:1])
    wanted = [ids[1], 999] if name == "unknown" else ids
    with pytest.raises(lifetime.LabelError, match=message), sessions.begin() as session:
        lifetime.retract(session, wanted)
    with sessions() as session:
        # All or nothing: the other id of the call was not retracted either.
        assert session.get(Feedback, ids[1]).status == PENDING


def test_forget_deletes_the_text_and_the_next_version_drops_it(
    settings, engine, sessions, seed_model
):
    ids, _ = learn_all(engine, settings, sessions, POSITIVE_REVIEWS[:4])
    with sessions() as session:
        prediction = session.get(Feedback, ids[0]).prediction_id
        reference = session.get(StoredPrediction, prediction).reference
        text_of_review = session.get(StoredPrediction, prediction).review
    with sessions.begin() as session:
        done = lifetime.forget(session, [reference])
    assert (done.predictions, done.answers, done.learned) == ([prediction], 1, 1)
    with engine.connect() as connection:
        # The text is gone from the database itself, not just hidden.
        found = connection.execute(
            text("SELECT count(*) FROM predictions WHERE review = :review"),
            {"review": text_of_review},
        ).scalar()
        answers = connection.execute(
            text("SELECT count(*) FROM feedback WHERE id = :id"), {"id": ids[0]}
        ).scalar()
    assert (found, answers) == (0, 0)
    report = retrain.retrain(engine, settings)
    assert report.dropped == 1 and "1 forgotten" in report.message
    with sessions() as session:
        removal = session.scalars(select(Removal)).one()
    assert (removal.feedback_id, removal.dropped_version) == (ids[0], report.version)
    expected = refit_without(sessions, settings, seed_model, ids[1:])
    np.testing.assert_allclose(weights(sessions, settings, report.version), expected)


def test_forget_of_an_unknown_prediction_changes_nothing(settings, sessions, seed_model):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:1], correct=True)
    with sessions() as session:
        known = str(session.get(Feedback, ids[0]).prediction_id)
    with pytest.raises(lifetime.LabelError, match="no stored prediction"):
        with sessions.begin() as session:
            lifetime.forget(session, [known, "NoSuchReferenceAtAll1"])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StoredPrediction)) == 1


def test_a_rollback_requeues_what_it_leaves_behind(settings, engine, sessions, seed_model):
    first, v2 = learn_all(engine, settings, sessions, POSITIVE_REVIEWS[:4])
    second, v3 = learn_all(engine, settings, sessions, NEGATIVE_REVIEWS[:3])
    done = lifetime.rollback(sessions, settings.model_dir, v2)
    assert (done.rolled_back, done.requeued, done.dropped) == ([v3], second, [])
    with sessions() as session:
        rows = [session.get(Feedback, i) for i in second]
        assert {(r.status, r.learned_version, r.requeued_from_version) for r in rows} == {
            (PENDING, None, v3)
        }
    report = retrain.retrain(engine, settings)
    assert (report.status, report.parent_version, report.learned) == (PROMOTED, v2, 3)
    with sessions() as session:
        # Learned again, by exactly one version: the one on top of the rollback's target.
        assert_learned_exactly_once(session, first + second)
        assert {session.get(Feedback, i).learned_version for i in second} == {report.version}
        assert session.get(ModelVersion, v3).status == ROLLED_BACK
    # The version the rollback left cannot come back: its labels were learned again since.
    with pytest.raises(lifetime.LabelError, match="left by a rollback"):
        lifetime.rollback(sessions, settings.model_dir, v3)


def test_rollback_drop_labels_discards_them(settings, engine, sessions, seed_model):
    _, v2 = learn_all(engine, settings, sessions, POSITIVE_REVIEWS[:4])
    second, _ = learn_all(engine, settings, sessions, NEGATIVE_REVIEWS[:3])
    done = lifetime.rollback(sessions, settings.model_dir, v2, drop_labels=True)
    assert (done.requeued, done.dropped) == ([], second)
    with sessions() as session:
        assert {session.get(Feedback, i).status for i in second} == {DISCARDED}
    assert retrain.retrain(engine, settings).status == "nothing_to_learn"


def test_consolidation_bounds_the_replay(settings, engine, sessions, seed_model, monkeypatch):
    monkeypatch.setattr(lifetime, "CONSOLIDATE_AFTER", 6)
    first, v2 = learn_all(engine, settings, sessions, REVIEWS[:4])
    second, v3 = learn_all(engine, settings, sessions, REVIEWS[4:8])
    third, v4 = learn_all(engine, settings, sessions, REVIEWS[8:10])
    with sessions() as session:
        versions = {v: session.get(ModelVersion, v) for v in (v2, v3, v4)}
        start = lifetime.start_of(session, v4)
    # v3 replayed v2's four and learned four: past six, it folded them in.
    assert [versions[v].consolidated for v in (v2, v3, v4)] == [False, True, False]
    assert versions[v4].details["started_from_version"] == v3
    assert versions[v4].details["replayed"] == 0
    assert (start.version, start.anchor, start.replay, start.full) == (v3, seed_model, [v4], False)
    # A label folded into v3 can still be taken back: a full refit from the base.
    with sessions.begin() as session:
        lifetime.retract(session, first[:1])
    report = retrain.retrain(engine, settings)
    with sessions() as session:
        version = session.get(ModelVersion, report.version)
        assert_learned_exactly_once(session, first[1:] + second + third)
    assert version.details["full_refit"] and version.details["started_from_version"] == seed_model
    assert version.details["replayed"] == 9
    expected = refit_without(sessions, settings, seed_model, first[1:] + second + third)
    np.testing.assert_allclose(weights(sessions, settings, report.version), expected)


def test_the_domain_slice_is_held_out_and_gates(settings, engine, sessions, seed_model):
    settings = dataclasses.replace(settings, gate_feedback_slice=0.5)
    ids = add_feedback(sessions, settings.model_dir, REVIEWS, correct=True)
    report = retrain.retrain(engine, settings)
    assert report.learned + report.held_out == len(ids) and report.held_out > 0, report
    with sessions() as session:
        rows = [session.get(Feedback, i) for i in ids]
    held = [r for r in rows if r.status != LEARNED]
    assert {(r.status, r.slice_version, r.learned_version) for r in held} == {
        ("held_out", report.version, None)
    }
    # The next run scores the slice: its figures are in the report.
    more = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:2], correct=True)
    again = retrain.retrain(engine, settings)
    assert again.domain_rows == len(held) and again.domain_accuracy_before is not None
    assert again.learned + again.held_out == len(more)


def test_a_retrain_run_expires_predictions_nobody_answered(settings, engine, sessions, seed_model):
    from datetime import UTC, datetime, timedelta

    from movieclassifier import feedback

    answered = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:1], correct=True)
    with sessions.begin() as session:
        model = model_store.load_current(session, settings.model_dir)
        (unanswered,) = feedback.store_predictions(
            session, NEGATIVE_REVIEWS[:1], model.predict(NEGATIVE_REVIEWS[:1]), "api"
        )
        old = datetime.now(UTC) - timedelta(days=settings.prediction_retention_days + 1)
        for prediction in session.scalars(select(StoredPrediction)):
            prediction.created_at = old
        unanswered_id = unanswered.id
    retrain.retrain(engine, settings)
    with sessions() as session:
        left = set(session.scalars(select(StoredPrediction.id)))
        kept = session.get(Feedback, answered[0]).prediction_id
    assert left == {kept} and unanswered_id not in left


def test_the_gate_scores_the_newest_answers_of_the_domain_slice(
    settings, engine, sessions, seed_model
):
    from movieclassifier import feedback

    settings = dataclasses.replace(settings, gate_feedback_slice=1.0)
    ids = add_feedback(sessions, settings.model_dir, REVIEWS[:5], correct=True)
    report = retrain.retrain(engine, settings)
    assert report.held_out == 5 and report.learned == 0
    with sessions() as session:
        newest = feedback.domain_slice(session, limit=2)
        texts = [session.get(Feedback, i).prediction_id for i in ids[-2:]]
        expected = [session.get(StoredPrediction, p).review for p in texts]
    assert newest.texts == expected
