"""How a retrain learns feedback: the recipe, chosen by measurement (bench/results/feedback.md).

Each retrain starts again from the version its lineage was trained from on a CSV (the
*base*) and makes ``PASSES`` shuffled ``partial_fit`` passes, at a constant learning rate,
over every label its lineage already learned plus the new ones. Starting from the base
keeps the model a function of the set of labels (old labels are not applied again and
again), and the replay is what lets 1,000 short labels move a model trained on 45,000
long reviews. Replayed labels are context, not learning: each label is still *learned*
(``feedback.learned_version``) by exactly one version, the one that first took it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from movieclassifier import feedback, model_store
from movieclassifier.model import SentimentModel
from movieclassifier.schema import ModelVersion

PASSES = 5
ETA0 = 0.03
# Bounds the work of one run; past it the oldest labels stop being replayed.
REPLAY_LIMIT = 50_000
FEEDBACK_SOURCE = "feedback"

Labelled = tuple[list[str], list[int]]


def describe() -> dict[str, Any]:
    """The recipe, recorded with each version it made."""
    return {
        "passes": PASSES,
        "learning_rate": "constant",
        "eta0": ETA0,
        "start": "base",
        "replay": "lineage",
    }


def lineage(session: Session, version: int) -> list[int]:
    """``version`` and its ancestors back to (and including) the last one not made by a retrain."""
    rows = session.execute(
        select(ModelVersion.version, ModelVersion.parent_version, ModelVersion.source)
    )
    parents = {v: (parent, source) for v, parent, source in rows}
    chain = [version]
    while parents.get(chain[-1], (None, ""))[1] == FEEDBACK_SOURCE:
        parent = parents[chain[-1]][0]
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


def starting_point(
    session: Session, current: SentimentModel, model_dir: Path
) -> tuple[SentimentModel, Labelled]:
    """The base model to start from and the labels the current lineage already learned.

    Raises:
        model_store.ModelStoreError: the base version cannot be loaded.
    """
    assert current.version is not None
    chain = lineage(session, current.version)
    base = (
        current if chain[-1] == current.version else model_store.load(session, chain[-1], model_dir)
    )
    return base, feedback.replay(session, chain, REPLAY_LIMIT)


def learn(start: SentimentModel, replay: Labelled, new: Labelled) -> SentimentModel:
    """A new model: ``start`` after ``PASSES`` passes over ``replay`` plus ``new``."""
    model = SentimentModel(copy.deepcopy(start.classifier), start.version, start.samples_seen)
    texts = replay[0] + new[0]
    labels = np.asarray(replay[1] + new[1])
    features = model.vectorize(texts)
    classifier = model.classifier
    saved = classifier.get_params()
    # Start from the served weights (coef_, averaged or not) and take plain constant steps.
    classifier.set_params(average=False, learning_rate="constant", eta0=ETA0)
    rng = np.random.RandomState(len(texts))
    for _ in range(PASSES):
        order = rng.permutation(len(texts))
        model.learn_features(features[order], labels[order].tolist())
    classifier.set_params(
        average=saved["average"], learning_rate=saved["learning_rate"], eta0=saved["eta0"]
    )
    _sync_average(classifier)
    return model


def _sync_average(classifier: Any) -> None:
    # An averaged classifier keeps its own copies of the weights; make them the new ones,
    # so a later partial_fit (train --continue) continues from what is served.
    if classifier.average:
        for name in ("_standard_coef", "_average_coef"):
            setattr(classifier, name, classifier.coef_.copy())
        for name in ("_standard_intercept", "_average_intercept"):
            setattr(classifier, name, classifier.intercept_.copy())
