"""The evaluation sets the gate scores on, and the gate a new base from ``train_stream.py``
goes through (a retrain's is ``gate.decide``).

Each ``train_stream.py --holdout N`` adds the rows it kept out of training as a new
evaluation set (``add_set``); a set is never replaced or deleted, so every lineage keeps the
rows its base never trained on. A version records the set it is evaluated on
(``ModelVersion.holdout_set``); a retrain records none of its own and inherits its parent's
(``set_of``), so after a rollback the old lineage is gated on its own set again.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import model_store
from movieclassifier.model import Labelled, SentimentModel
from movieclassifier.schema import PROMOTED, REJECTED, HoldoutReview, HoldoutSet, ModelVersion

INSERT_CHUNK = 1000

# Why a version was promoted or rejected (``GateResult.reason``).
FIRST = "first"  # no version was current
NOT_GATED = "not_gated"  # the current version's lineage records no evaluation set
NOTHING_LEFT = "nothing_left"  # the new base trained on every row of the current's set
GATE = "gate"  # compared with the current version on the current version's set
OVERRIDDEN = "promote"  # rejected by the gate, published because promote=True


@dataclass(frozen=True)
class GateResult:
    """How the new version compared with the current one on the current one's evaluation set.

    ``holdout_set`` is that set, ``rows`` how many of its rows were scored, and ``left_out``
    how many were not, because the new version trained on them.
    """

    status: str
    reason: str
    current_version: int | None = None
    rows: int = 0
    accuracy_current: float | None = None
    accuracy_new: float | None = None
    max_drop: float = 0.0
    holdout_set: int | None = None
    left_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_set(
    session: Session, reviews: Sequence[str], labels: Sequence[int], source_detail: str
) -> int:
    """Store ``reviews`` as a new evaluation set and return its id; no other set changes.

    No commit: the caller commits it with the version evaluated on it.

    Raises:
        ValueError: no reviews, or not one label per review.
    """
    if not reviews:
        raise ValueError("an evaluation set needs at least one review")
    rows = [{"review": r, "label": int(y)} for r, y in zip(reviews, labels, strict=True)]
    added = HoldoutSet(source_detail=source_detail, rows=len(rows))
    session.add(added)
    session.flush()
    for row in rows:
        row["set_id"] = added.id
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(HoldoutReview), rows[start : start + INSERT_CHUNK])
    return added.id


def set_of(session: Session, version: int) -> int | None:
    """The evaluation set of ``version``'s lineage: its own ``holdout_set``, else its
    parent's, and so on; None when none of them records one."""
    rows = session.execute(
        select(ModelVersion.version, ModelVersion.parent_version, ModelVersion.holdout_set)
    )
    versions = {v: (parent, held) for v, parent, held in rows}
    seen: set[int] = set()
    at: int | None = version
    while at is not None and at in versions and at not in seen:
        seen.add(at)
        parent, held = versions[at]
        if held is not None:
            return held
        at = parent
    return None


def current_set(session: Session) -> int | None:
    """The evaluation set of the current version's lineage (None: no version, or no set)."""
    current = model_store.current_version(session)
    return None if current is None else set_of(session, current)


def load(session: Session, set_id: int | None = None) -> Labelled:
    """The reviews and labels of evaluation set ``set_id``, in a stable order.

    Without ``set_id``, the current version's set (``current_set``); none: no rows.
    """
    if set_id is None:
        set_id = current_set(session)
        if set_id is None:
            return Labelled([], [])
    result = session.execute(
        select(HoldoutReview.review, HoldoutReview.label)
        .where(HoldoutReview.set_id == set_id)
        .order_by(HoldoutReview.id)
    )
    return Labelled.of(result)


def count(session: Session, set_id: int | None = None) -> int:
    """The rows of evaluation set ``set_id``, or of the current version's set."""
    if set_id is None:
        set_id = current_set(session)
        if set_id is None:
            return 0
    query = select(func.count()).select_from(HoldoutReview).where(HoldoutReview.set_id == set_id)
    return session.scalar(query) or 0


def untrained(held: Labelled, trained: Container[str] | None) -> Labelled:
    """The rows of ``held`` whose text is not in ``trained`` (all of them without it).

    >>> untrained(Labelled(["a", "b", "c"], [1, 0, 1]), {"b"})
    Labelled(texts=['a', 'c'], labels=[1, 1])
    """
    if trained is None:
        return held
    kept = [(text, label) for text, label in zip(*held, strict=True) if text not in trained]
    return Labelled([text for text, _ in kept], [label for _, label in kept])


def passes_gate(before: float, after: float, max_drop: float) -> bool:
    """Whether held-out accuracy ``after`` is no more than ``max_drop`` below ``before``.

    >>> passes_gate(0.90, 0.89, 0.01), passes_gate(0.90, 0.88, 0.01)
    (True, False)
    """
    # A tiny tolerance, so a drop of exactly max_drop on a float round-off is not a rejection.
    return before - after <= max_drop + 1e-9


def gate_against_current(
    sessions: sessionmaker[Session],
    model_dir: Path,
    model: SentimentModel,
    max_drop: float,
    promote: bool,
    trained: Container[str] | None = None,
) -> GateResult:
    """Score the current version and ``model`` on the current version's evaluation set,
    without the rows ``model`` trained on (``trained``: its training texts, e.g.
    ``TrainingRun.trained``). The current version's lineage never trained on its set, so
    neither model is scored on rows it learned. Nothing left to score on: ``NOTHING_LEFT``.

    Raises:
        model_store.ModelStoreError: the current version cannot be loaded.
    """
    with sessions() as session:
        current_version = model_store.current_version(session)
        if current_version is None:
            return GateResult(PROMOTED, FIRST, max_drop=max_drop)
        set_id = set_of(session, current_version)
        stored = load(session, set_id) if set_id is not None else Labelled([], [])
        if not stored.texts:
            return GateResult(PROMOTED, NOT_GATED, current_version, max_drop=max_drop)
        held = untrained(stored, trained)
        left_out = len(stored.texts) - len(held.texts)
        if not held.texts:
            return GateResult(
                PROMOTED,
                NOTHING_LEFT,
                current_version,
                max_drop=max_drop,
                holdout_set=set_id,
                left_out=left_out,
            )
        current = model_store.load(session, current_version, model_dir)
    # The features do not depend on the model: hash the held-out reviews once.
    features = model.vectorize(held.texts)
    before = current.accuracy_of_features(features, held.labels)
    after = model.accuracy_of_features(features, held.labels)
    passed = passes_gate(before, after, max_drop)
    status = PROMOTED if passed or promote else REJECTED
    reason = GATE if passed or not promote else OVERRIDDEN
    return GateResult(
        status,
        reason,
        current_version,
        len(held.texts),
        before,
        after,
        max_drop,
        holdout_set=set_id,
        left_out=left_out,
    )


def set_for_new_base(
    session: Session,
    gate: GateResult,
    held: tuple[Sequence[str], Sequence[int]],
    source_detail: str,
    trained: Container[str] | None,
) -> int | None:
    """The evaluation set a new base records (no commit; call it before registering).

    Its own held-out rows ``held``, added as a new set (without any whose exact text it
    also trained on, a duplicate in the file); without them, the set its gate scored on:
    the current version's set, or, when the gate left rows out because the base trained on
    them, the rest of that set stored as a new set, so the base's retrains are never scored
    on rows it learned. None when it was not gated, or no row it never trained on is left.
    """
    if held[0]:
        own = untrained(Labelled(list(held[0]), list(held[1])), trained)
        return add_set(session, own.texts, own.labels, source_detail) if own.texts else None
    if gate.holdout_set is None or gate.reason in (FIRST, NOT_GATED, NOTHING_LEFT):
        return None
    if gate.left_out == 0:
        return gate.holdout_set
    rows = untrained(load(session, gate.holdout_set), trained)
    if not rows.texts:
        return None
    detail = f"set {gate.holdout_set} without the {gate.left_out} rows {source_detail} trained on"
    return add_set(session, rows.texts, rows.labels, detail)
