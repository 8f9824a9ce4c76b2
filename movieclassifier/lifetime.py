"""The lifetime of a learned label: what each version reflects, where a retrain starts,
and how labels are carried, requeued, retracted and forgotten (docs/DESIGN.md, "The
lifetime of a label").

A version *reflects* the labels learned by the versions of its lineage, back to the base it
was trained from on a CSV, and, when a new base carried them (``carried_from``), every
label the version it carried from reflects. Each label is still *learned* by exactly one
version (``Feedback.learned_version``, invariant 2): carrying and replay only recompute the
weights from the same set of labels.

Functions take a ``Session`` and never commit; the job or command owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import feedback, model_store
from movieclassifier.model import Labelled
from movieclassifier.schema import (
    DISCARDED,
    FORGOTTEN,
    LEARNED,
    LEARNING,
    PENDING,
    RETRACTED,
    Feedback,
    ModelVersion,
    Removal,
    StoredPrediction,
)

# A retrain whose replay reaches this many labels folds them into its version (marked
# ``consolidated``): the next one starts from it and replays only what came after, so the
# cost of a run does not grow with the history (bench/results/loop_scale.md).
CONSOLIDATE_AFTER = 5_000


class LabelError(LookupError):
    """An operator named an answer or a prediction that cannot be taken back as asked."""


@dataclass(frozen=True)
class Start:
    """Where a retrain of the current version starts.

    ``version`` is the model it fits its correction onto: the lineage's base, or its newest
    consolidated version. ``anchor`` is the base, the version the gate compares with.
    ``replay`` are the versions whose learned labels it fits again. ``full`` when a label
    the version reflects was taken back (``drops``): then it starts from the base over
    every label.
    """

    version: int
    anchor: int
    replay: list[int]
    full: bool
    drops: Drops


@dataclass(frozen=True)
class Drops:
    """Retracted answers and forgotten reviews whose effect the current version still has."""

    retracted: list[int]  # feedback ids
    removals: list[int]  # Removal ids

    def __len__(self) -> int:
        return len(self.retracted) + len(self.removals)


def reflected_versions(session: Session, version: int) -> set[int]:
    """The versions whose learned labels ``version`` reflects (its lineage, and carried)."""
    return model_store.Registry(session).closure(version)


def start_of(session: Session, version: int) -> Start:
    """Where the next retrain of ``version`` starts (``Start``)."""
    registry = model_store.Registry(session)
    chain = registry.chain(version)
    anchor = chain[-1]
    reflected = registry.closure(version)
    drops = _drops(session, reflected)
    if drops:
        return Start(anchor, anchor, sorted(reflected), True, drops)
    start = registry.start(version)
    return Start(start, anchor, chain[: chain.index(start)], False, drops)


def replay(session: Session, versions: Collection[int]) -> Labelled:
    """The texts and labels learned (and still standing) by ``versions``, oldest first."""
    if not versions:
        return Labelled([], [])
    rows = session.execute(
        select(StoredPrediction.review, Feedback.label)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .where(Feedback.status == LEARNED, Feedback.learned_version.in_(sorted(versions)))
        .order_by(Feedback.id)
    )
    return Labelled.of(rows)


def pending_drops(session: Session, version: int) -> Drops:
    """What ``version`` reflects that was taken back since: the next version drops it."""
    return _drops(session, reflected_versions(session, version))


def _drops(session: Session, versions: Collection[int]) -> Drops:
    reflected = sorted(versions)
    retracted = session.scalars(
        select(Feedback.id)
        .where(
            Feedback.status == RETRACTED,
            Feedback.learned_version.in_(reflected),
            or_(Feedback.dropped_version.is_(None), Feedback.dropped_version.not_in(reflected)),
        )
        .order_by(Feedback.id)
    )
    removals = session.scalars(
        select(Removal.id)
        .where(
            Removal.learned_version.in_(reflected),
            or_(Removal.dropped_version.is_(None), Removal.dropped_version.not_in(reflected)),
        )
        .order_by(Removal.id)
    )
    return Drops(list(retracted), list(removals))


def mark_dropped(session: Session, drops: Drops, version: int) -> None:
    """Record that ``version`` is the first published without ``drops``' effect."""
    for chunk in feedback.chunks(drops.retracted):
        session.execute(
            update(Feedback).where(Feedback.id.in_(chunk)).values(dropped_version=version)
        )
    for chunk in feedback.chunks(drops.removals):
        session.execute(
            update(Removal).where(Removal.id.in_(chunk)).values(dropped_version=version)
        )


# --- Rollbacks: the labels a rollback leaves behind are learned again, or dropped. ---


@dataclass(frozen=True)
class Rollback:
    """What a rollback did: the versions it undid, and the labels they had learned."""

    rolled_back: list[int]
    requeued: list[int]  # learned again by the next run
    dropped: list[int]  # discarded (``--drop-labels``)


def rollback(
    sessions: sessionmaker[Session], model_dir: Path, version: int, drop_labels: bool = False
) -> Rollback:
    """Make ``version`` current, and send the labels the current version reflects but
    ``version`` does not back to be learned again on top of it (or discard them), in one
    transaction.

    Raises:
        model_store.ModelStoreError: no such version, rejected, pruned, or already current.
        LabelError: ``version``'s own labels were requeued by an earlier rollback.
    """
    with sessions.begin() as session:
        current = model_store.current_version(session)
        if current is not None and current != version:
            check_rollback_target(session, version)
        ids = left_behind(session, current, version) if current is not None else []
        undone = model_store.rollback(session, model_dir, version)
        requeue(session, ids, drop=drop_labels)
    return Rollback(undone, [] if drop_labels else ids, ids if drop_labels else [])


def left_behind(session: Session, current: int, target: int) -> list[int]:
    """Ids of the labels ``current`` reflects and ``target`` does not, oldest first."""
    registry = model_store.Registry(session)
    lost = registry.closure(current) - registry.closure(target)
    if not lost:
        return []
    return list(
        session.scalars(
            select(Feedback.id)
            .where(Feedback.status == LEARNED, Feedback.learned_version.in_(sorted(lost)))
            .order_by(Feedback.id)
        )
    )


def check_rollback_target(session: Session, target: int) -> None:
    """Refuse a target whose labels an earlier rollback sent to be learned again.

    Raises:
        LabelError: some labels ``target`` reflects were requeued or dropped since; serving
            it again would count them twice, or bring back what was dropped.
    """
    reflected = sorted(reflected_versions(session, target))
    taken = session.scalar(
        select(Feedback.id).where(Feedback.requeued_from_version.in_(reflected)).limit(1)
    )
    if taken is not None:
        raise LabelError(
            f"version {target} was left by a rollback and its labels were requeued or dropped "
            "since; roll back to a version of the current lineage instead"
        )


def requeue(session: Session, ids: Sequence[int], drop: bool = False) -> int:
    """Send learned labels back to be learned again (or, with ``drop``, discard them).

    The versions that had learned them are no longer credited with them (``learned``
    counts what a version's labels are now, so the sum over versions stays the number of
    learned rows); their details keep how many left.
    """
    moved: dict[int, int] = {}
    for chunk in feedback.chunks(ids):
        for row in session.scalars(
            select(Feedback).where(Feedback.id.in_(chunk)).with_for_update()
        ):
            if row.learned_version is not None:
                moved[row.learned_version] = moved.get(row.learned_version, 0) + 1
            row.requeued_from_version = row.learned_version
            row.learned_version = None
            row.status = DISCARDED if drop else PENDING
            row.updated_at = datetime.now(UTC)
    for version, count in moved.items():
        registered = session.get(ModelVersion, version)
        if registered is not None:
            registered.learned -= count
            details = dict(registered.details or {})
            details["left_by_rollback"] = details.get("left_by_rollback", 0) + count
            registered.details = details
    session.flush()
    return sum(moved.values())


# --- Taking back: retract an answer, forget a review. ---


@dataclass(frozen=True)
class Retracted:
    """What ``retract`` took back: answers already learned, and answers still waiting."""

    learned: list[int]
    waiting: list[int]


def retract(session: Session, ids: Sequence[int]) -> Retracted:
    """Take back answers: never learned from now on; the next version drops the learned.

    All or nothing: one id that cannot be retracted changes none.

    Raises:
        LabelError: an id names no answer, one already retracted, or one a running retrain
            is learning.
    """
    wanted = sorted(set(ids))
    rows = {
        row.id: row
        for row in session.scalars(
            select(Feedback).where(Feedback.id.in_(wanted)).with_for_update()
        )
    }
    _refuse(
        [i for i in wanted if i not in rows],
        "there is no answer with id {ids} (it may have been forgotten or pruned)",
    )
    _refuse([i for i in wanted if rows[i].status == RETRACTED], "answer {ids} is already retracted")
    _refuse(
        [i for i in wanted if rows[i].status == LEARNING],
        "answer {ids} is being learned by a running retrain; try again when it has finished",
    )
    now = datetime.now(UTC)
    learned: list[int] = []
    for row_id in wanted:
        row = rows[row_id]
        if row.learned_version is not None:
            learned.append(row_id)
        row.status = RETRACTED
        row.retracted_at = now
        row.updated_at = now
    session.flush()
    return Retracted(learned, [i for i in wanted if i not in learned])


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` deleted: the predictions, their answers, and the learned ones."""

    predictions: list[int]
    answers: int
    learned: int


def find_predictions(session: Session, names: Sequence[str]) -> list[StoredPrediction]:
    """The predictions named by their internal id or their public reference.

    Raises:
        LabelError: a name matches no stored prediction.
    """
    found: list[StoredPrediction] = []
    missing: list[str] = []
    for name in names:
        query = select(StoredPrediction).with_for_update()
        if name.isdigit():
            query = query.where(StoredPrediction.id == int(name))
        else:
            query = query.where(StoredPrediction.reference == name)
        row = session.scalar(query)
        if row is None:
            missing.append(name)
        elif row not in found:
            found.append(row)
    _refuse(missing, "there is no stored prediction {ids} (it may have been forgotten or pruned)")
    return found


def forget(session: Session, names: Sequence[str]) -> Forgotten:
    """Delete predictions (by id or reference), their review text and their answers.

    A learned answer leaves a ``Removal`` (no text) until a version drops its effect.

    Raises:
        LabelError: a name matches no stored prediction, or its answer is being learned.
    """
    predictions = find_predictions(session, names)
    answers = {
        row.prediction_id: row
        for row in session.scalars(
            select(Feedback)
            .where(Feedback.prediction_id.in_([p.id for p in predictions]))
            .with_for_update()
        )
    }
    _refuse(
        [str(p.id) for p in predictions if p.id in answers and answers[p.id].status == LEARNING],
        "the answer to prediction {ids} is being learned by a running retrain; try again when "
        "it has finished",
    )
    learned = 0
    for prediction in predictions:
        row = answers.get(prediction.id)
        if row is not None:
            if row.learned_version is not None:
                # A retracted answer may be dropped already: the removal says by which.
                dropped = row.dropped_version if row.status == RETRACTED else None
                session.add(
                    Removal(
                        kind=FORGOTTEN,
                        feedback_id=row.id,
                        learned_version=row.learned_version,
                        dropped_version=dropped,
                    )
                )
                learned += 1
            session.delete(row)
        session.delete(prediction)
    session.flush()
    return Forgotten([p.id for p in predictions], len(answers), learned)


def _refuse(ids: Sequence[object], message: str) -> None:
    if ids:
        raise LabelError(message.format(ids=", ".join(str(i) for i in ids)))
