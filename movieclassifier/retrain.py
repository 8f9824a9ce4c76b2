"""The retraining job: learn the feedback no version has learned yet, gate it, publish it.

One run holds the one-writer lock, hands back rows a dead run left claimed, claims a batch,
learns, evaluates on the held-out set (the gate), writes the file under a fresh name, and
then registers the version AND marks its rows in ONE transaction (docs/DESIGN.md,
invariants 1, 2 and 7): a crash anywhere leaves either all of it or an orphan file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import db, feedback, holdout, learning, locking, model_store
from movieclassifier.config import Settings
from movieclassifier.model import Labelled, SentimentModel
from movieclassifier.schema import LEARNED, PROMOTED, QUARANTINED, REJECTED, RetrainRun

log = logging.getLogger(__name__)

NOTHING_TO_LEARN = "nothing_to_learn"
BUSY = "busy"
FAILED = "failed"
STATUSES = (PROMOTED, REJECTED, NOTHING_TO_LEARN, BUSY, FAILED)


@dataclass(frozen=True)
class RetrainReport:
    """What one run did; ``scripts/retrain.py --json`` prints it."""

    status: str
    version: int | None = None
    parent_version: int | None = None
    learned: int = 0
    quarantined: int = 0
    holdout_accuracy_before: float | None = None
    holdout_accuracy_after: float | None = None
    anchor_version: int | None = None
    holdout_accuracy_anchor: float | None = None
    feedback_accuracy_before: float | None = None
    feedback_accuracy_after: float | None = None
    seconds: float = 0.0
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Accuracies(NamedTuple):
    """The current and the new model's accuracy on the held-out set and on the batch, and the
    anchor's (the version the lineage was trained from on a CSV) on the held-out set."""

    holdout_before: float | None
    holdout_after: float | None
    feedback_before: float
    feedback_after: float
    holdout_anchor: float | None = None
    anchor_version: int | None = None


@dataclass(frozen=True)
class _Start:
    """When the run started: the wall-clock time it records, the clock it measures by."""

    at: datetime
    clock: float

    def seconds(self) -> float:
        return time.perf_counter() - self.clock


def retrain(
    engine: Engine,
    settings: Settings,
    *,
    wait: bool = False,
    batch_size: int | None = None,
) -> RetrainReport:
    """Run once: learn up to ``batch_size`` new labels and publish or reject the result.

    Returns a report with status ``busy`` when another run holds the lock (unless
    ``wait``), ``nothing_to_learn`` when no feedback is waiting.

    Raises:
        model_store.NoModel: nothing has been published yet.
        model_store.ModelStoreError: the current version cannot be loaded.
    """
    start = _Start(datetime.now(UTC), time.perf_counter())
    sessions = db.make_session_factory(engine)
    try:
        with locking.retrain_lock(engine, wait=wait):
            report = _run(sessions, settings, batch_size or settings.retrain_batch_size, start)
    except locking.Busy as exc:
        report = RetrainReport(BUSY, seconds=start.seconds(), message=str(exc))
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _record(sessions, RetrainReport(FAILED, seconds=start.seconds(), message=message), start)
        raise
    if report.status not in (PROMOTED, REJECTED):
        _record(sessions, report, start)
    # The caller reports the outcome (the commands print it once); the log keeps a trace.
    log.debug("retrain %s: %s", report.status, report.message)
    return report


def claim(sessions: sessionmaker[Session], batch_size: int) -> list[feedback.Claimed]:
    """Take up to ``batch_size`` waiting rows for this run, committed as "learning"."""
    with sessions.begin() as session:
        return feedback.claim(session, batch_size)


def _run(
    sessions: sessionmaker[Session], settings: Settings, batch_size: int, start: _Start
) -> RetrainReport:
    with sessions.begin() as session:
        current = model_store.current_version(session)
        if current is None:
            raise model_store.NoModel(f"no model to retrain; {model_store.TRAIN_HINT}")
        handed = feedback.hand_back(session)
    if handed:
        log.warning("handed back %d feedback rows claimed by a run that died", handed)
    claimed = claim(sessions, batch_size)
    if not claimed:
        return RetrainReport(
            NOTHING_TO_LEARN, version=current, seconds=start.seconds(), message="nothing to learn"
        )
    try:
        return _learn_and_publish(sessions, settings, claimed, start)
    except BaseException:
        # Also on SIGTERM (SystemExit): the rows go back for the next run.
        with sessions.begin() as session:
            feedback.hand_back(session)
        raise


def _learn_and_publish(
    sessions: sessionmaker[Session],
    settings: Settings,
    claimed: list[feedback.Claimed],
    start: _Start,
) -> RetrainReport:
    with sessions() as session:
        current = model_store.load_current(session, settings.model_dir)
        base, replay = _starting_point(session, current, settings.model_dir)
        held = holdout.load(session)
    new = Labelled([row.review for row in claimed], [row.label for row in claimed])
    model = learning.learn(base, replay, new)
    accuracies = _evaluate(current, base, model, held, new)
    approved = all(row.approved for row in claimed)
    status = _gate(accuracies, settings.gate_max_drop, approved)
    written = model_store.write(model, settings.model_dir)
    ids = [row.id for row in claimed]
    with sessions.begin() as session:
        row = model_store.register(
            session,
            written,
            model,
            status=status,
            source=model_store.RETRAIN_SOURCE,
            source_detail=f"feedback ids {ids[0]}-{ids[-1]}",
            parent_version=current.version,
            learned=len(ids) if status == PROMOTED else 0,
            holdout_accuracy=accuracies.holdout_after,
            holdout_rows=len(held.texts),
            details=_details(accuracies, base, replay, approved),
        )
        marked = LEARNED if status == PROMOTED else QUARANTINED
        count = feedback.mark(session, ids, row.version, marked)
        if count != len(ids):
            raise RuntimeError(f"marked {count} of {len(ids)} claimed feedback rows")
        report = _report(status, row.version, current.version, count, accuracies, approved, start)
        session.add(_run_row(report, start.at))
    model_store.write_sidecar(settings.model_dir, row)
    _prune(sessions, settings)
    return report


def _starting_point(
    session: Session, current: SentimentModel, model_dir: Path
) -> tuple[SentimentModel, Labelled]:
    """The base model to start from and the labels the current lineage already learned.

    Raises:
        model_store.ModelStoreError: the base version cannot be loaded.
    """
    assert current.version is not None
    chain = model_store.lineage(session, current.version)
    base = (
        current if chain[-1] == current.version else model_store.load(session, chain[-1], model_dir)
    )
    return base, feedback.replay(session, chain, learning.REPLAY_LIMIT)


def _prune(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Keep the bytes of ``KEEP_MODEL_VERSIONS`` versions: each retrain adds one (~17 MB).

    Runs after the commit, still under the lock; a failure here loses nothing and is only
    logged, as the next run prunes again.
    """
    try:
        with sessions.begin() as session:
            report = model_store.prune(session, settings.model_dir, settings.keep_model_versions)
            pruned = report.pruned_versions
    except (SQLAlchemyError, OSError) as exc:
        log.warning("pruning old model versions failed: %s", exc)
        return
    if pruned:
        log.info("pruned the bytes of model versions %s", pruned)


def _evaluate(
    current: SentimentModel,
    anchor: SentimentModel,
    model: SentimentModel,
    held: Labelled,
    new: Labelled,
) -> Accuracies:
    """Score the current, the anchor (the lineage's base) and the new model.

    The anchor is scored now, on the same held-out rows as the other two, rather than read
    from its registry row: the held-out set may have been replaced since it was trained.
    """
    before = after = at_anchor = None
    if held.texts:
        before, at_anchor, after = _accuracies((current, anchor, model), held)
    feedback_before, feedback_after = _accuracies((current, model), new)
    return Accuracies(before, after, feedback_before, feedback_after, at_anchor, anchor.version)


def _accuracies(models: tuple[SentimentModel, ...], rows: Labelled) -> tuple[float, ...]:
    # The features do not depend on the model: hash the reviews once, not once per model.
    features = models[0].vectorize(rows.texts)
    scored: dict[int, float] = {}
    for model in models:
        # The anchor is often the current model itself: score each object once.
        if id(model) not in scored:
            scored[id(model)] = model.accuracy_of_features(features, rows.labels)
    return tuple(scored[id(model)] for model in models)


# So that a drop of exactly max_drop, or none, is not a rejection on a float round-off.
_TOLERANCE = 1e-9


def _gate(accuracies: Accuracies, max_drop: float, approved: bool) -> str:
    """Promote unless held-out accuracy fell by more than ``max_drop`` since the current
    version, or since the anchor (docs/DESIGN.md, invariant 7); approved labels pass it once.

    Against the anchor, the version the lineage was trained from on a CSV, so that floods
    each within ``max_drop`` of the one before cannot walk the model down step by step.

    >>> _gate(Accuracies(0.90, 0.88, 0.5, 0.5), 0.01, approved=False)
    'rejected'
    >>> _gate(Accuracies(0.90, 0.88, 0.5, 0.5), 0.01, approved=True)
    'promoted'

    Each step 0.006, but 0.012 below the anchor: rejected.

    >>> _gate(Accuracies(0.914, 0.908, 0.5, 0.5, holdout_anchor=0.92), 0.01, approved=False)
    'rejected'

    A lineage an operator's approval took below the anchor's bound may still learn, as long
    as it loses nothing more.

    >>> _gate(Accuracies(0.90, 0.902, 0.5, 0.5, holdout_anchor=0.92), 0.01, approved=False)
    'promoted'
    """
    before, after = accuracies.holdout_before, accuracies.holdout_after
    if approved or before is None or after is None:
        return PROMOTED
    if before - after > max_drop + _TOLERANCE:
        return REJECTED
    anchor = accuracies.holdout_anchor
    past_anchor = anchor is not None and anchor - after > max_drop + _TOLERANCE
    # Below the anchor's bound already (an approval took it there): it may hold, not fall.
    return REJECTED if past_anchor and after < before - _TOLERANCE else PROMOTED


def _details(
    accuracies: Accuracies, base: SentimentModel, replay: Labelled, approved: bool
) -> dict[str, Any]:
    return {
        "recipe": learning.describe(),
        "started_from_version": base.version,
        "replayed": len(replay.texts),
        "approved": approved,
        "feedback_accuracy_before": accuracies.feedback_before,
        "feedback_accuracy_after": accuracies.feedback_after,
        "holdout_accuracy_before": accuracies.holdout_before,
        "anchor_version": accuracies.anchor_version,
        "holdout_accuracy_anchor": accuracies.holdout_anchor,
    }


def _report(
    status: str,
    version: int,
    parent_version: int | None,
    marked: int,
    accuracies: Accuracies,
    approved: bool,
    start: _Start,
) -> RetrainReport:
    learned = marked if status == PROMOTED else 0
    quarantined = marked - learned
    return RetrainReport(
        status,
        version=version,
        parent_version=parent_version,
        learned=learned,
        quarantined=quarantined,
        holdout_accuracy_before=accuracies.holdout_before,
        holdout_accuracy_after=accuracies.holdout_after,
        anchor_version=accuracies.anchor_version,
        holdout_accuracy_anchor=accuracies.holdout_anchor,
        feedback_accuracy_before=accuracies.feedback_before,
        feedback_accuracy_after=accuracies.feedback_after,
        seconds=start.seconds(),
        message=_message(status, version, learned, quarantined, accuracies, approved),
    )


def _message(
    status: str,
    version: int,
    learned: int,
    quarantined: int,
    accuracies: Accuracies,
    approved: bool,
) -> str:
    before = _percent(accuracies.holdout_before)
    after = _percent(accuracies.holdout_after) + _anchor_note(accuracies)
    if status == REJECTED:
        return (
            f"version {version} rejected: held-out accuracy {before} -> {after}; "
            f"{quarantined} feedback rows quarantined "
            '(see "flask --app movieclassifier quarantine list")'
        )
    bypass = " (approved feedback: gate bypassed)" if approved else ""
    return (
        f"version {version} promoted{bypass}: learned {learned} labels, "
        f"held-out accuracy {before} -> {after}"
    )


def _anchor_note(accuracies: Accuracies) -> str:
    """The anchor's figure, when the lineage has moved on from it.

    >>> _anchor_note(Accuracies(0.918, 0.915, 0.5, 0.5, holdout_anchor=0.9206, anchor_version=1))
    ' (held-out 0.9206 at the anchor v1 -> 0.9150)'
    """
    anchor = accuracies.holdout_anchor
    if anchor is None or anchor == accuracies.holdout_before:
        return ""
    return (
        f" (held-out {_percent(anchor)} at the anchor v{accuracies.anchor_version} -> "
        f"{_percent(accuracies.holdout_after)})"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _record(sessions: sessionmaker[Session], report: RetrainReport, start: _Start) -> None:
    """Write the run's row for the dashboard; a failure to do so must not hide the run's."""
    try:
        with sessions.begin() as session:
            session.add(_run_row(report, start.at))
    except Exception:
        log.exception("could not record the retrain run")


def _run_row(report: RetrainReport, started_at: datetime) -> RetrainRun:
    return RetrainRun(
        started_at=started_at,
        finished_at=datetime.now(UTC),
        status=report.status,
        version=report.version,
        learned=report.learned,
        holdout_accuracy_before=report.holdout_accuracy_before,
        holdout_accuracy_after=report.holdout_accuracy_after,
        seconds=report.seconds,
        message=report.message,
    )
