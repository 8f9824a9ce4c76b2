"""Carrying: a new base learns the labels the current version reflects (docs/DESIGN.md,
"The lifetime of a label").

A model trained from a CSV starts over, and would forget every answer people gave. So
``train_stream.py`` fits the labels the current version reflects onto the new base, with
the same recipe retrains use (``learning.learn``), and publishes that as a second version:
its parent is the plain base, it records the version it carried from (``carried_from``),
and it folds the labels in (``consolidated``), so retrains on top of it replay only what
comes after. The plain base stays registered, the start of a full refit when a carried
label is taken back. No label is learned again: each keeps the version that learned it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import calibration, feedback, learning, lifetime, model_store
from movieclassifier.model import Labelled, SentimentModel


@dataclass(frozen=True)
class Carried:
    """The labels carried from ``from_version``, and the new base with them learned."""

    from_version: int
    labels: int
    model: SentimentModel


def carry(sessions: sessionmaker[Session], base: SentimentModel, held: Labelled) -> Carried | None:
    """``base`` with the current version's labels learned; None when there are none.

    Its calibration is refitted on ``held`` (the base's held-out rows) and the domain
    slice, as a retrain's is.
    """
    with sessions() as session:
        current = model_store.current_version(session)
        if current is None:
            return None
        labels = lifetime.replay(session, lifetime.reflected_versions(session, current))
        domain = feedback.domain_slice(session)
    if not labels.texts:
        return None
    model = learning.learn(base, labels, Labelled([], []))
    calibration.calibrate(
        model, [(calibration.HELD_OUT, held), (calibration.DOMAIN_SLICE, domain)], model.calibration
    )
    return Carried(current, len(labels.texts), model)


def details(carried: Carried) -> dict[str, Any]:
    return {
        "recipe": learning.describe(),
        "carried": carried.labels,
        "carried_from": carried.from_version,
        "replayed": carried.labels,
    }
