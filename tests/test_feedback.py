import pytest
from sqlalchemy import select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import add_feedback
from movieclassifier import feedback, model_store
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    LEARNED,
    LEARNING,
    PENDING,
    QUARANTINED,
    Feedback,
)


@pytest.fixture
def ids(settings, sessions, seed_model):
    return add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3] + NEGATIVE_REVIEWS[:2])


def statuses(sessions):
    with sessions() as session:
        return {row.id: row.status for row in session.scalars(select(Feedback))}


def test_claim_takes_pending_oldest_first_and_reads_the_labels(sessions, ids):
    with sessions.begin() as session:
        claimed = feedback.claim(session, limit=3)
    assert [row.id for row in claimed] == ids[:3]
    assert [row.label for row in claimed] == [1, 1, 1]
    assert statuses(sessions) == {**{i: LEARNING for i in ids[:3]}, **{i: PENDING for i in ids[3:]}}


def test_an_answer_cannot_change_once_claimed(sessions, ids):
    with sessions.begin() as session:
        feedback.claim(session, limit=10)
        prediction_id = session.get(Feedback, ids[0]).prediction_id
    with sessions.begin() as session, pytest.raises(feedback.AlreadyLearned, match="learning"):
        feedback.add(session, prediction_id, False)


def test_hand_back_returns_pending_and_approved_rows_to_where_they_came_from(sessions, ids):
    with sessions.begin() as session:
        feedback.claim(session, limit=2)
        feedback.mark(session, ids[:2], version=1, status=QUARANTINED)
        feedback.approve(session, [ids[0]])
        feedback.claim(session, limit=10)  # takes the approved row alone
        feedback.claim(session, limit=10)  # then the pending ones
        assert feedback.hand_back(session) == 4
    assert statuses(sessions) == {
        ids[0]: APPROVED,
        ids[1]: QUARANTINED,
        **{i: PENDING for i in ids[2:]},
    }


def test_mark_learned_records_the_version_once(sessions, ids):
    with sessions.begin() as session:
        feedback.claim(session, limit=10)
        assert feedback.mark(session, ids, version=1, status=LEARNED) == 5
        # A second mark finds nothing claimed: a row is learned by one version only.
        assert feedback.mark(session, ids, version=1, status=LEARNED) == 0
    with sessions() as session:
        assert {row.learned_version for row in session.scalars(select(Feedback))} == {1}


def test_mark_refuses_an_unknown_status(sessions, ids):
    with sessions.begin() as session, pytest.raises(ValueError, match='got "pending"'):
        feedback.mark(session, ids, version=1, status=PENDING)


def test_approve_and_discard_only_quarantined_rows(sessions, ids):
    with sessions.begin() as session:
        feedback.claim(session, limit=2)
        feedback.mark(session, ids[:2], version=1, status=QUARANTINED)
    with sessions.begin() as session:
        with pytest.raises(feedback.NotQuarantined, match=f"feedback {ids[3]} is not quarantined"):
            feedback.approve(session, [ids[0], ids[3]])
    with sessions.begin() as session:
        assert feedback.discard(session, version=1) == 2
    assert statuses(sessions)[ids[0]] == DISCARDED
    with (
        sessions.begin() as session,
        pytest.raises(feedback.NotQuarantined, match="no quarantined"),
    ):
        feedback.approve(session)


def test_counts_names_every_status(sessions, ids):
    with sessions() as session:
        counts = feedback.counts(session)
    assert counts[PENDING] == 5 and counts[LEARNED] == 0 and set(counts) == set(feedback.STATUSES)


def test_two_first_answers_at_once_keep_one_row_and_the_last_answer(settings, sessions, seed_model):
    # A double click: two transactions answer the same prediction at the same time.
    import threading
    import time

    with sessions.begin() as session:
        model = model_store.load_current(session, settings.model_dir)
        [stored] = feedback.store_predictions(
            session, ["a fine film"], model.predict(["a fine film"]), "web"
        )
    first = sessions()
    first.begin()
    feedback.add(first, stored.id, True)
    errors = []

    def second_answer():
        try:
            with sessions.begin() as session:
                feedback.add(session, stored.id, False)
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    thread = threading.Thread(target=second_answer)
    thread.start()
    time.sleep(0.5)  # the second transaction is now waiting for the first
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert errors == []
    with sessions() as session:
        rows = list(session.scalars(select(Feedback).where(Feedback.prediction_id == stored.id)))
    assert [(row.correct, row.status) for row in rows] == [(False, PENDING)]


def store_one(sessions, settings, channel, source, review="a fine film"):
    with sessions.begin() as session:
        model = model_store.load_current(session, settings.model_dir)
        [row] = feedback.store_predictions(
            session, [review], model.predict([review]), channel, source
        )
        return row.reference


def test_store_predictions_keeps_the_source_under_a_fresh_reference(settings, sessions, seed_model):
    first = store_one(sessions, settings, feedback.API, "aa" * 16)
    second = store_one(sessions, settings, feedback.API, "aa" * 16)
    assert first != second
    with sessions() as session:
        row = feedback.find_prediction(session, first)
        assert (row.channel, row.source) == (feedback.API, "aa" * 16)


def test_an_api_answer_may_come_from_any_holder_and_keeps_the_latest_source(
    settings, sessions, seed_model
):
    reference = store_one(sessions, settings, feedback.API, "aa" * 16)
    with sessions.begin() as session:
        feedback.answer(session, reference, True, feedback.API, "bb" * 16)
    with sessions.begin() as session:
        _, row = feedback.answer(session, reference, False, feedback.API, "cc" * 16)
    with sessions() as session:
        rows = list(session.scalars(select(Feedback)))
    assert [(r.correct, r.source, r.status) for r in rows] == [(False, "cc" * 16, PENDING)]


def test_an_answer_frozen_once_claimed_names_the_reference(settings, sessions, seed_model):
    reference = store_one(sessions, settings, feedback.WEB, "aa" * 16)
    with sessions.begin() as session:
        feedback.answer(session, reference, True, feedback.WEB, "aa" * 16)
        feedback.claim(session, limit=10)
    with (
        sessions.begin() as session,
        pytest.raises(feedback.AlreadyLearned, match=f"prediction {reference} is already learning"),
    ):
        feedback.answer(session, reference, False, feedback.WEB, "aa" * 16)
