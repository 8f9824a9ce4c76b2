from sqlalchemy import select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import (
    add_feedback,
    add_labelled,
    assert_learned_exactly_once,
    movie_rows,
)
from movieclassifier import feedback, model_store, retrain
from movieclassifier.schema import (
    APPROVED,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    Feedback,
    ModelVersion,
    RetrainRun,
)


def test_nothing_to_learn_does_nothing(settings, engine, sessions, seed_model):
    report = retrain.retrain(engine, settings)
    assert (report.status, report.version, report.learned) == ("nothing_to_learn", seed_model, 0)
    with sessions() as session:
        assert model_store.current_version(session) == seed_model
        assert [run.status for run in session.scalars(select(RetrainRun))] == ["nothing_to_learn"]


def test_retrain_learns_each_label_once_and_publishes(settings, engine, sessions, seed_model):
    first = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:4], correct=True)
    report = retrain.retrain(engine, settings)
    assert report.status == PROMOTED and report.learned == 4
    assert report.parent_version == seed_model and report.version != seed_model
    second = add_feedback(sessions, settings.model_dir, NEGATIVE_REVIEWS[:3], correct=True)
    again = retrain.retrain(engine, settings)
    assert again.learned == 3 and again.parent_version == report.version
    assert retrain.retrain(engine, settings).status == "nothing_to_learn"
    with sessions() as session:
        assert model_store.current_version(session) == again.version
        assert_learned_exactly_once(session, first + second)
        versions = {row.id: row.learned_version for row in session.scalars(select(Feedback))}
        model = model_store.load_current(session, settings.model_dir)
    assert {versions[i] for i in first} == {report.version}
    assert {versions[i] for i in second} == {again.version}
    assert model.version == again.version


def test_a_run_records_when_it_started_not_when_it_finished(settings, engine, sessions, seed_model):
    add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:4], correct=True)
    assert retrain.retrain(engine, settings).status == PROMOTED
    with sessions() as session:
        run = session.scalars(select(RetrainRun)).one()
    # Loading, learning and writing a model takes far longer than the tolerance below.
    assert run.seconds > 0.005
    # The run lasted ``seconds``, so its start lies at least that long before its finish.
    assert (run.finished_at - run.started_at).total_seconds() >= run.seconds - 0.001


def test_one_run_drains_the_backlog_in_batches(settings, engine, sessions, seed_model):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:5])
    report = retrain.retrain(engine, settings, batch_size=2)
    # Three batches of at most two, one version each, in one run.
    assert (report.status, report.learned, len(report.versions)) == (PROMOTED, 5, 3)
    assert report.version == report.versions[-1]
    with sessions() as session:
        assert feedback.counts(session)["pending"] == 0
        assert model_store.current_version(session) == report.version
        learned = [session.get(ModelVersion, v).learned for v in report.versions]
        parents = [session.get(ModelVersion, v).parent_version for v in report.versions]
        assert_learned_exactly_once(session, ids)
    assert learned == [2, 2, 1]
    assert parents == [seed_model, *report.versions[:-1]]
    assert retrain.retrain(engine, settings, batch_size=2).status == "nothing_to_learn"


def test_feedback_moves_the_model_towards_the_labels(settings, engine, sessions, imdb_model):
    # Short snippets the small IMDb model gets wrong, confirmed with their true label.
    snippets = [(r, 1) for r in POSITIVE_REVIEWS] + [(r, 0) for r in NEGATIVE_REVIEWS]
    add_labelled(sessions, settings.model_dir, snippets * 3)
    report = retrain.retrain(engine, settings)
    assert report.status == PROMOTED

    def true_label_probability(version):
        with sessions() as session:
            model = model_store.load(session, version, settings.model_dir)
        predictions = model.predict([text for text, _ in snippets])
        return sum(
            p.positive_probability if label else 1 - p.positive_probability
            for p, (_, label) in zip(predictions, snippets, strict=True)
        )

    assert true_label_probability(report.version) > true_label_probability(imdb_model)


def test_a_flood_of_wrong_labels_is_quarantined_and_nothing_published(
    settings, engine, sessions, imdb_model
):
    positives = [review for review, label in movie_rows(1500, skip=2500) if label == 1][:500]
    ids = add_feedback(sessions, settings.model_dir, positives, correct=False)
    report = retrain.retrain(engine, settings)
    assert (report.status, report.learned, report.quarantined) == (REJECTED, 0, 500), report
    assert "quarantine list" in report.message
    with sessions() as session:
        assert model_store.current_version(session) == imdb_model
        rows = list(session.scalars(select(Feedback).where(Feedback.id.in_(ids))))
        assert {(r.status, r.learned_version) for r in rows} == {(QUARANTINED, None)}
        # Each answer with the screen's reason and score; recorded against the version
        # that screened it, as no version was made.
        assert all(r.quarantine_reason and r.quarantine_score > 0.5 for r in rows)
        assert {r.quarantined_version for r in rows} == {imdb_model}
        run = session.scalars(select(RetrainRun)).one()
        assert run.status == REJECTED
        assert (run.finished_at - run.started_at).total_seconds() >= run.seconds - 0.001
    # The next run has nothing to learn: quarantined rows wait for an operator.
    assert retrain.retrain(engine, settings).status == "nothing_to_learn"


def test_a_flood_that_passes_the_screen_is_rejected_by_the_gate(
    settings, engine, sessions, imdb_model
):
    positives = [review for review, label in movie_rows(1500, skip=2500) if label == 1][:500]
    ids = add_feedback(sessions, settings.model_dir, positives, correct=False)
    # Approved answers skip the screen; the gate still judges what their version lost...
    with sessions.begin() as session:
        feedback.claim(session, 500)
        feedback.mark(session, ids, imdb_model, QUARANTINED)
        feedback.approve(session, ids)
    approved = retrain.retrain(engine, settings)
    # ...but an operator's approval is the decision: it passes once, and says so.
    assert approved.status == PROMOTED and "gate bypassed" in approved.message
    assert (
        approved.holdout_accuracy_before - approved.holdout_accuracy_after > settings.gate_max_drop
    )


def test_approved_feedback_is_learned_next_past_the_gate(settings, engine, sessions, imdb_model):
    positives = [review for review, label in movie_rows(1500, skip=2500) if label == 1][:500]
    ids = add_feedback(sessions, settings.model_dir, positives, correct=False)
    screened = retrain.retrain(engine, settings, batch_size=500)
    assert screened.learned == 0
    with sessions.begin() as session:
        assert feedback.approve(session, ids) == 500
        assert feedback.counts(session)[APPROVED] == 500
    pending = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:2])
    run = retrain.retrain(engine, settings, batch_size=1000)
    # Approved rows are learned alone, so the bypass covers exactly them; the pending
    # ones follow in the same run, in a batch of their own, through the gate.
    assert (run.status, run.learned, len(run.versions)) == (PROMOTED, 502, 2), run
    bypass, gated = run.message.split("; version ")
    assert "learned 500 labels" in bypass and "gate bypassed" in bypass
    assert "learned 2 labels" in gated and "bypassed" not in gated
    with sessions() as session:
        assert model_store.current_version(session) == run.versions[-1]
        assert_learned_exactly_once(session, ids + pending)
        assert {session.get(Feedback, i).learned_version for i in ids} == {run.versions[0]}
        assert {session.get(Feedback, i).learned_version for i in pending} == {run.versions[1]}


def test_each_retrain_prunes_beyond_keep_model_versions(settings, engine, sessions, seed_model):
    import dataclasses

    settings = dataclasses.replace(settings, keep_model_versions=2)
    made = []
    for review in POSITIVE_REVIEWS[:4]:
        add_feedback(sessions, settings.model_dir, [review], correct=True)
        made.append(retrain.retrain(engine, settings).version)
    with sessions() as session:
        kept = {row.version for row in model_store.list_versions(session) if row.pruned_at is None}
        # The newest two, and the CSV-trained base every retrain starts from.
        assert kept == {made[-1], made[-2], seed_model}
        assert model_store.load_current(session, settings.model_dir).version == made[-1]
        assert model_store.load(session, seed_model, settings.model_dir).version == seed_model
