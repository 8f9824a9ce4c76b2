"""The retraining job: learn the feedback no version has learned yet, gate it, publish it.

One run holds the one-writer lock, hands back rows a dead run left claimed, claims a batch,
learns, evaluates on the held-out set (the gate), writes the file under a fresh name, and
then registers the version AND marks its rows in ONE transaction (DESIGN.md, invariants
1, 2, 7): a crash anywhere leaves either all of it or an orphan file and nothing else.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import feedback, holdout, learning, locking, model_store
from movieclassifier.config import Settings
from movieclassifier.model import SentimentModel
from movieclassifier.schema import LEARNED, PROMOTED, QUARANTINED, REJECTED, RetrainRun

log = logging.getLogger(__name__)

NOTHING_TO_LEARN = "nothing_to_learn"
BUSY = "busy"
FAILED = "failed"
STATUSES = (PROMOTED, REJECTED, NOTHING_TO_LEARN, BUSY, FAILED)
# Fault injection for the kill -9 tests (tests/test_kill.py): the process SIGKILLs itself
# at the named point. Unset in production; read here, not in config, because it is not a
# setting anyone should tune.
CRASH_ENV = "RETRAIN_CRASH_AT"
CRASH_POINTS = (
    "locked",
    "claimed",
    "learned",
    "writing",
    "written",
    "registered",
    "committed",
)


@dataclass
class RetrainReport:
    """What one run did; ``scripts/retrain.py --json`` prints it."""

    status: str
    version: int | None = None
    parent_version: int | None = None
    learned: int = 0
    quarantined: int = 0
    holdout_accuracy_before: float | None = None
    holdout_accuracy_after: float | None = None
    feedback_accuracy_before: float | None = None
    feedback_accuracy_after: float | None = None
    seconds: float = 0.0
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(
    sessions: sessionmaker[Session],
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
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        with locking.retrain_lock(sessions.kw["bind"], wait=wait):
            crash_point("locked")
            report = _run(sessions, settings, batch_size or settings.retrain_batch_size, started)
    except locking.Busy as exc:
        report = RetrainReport(BUSY, message=str(exc))
    except Exception as exc:
        report = RetrainReport(FAILED, message=f"{type(exc).__name__}: {exc}")
        _record(sessions, report, started_at, started)
        raise
    if report.status not in (PROMOTED, REJECTED):
        _record(sessions, report, started_at, started)
    report.seconds = time.perf_counter() - started
    log.info("retrain %s: %s", report.status, report.message)
    return report


def _run(
    sessions: sessionmaker[Session], settings: Settings, batch_size: int, started: float
) -> RetrainReport:
    with sessions.begin() as session:
        current = model_store.current_version(session)
        if current is None:
            raise model_store.NoModel(f"no model to retrain; {model_store.TRAIN_HINT}")
        handed = feedback.hand_back(session)
    if handed:
        log.warning("handed back %d feedback rows claimed by a run that died", handed)
    with sessions.begin() as session:
        claimed = feedback.claim(session, batch_size)
    crash_point("claimed")
    if not claimed:
        return RetrainReport(NOTHING_TO_LEARN, version=current, message="nothing to learn")
    try:
        return _learn_and_publish(sessions, settings, claimed, started)
    except BaseException:
        # Also on SIGTERM (SystemExit): the rows go back for the next run.
        with sessions.begin() as session:
            feedback.hand_back(session)
        raise


def _learn_and_publish(
    sessions: sessionmaker[Session],
    settings: Settings,
    claimed: list[feedback.Claimed],
    started: float,
) -> RetrainReport:
    with sessions() as session:
        current = model_store.load_current(session, settings.model_dir)
        start, replay = _starting_point(session, current, settings.model_dir)
        held = holdout.load(session)
    texts = [row.review for row in claimed]
    labels = [row.label for row in claimed]
    model = learning.learn(start, replay, (texts, labels))
    crash_point("learned")
    report = _evaluate(current, model, held, texts, labels)
    report.parent_version = current.version
    approved = all(row.approved for row in claimed)
    report.status = _gate(report, settings.gate_max_drop, approved)
    written = _write(model, settings.model_dir)
    ids = [row.id for row in claimed]
    with sessions.begin() as session:
        row = model_store.register(
            session,
            written,
            model,
            status=report.status,
            source=model_store.RETRAIN_SOURCE,
            source_detail=f"feedback ids {ids[0]}-{ids[-1]}",
            parent_version=current.version,
            learned=len(ids) if report.status == PROMOTED else 0,
            holdout_accuracy=report.holdout_accuracy_after,
            holdout_rows=len(held[0]),
            details=_details(report, start, replay, approved),
        )
        marked = LEARNED if report.status == PROMOTED else QUARANTINED
        count = feedback.mark(session, ids, row.version, marked)
        if count != len(ids):
            raise RuntimeError(f"marked {count} of {len(ids)} claimed feedback rows")
        report.version = row.version
        report.learned = count if marked == LEARNED else 0
        report.quarantined = count if marked == QUARANTINED else 0
        report.message = _message(report, approved)
        report.seconds = time.perf_counter() - started
        session.add(_run_row(report, datetime.now(UTC), report.seconds))
        crash_point("registered")
    crash_point("committed")
    model_store.write_sidecar(settings.model_dir, row)
    _prune(sessions, settings)
    return report


def _starting_point(
    session: Session, current: SentimentModel, model_dir: Path
) -> tuple[SentimentModel, learning.Labelled]:
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
    model: SentimentModel,
    held: tuple[list[str], list[int]],
    texts: list[str],
    labels: list[int],
) -> RetrainReport:
    before = after = None
    if held[0]:
        before, after = _both_accuracies(current, model, *held)
    feedback_before, feedback_after = _both_accuracies(current, model, texts, labels)
    return RetrainReport(
        status="",
        holdout_accuracy_before=before,
        holdout_accuracy_after=after,
        feedback_accuracy_before=feedback_before,
        feedback_accuracy_after=feedback_after,
    )


def _both_accuracies(
    current: SentimentModel, model: SentimentModel, texts: list[str], labels: list[int]
) -> tuple[float, float]:
    # The features do not depend on the model: hash the (5,000) reviews once, not twice.
    features = model.vectorize(texts)
    return current.accuracy_of_features(features, labels), model.accuracy_of_features(
        features, labels
    )


def _gate(report: RetrainReport, max_drop: float, approved: bool) -> str:
    """Promote unless held-out accuracy fell by more than ``max_drop`` (DESIGN.md, invariant 7).

    >>> _gate(RetrainReport("", holdout_accuracy_before=0.90, holdout_accuracy_after=0.88),
    ...       0.01, approved=False)
    'rejected'
    >>> _gate(RetrainReport("", holdout_accuracy_before=0.90, holdout_accuracy_after=0.88),
    ...       0.01, approved=True)
    'promoted'
    """
    before, after = report.holdout_accuracy_before, report.holdout_accuracy_after
    if approved or before is None or after is None:
        return PROMOTED
    # A tiny tolerance, so a drop of exactly max_drop on a float round-off is not a rejection.
    return REJECTED if before - after > max_drop + 1e-9 else PROMOTED


def _write(model: SentimentModel, model_dir: Path) -> model_store.WrittenModel:
    crash_point("writing", model_dir)
    written = model_store.write(model, model_dir)
    crash_point("written")
    return written


def _details(
    report: RetrainReport,
    start: SentimentModel,
    replay: tuple[list[str], list[int]],
    approved: bool,
) -> dict[str, Any]:
    return {
        "recipe": learning.describe(),
        "started_from_version": start.version,
        "replayed": len(replay[0]),
        "approved": approved,
        "feedback_accuracy_before": report.feedback_accuracy_before,
        "feedback_accuracy_after": report.feedback_accuracy_after,
        "holdout_accuracy_before": report.holdout_accuracy_before,
    }


def _message(report: RetrainReport, approved: bool) -> str:
    before = _percent(report.holdout_accuracy_before)
    after = _percent(report.holdout_accuracy_after)
    if report.status == REJECTED:
        return (
            f"version {report.version} rejected: held-out accuracy {before} -> {after}; "
            f"{report.quarantined} feedback rows quarantined "
            '(see "flask --app movieclassifier quarantine list")'
        )
    bypass = " (approved feedback: gate bypassed)" if approved else ""
    return (
        f"version {report.version} promoted{bypass}: learned {report.learned} labels, "
        f"held-out accuracy {before} -> {after}"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _record(
    sessions: sessionmaker[Session], report: RetrainReport, started_at: datetime, started: float
) -> None:
    """Write the run's row for the dashboard; a failure to do so must not hide the run's."""
    try:
        with sessions.begin() as session:
            session.add(_run_row(report, started_at, time.perf_counter() - started))
    except Exception:
        log.exception("could not record the retrain run")


def _run_row(report: RetrainReport, started_at: datetime, seconds: float) -> RetrainRun:
    return RetrainRun(
        started_at=started_at,
        finished_at=datetime.now(UTC),
        status=report.status,
        version=report.version,
        learned=report.learned,
        holdout_accuracy_before=report.holdout_accuracy_before,
        holdout_accuracy_after=report.holdout_accuracy_after,
        seconds=seconds,
        message=report.message,
    )


def crash_point(name: str, model_dir: Path | None = None) -> None:
    """Kill this process with SIGKILL at ``name`` when ``RETRAIN_CRASH_AT`` names it (tests)."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted != name:
        return
    if name == "writing" and model_dir is not None:
        _kill_when_a_temporary_file_appears(model_dir)
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_when_a_temporary_file_appears(model_dir: Path) -> None:
    # "During the write": a watcher kills the process as soon as the store's temporary file
    # exists, i.e. while the bytes are being written; "written" catches a write that won.
    def watch() -> None:
        while True:
            if any(model_dir.glob(".tmp-*")):
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.0005)

    threading.Thread(target=watch, daemon=True).start()
    os.environ[CRASH_ENV] = "written"
