"""Floods of lies cannot walk a model down (docs/DESIGN.md, invariants 7 and 11).

Confident lies are quarantined answer by answer (``screening``). Subtle ones, on reviews the
model is unsure of, pass the screen: each flood is small enough that its own step passes a
gate that only compares a version with the current one, and together they would take the
model far below where its lineage started. The anchor, the version trained from the CSV,
bounds the cumulative drop.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from loop_helpers import add_feedback, add_labelled, movie_rows
from movieclassifier import feedback, model_store, retrain
from movieclassifier.schema import PROMOTED, QUARANTINED, Feedback

# Measured on the IMDb fixture (held-out 0.842 on 500 rows) with the step rule alone:
# floods of 20 inverted positives take it 0.842 -> 0.842 -> 0.828 -> 0.804 -> 0.782 ->
# 0.770, no step larger than 0.024; the cumulative drop passes 0.03 at the third flood.
FLOODS = 6
FLOOD_SIZE = 20
MAX_DROP = 0.03
LIFT_SIZE = 100
# Lies the screen lets through: reviews the model calls positive without confidence.
UNSURE = (0.5, 0.75)


def inverted_floods():
    """Positive IMDb reviews the fixture never saw, in floods answered "incorrect"."""
    positives = [review for review, label in movie_rows(600, skip=2500) if label == 1]
    assert len(positives) >= FLOODS * FLOOD_SIZE
    return [positives[k * FLOOD_SIZE : (k + 1) * FLOOD_SIZE] for k in range(FLOODS)]


def unsure_floods(sessions, model_dir):
    """Positive reviews the fixture calls positive at 0.5-0.75, in floods: subtle lies."""
    with sessions() as session:
        model = model_store.load_current(session, model_dir)
    positives = [review for review, label in movie_rows(6000, skip=2500) if label == 1]
    probabilities = model.predict(positives)
    unsure = [
        review
        for review, p in zip(positives, probabilities, strict=True)
        if UNSURE[0] < p.positive_probability < UNSURE[1]
    ]
    assert len(unsure) >= FLOODS * FLOOD_SIZE, len(unsure)
    return [unsure[k * FLOOD_SIZE : (k + 1) * FLOOD_SIZE] for k in range(FLOODS)]


def holdout_of_current(sessions):
    with sessions() as session:
        row = model_store.get_version(session, model_store.current_version(session))
        return row.version, row.holdout_accuracy


def test_floods_of_confident_lies_are_quarantined_answer_by_answer(
    settings, engine, sessions, imdb_model
):
    settings = dataclasses.replace(settings, gate_max_drop=MAX_DROP)
    _, anchor_accuracy = holdout_of_current(sessions)
    learned = 0
    for flood in inverted_floods():
        ids = add_feedback(sessions, settings.model_dir, flood, correct=False)
        report = retrain.retrain(engine, settings)
        learned += report.learned
        _, current_accuracy = holdout_of_current(sessions)
        assert anchor_accuracy - current_accuracy <= MAX_DROP + 1e-9, report
        with sessions() as session:
            rows = list(session.scalars(select(Feedback).where(Feedback.id.in_(ids))))
        screened = [row for row in rows if row.quarantine_reason is not None]
        # Most of each flood is quarantined alone, each answer with its score and reason.
        assert len(screened) >= FLOOD_SIZE * 3 // 4, report
        assert all(row.status == QUARANTINED and row.quarantine_score for row in screened)
    # A handful of the 120 lies may be learned; a flood cannot steer the model.
    assert learned <= FLOODS * FLOOD_SIZE // 10


def test_subtle_floods_cannot_walk_the_model_down(settings, engine, sessions, imdb_model):
    """Lies on reviews the model is unsure of: no single one is confident, but a flood
    of them disagrees far more than honest answers would, and is quarantined whole."""
    settings = dataclasses.replace(settings, gate_max_drop=MAX_DROP)
    _, anchor_accuracy = holdout_of_current(sessions)
    learned = 0
    for flood in unsure_floods(sessions, settings.model_dir):
        add_feedback(sessions, settings.model_dir, flood, correct=False)
        report = retrain.retrain(engine, settings)
        learned += report.learned
        _, current_accuracy = holdout_of_current(sessions)
        assert anchor_accuracy - current_accuracy <= MAX_DROP + 1e-9, report
    assert learned <= FLOODS * FLOOD_SIZE // 10
    with sessions() as session:
        reasons = set(
            session.scalars(
                select(Feedback.quarantine_reason).where(Feedback.status == QUARANTINED)
            )
        )
    assert reasons and all(reason and len(reason) <= 64 for reason in reasons)


def test_below_the_anchors_bound_by_approval_the_model_may_still_improve(
    settings, engine, sessions, imdb_model
):
    """An operator's approval may take a lineage past the bound; it is not frozen there."""
    settings = dataclasses.replace(settings, gate_max_drop=MAX_DROP)
    lies = [review for flood in inverted_floods()[:3] for review in flood]
    ids = add_feedback(sessions, settings.model_dir, lies, correct=False)
    rejected = retrain.retrain(engine, settings)
    assert rejected.learned <= len(lies) // 10, rejected
    with sessions.begin() as session:
        quarantined = [i for i in ids if session.get(Feedback, i).status == QUARANTINED]
        feedback.approve(session, quarantined)
    approved = retrain.retrain(engine, settings)
    assert approved.status == PROMOTED
    assert approved.holdout_accuracy_anchor - approved.holdout_accuracy_after > MAX_DROP
    # True labels on reviews like the held-out ones lift it, though not back within a
    # tight bound: promoted, since it lost nothing (the anchor rule alone would refuse it).
    tight = dataclasses.replace(settings, gate_max_drop=0.001)
    add_labelled(sessions, settings.model_dir, movie_rows(LIFT_SIZE, skip=3200))
    lifted = retrain.retrain(engine, tight)
    assert lifted.holdout_accuracy_anchor - lifted.holdout_accuracy_after > 0.001, lifted
    assert lifted.holdout_accuracy_after > lifted.holdout_accuracy_before, lifted
    assert lifted.status == PROMOTED, lifted
