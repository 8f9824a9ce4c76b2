"""The gate's anchor (docs/DESIGN.md, invariant 7): floods of lies cannot walk a model down.

Each flood is small enough that its own step passes a gate that only compares a version
with the current one; together they would take the model far below where its lineage
started. The anchor, the version trained from the CSV, bounds the cumulative drop.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from loop_helpers import add_feedback, add_labelled, movie_rows
from movieclassifier import feedback, model_store, retrain
from movieclassifier.schema import PROMOTED, QUARANTINED, REJECTED, Feedback, ModelVersion

# Measured on the IMDb fixture (held-out 0.842 on 500 rows) with the step rule alone:
# floods of 20 inverted positives take it 0.842 -> 0.842 -> 0.828 -> 0.804 -> 0.782 ->
# 0.770, no step larger than 0.024; the cumulative drop passes 0.03 at the third flood.
FLOODS = 6
FLOOD_SIZE = 20
MAX_DROP = 0.03
LIFT_SIZE = 100


def inverted_floods():
    """Positive IMDb reviews the fixture never saw, in floods answered "incorrect"."""
    positives = [review for review, label in movie_rows(600, skip=2500) if label == 1]
    assert len(positives) >= FLOODS * FLOOD_SIZE
    return [positives[k * FLOOD_SIZE : (k + 1) * FLOOD_SIZE] for k in range(FLOODS)]


def holdout_of_current(sessions):
    with sessions() as session:
        row = model_store.get_version(session, model_store.current_version(session))
        return row.version, row.holdout_accuracy


def test_small_floods_of_lies_cannot_walk_the_model_down(settings, engine, sessions, imdb_model):
    settings = dataclasses.replace(settings, gate_max_drop=MAX_DROP)
    _, anchor_accuracy = holdout_of_current(sessions)
    reports = []
    for flood in inverted_floods():
        add_feedback(sessions, settings.model_dir, flood, correct=False)
        report = retrain.retrain(engine, settings)
        reports.append(report)
        assert (report.anchor_version, report.holdout_accuracy_anchor) == (
            imdb_model,
            anchor_accuracy,
        )
        _, current_accuracy = holdout_of_current(sessions)
        assert anchor_accuracy - current_accuracy <= MAX_DROP + 1e-9, reports
    statuses = [report.status for report in reports]
    # The first flood passes; later ones are refused (one that stays within the bound of the
    # anchor may still pass), the last one too.
    assert statuses[0] == PROMOTED, reports
    assert REJECTED in statuses and statuses[-1] == REJECTED, reports
    # Every one of them would have passed the step rule alone: no step fell by max_drop...
    steps = [r.holdout_accuracy_before - r.holdout_accuracy_after for r in reports]
    assert max(steps) <= MAX_DROP, steps
    # ...while the rejected ones fell past it, counted from the anchor.
    rejected = [r for r in reports if r.status == REJECTED]
    assert all(anchor_accuracy - r.holdout_accuracy_after > MAX_DROP for r in rejected)
    with sessions() as session:
        quarantined = session.scalars(
            select(Feedback.quarantined_version).where(Feedback.status == QUARANTINED)
        ).all()
        assert set(quarantined) == {r.version for r in rejected}
        assert len(quarantined) == len(rejected) * FLOOD_SIZE
        details = session.get(ModelVersion, rejected[0].version).details
    # The version and the message name the anchor and its figure.
    assert (details["anchor_version"], details["holdout_accuracy_anchor"]) == (
        imdb_model,
        anchor_accuracy,
    )
    assert details["started_from_version"] == imdb_model
    after = rejected[0].holdout_accuracy_after
    anchor = f"(held-out {anchor_accuracy:.4f} at the anchor v{imdb_model} -> {after:.4f})"
    assert anchor in rejected[0].message


def test_below_the_anchors_bound_by_approval_the_model_may_still_improve(
    settings, engine, sessions, imdb_model
):
    """An operator's approval may take a lineage past the bound; it is not frozen there."""
    settings = dataclasses.replace(settings, gate_max_drop=MAX_DROP)
    lies = [review for flood in inverted_floods()[:3] for review in flood]
    add_feedback(sessions, settings.model_dir, lies, correct=False)
    rejected = retrain.retrain(engine, settings)
    assert rejected.status == REJECTED
    with sessions.begin() as session:
        feedback.approve(session, version=rejected.version)
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
