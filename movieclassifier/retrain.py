"""The retraining job: learn the feedback no version has learned yet, gate it, publish it.

One run holds the one-writer lock and hands back rows a dead run left claimed. It first
publishes a version without what was retracted or forgotten, if anything was. Then, batch
by batch until every answer waiting at its start is done, it claims a batch, screens it
(``screening``: suspect answers are quarantined alone), holds the domain slice out, learns
the rest (``learning``), gates the result (``gate``), writes the file under a fresh name,
and registers the version AND marks its rows in ONE transaction (docs/DESIGN.md,
invariants 1, 2 and 7): a crash anywhere leaves either all of it or an orphan file.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import (
    calibration,
    db,
    feedback,
    gate,
    holdout,
    learning,
    lifetime,
    locking,
    model_store,
    retention,
    screening,
)
from movieclassifier.config import Settings
from movieclassifier.model import Featured, Labelled, SentimentModel
from movieclassifier.schema import (
    APPROVED,
    HELD_OUT,
    LEARNED,
    PENDING,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    RetrainRun,
)

log = logging.getLogger(__name__)

NOTHING_TO_LEARN = "nothing_to_learn"
BUSY = "busy"
FAILED = "failed"
STATUSES = (PROMOTED, REJECTED, NOTHING_TO_LEARN, BUSY, FAILED)


@dataclass(frozen=True)
class RetrainReport:
    """What one run did; ``scripts/retrain.py --json`` prints it.

    A run that drained a backlog in several batches reports their sum, and its last
    version; ``versions`` lists each version it registered.
    """

    status: str
    version: int | None = None
    parent_version: int | None = None
    learned: int = 0
    quarantined: int = 0
    held_out: int = 0
    dropped: int = 0
    holdout_accuracy_before: float | None = None
    holdout_accuracy_after: float | None = None
    anchor_version: int | None = None
    holdout_accuracy_anchor: float | None = None
    domain_accuracy_before: float | None = None
    domain_accuracy_after: float | None = None
    domain_rows: int = 0
    feedback_accuracy_before: float | None = None
    feedback_accuracy_after: float | None = None
    versions: list[int] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """Run once: learn every waiting label, in batches of ``batch_size``, and publish or
    reject each batch's version; first drop what was retracted or forgotten.

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
        counts = feedback.counts(session)
        # Approved answers are claimed in batches of their own (``feedback.claim``).
        waiting = (counts[APPROVED], counts[PENDING])
        drops = len(lifetime.pending_drops(session, current))
    if handed:
        log.warning("handed back %d feedback rows claimed by a run that died", handed)
    reports = []
    if drops:
        # Alone, ahead of any batch: what a person took back leaves the model even when
        # the gate would turn the next batch away.
        reports.append(_learn_and_publish(sessions, settings, [], start))
    # Every label waiting when the run began, in bounded batches: a backlog drains in one
    # run, and answers arriving meanwhile wait for the next.
    for _ in range(sum(math.ceil(count / batch_size) for count in waiting)):
        claimed = claim(sessions, batch_size)
        if not claimed:
            break
        try:
            reports.append(_learn_and_publish(sessions, settings, claimed, start))
        except BaseException:
            # Also on SIGTERM (SystemExit): the rows go back for the next run.
            with sessions.begin() as session:
                feedback.hand_back(session)
            raise
    _expire(sessions, settings)
    if not reports:
        return RetrainReport(
            NOTHING_TO_LEARN, version=current, seconds=start.seconds(), message="nothing to learn"
        )
    return _combined(reports, start)


def _expire(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Delete tracked predictions nobody answered within ``PREDICTION_RETENTION_DAYS``.

    Like pruning, a failure here loses nothing and is only logged: the next run expires
    them. Answered predictions are never touched (``retention``).
    """
    try:
        with sessions() as session:
            expired = retention.expire_unanswered(session, settings.prediction_retention_days)
    except SQLAlchemyError as exc:
        log.warning("expiring unanswered predictions failed: %s", exc)
        return
    if expired:
        log.info("deleted %d tracked predictions nobody answered", expired)


def _learn_and_publish(
    sessions: sessionmaker[Session],
    settings: Settings,
    claimed: list[feedback.Claimed],
    start: _Start,
) -> RetrainReport:
    """One batch: screen it, learn what stands, gate it, register and mark in one commit.

    With no rows, a version that only drops what was taken back.
    """
    with sessions() as session:
        current = model_store.load_current(session, settings.model_dir)
        assert current.version is not None
        begin = lifetime.start_of(session, current.version)
        drops = begin.drops if begin.full else None
        base = _load(session, begin.version, current, settings.model_dir)
        anchor = _load(session, begin.anchor, base, settings.model_dir)
        replay = lifetime.replay(session, begin.replay)
        held_set = holdout.set_of(session, current.version)
        held = holdout.load(session, held_set) if held_set is not None else Labelled([], [])
        domain = feedback.domain_slice(session)
    batch = _Batch.split(claimed, current, base, replay, settings.gate_feedback_slice)
    if claimed and not batch.learn_ids and not batch.slice_ids:
        return _all_suspect(sessions, batch, current.version, start)
    model = learning.learn(base, replay, batch.learning)
    # Hashed once for the gate and the calibration (which also reads this batch's slice).
    held_rows, domain_rows = Featured.of(held), Featured.of(domain)
    sliced = domain_rows.plus(batch.held_out)
    calibration.calibrate(
        model,
        [(calibration.HELD_OUT, held_rows), (calibration.DOMAIN_SLICE, sliced)],
        model.calibration,
    )
    accuracies = gate.evaluate(current, anchor, model, held_rows, domain_rows, batch.learning)
    status = gate.decide(accuracies, settings.gate_max_drop, batch.approved or not claimed)
    consolidated = begin.full or len(replay.texts) + len(batch.learn_ids) >= (
        lifetime.CONSOLIDATE_AFTER
    )
    written = model_store.write(model, settings.model_dir)
    with sessions.begin() as session:
        row = model_store.register(
            session,
            written,
            model,
            status=status,
            source=model_store.RETRAIN_SOURCE,
            source_detail=_source_detail(claimed, drops),
            parent_version=current.version,
            learned=len(batch.learn_ids) if status == PROMOTED else 0,
            holdout_accuracy=accuracies.holdout.after,
            holdout_rows=accuracies.holdout.rows,
            holdout_set=held_set,
            consolidated=consolidated,
            details=_details(accuracies, begin, replay, batch, drops),
        )
        marked = _mark(session, batch, row.version, status)
        if drops:
            lifetime.mark_dropped(session, drops, row.version)
        report = _report(status, row.version, current.version, marked, accuracies, batch, start)
        report = replace(report, dropped=len(drops) if drops else 0)
        if drops:
            report = replace(report, message=f"{report.message}; {_dropped_note(drops)}")
        session.add(_run_row(report, start.at))
    model_store.write_sidecar(settings.model_dir, row)
    _prune(sessions, settings)
    return report


def _load(
    session: Session, version: int, loaded: SentimentModel, model_dir: Path
) -> SentimentModel:
    """Version ``version``, reusing ``loaded`` when it is that version."""
    if loaded.version == version:
        return loaded
    return model_store.load(session, version, model_dir)


@dataclass(frozen=True)
class _Batch:
    """A claimed batch split by the screen: what is learned, held out, and quarantined."""

    learn_ids: list[int]
    learning: Labelled
    slice_ids: list[int]
    held_out: Labelled
    suspects: dict[int, tuple[float, str]]
    approved: bool

    @classmethod
    def split(
        cls,
        claimed: list[feedback.Claimed],
        current: SentimentModel,
        base: SentimentModel,
        replay: Labelled,
        share: float,
    ) -> _Batch:
        approved = bool(claimed) and all(row.approved for row in claimed)
        suspects: dict[int, tuple[float, str]] = {}
        if claimed and not approved:
            # An operator's approval settles those answers; the screen judges the others.
            new = Labelled([row.review for row in claimed], [row.label for row in claimed])
            verdicts = screening.screen(current, base, replay, new, [r.source for r in claimed])
            suspects = {
                row.id: (verdict.score, verdict.reason)
                for row, verdict in zip(claimed, verdicts, strict=True)
                if verdict.suspect
            }
        standing = [row for row in claimed if row.id not in suspects]
        held = [] if approved else [row for row in standing if gate.in_slice(row.id, share)]
        held_ids = {row.id for row in held}
        learning_rows = [row for row in standing if row.id not in held_ids]
        return cls(
            [row.id for row in learning_rows],
            Labelled([row.review for row in learning_rows], [row.label for row in learning_rows]),
            [row.id for row in held],
            Labelled([row.review for row in held], [row.label for row in held]),
            suspects,
            approved,
        )


def _mark(session: Session, batch: _Batch, version: int, status: str) -> dict[str, int]:
    """Mark every claimed row; a rejected version quarantines the whole batch."""
    suspects = list(batch.suspects)
    if status == PROMOTED:
        counts = {
            LEARNED: feedback.mark(session, batch.learn_ids, version, LEARNED),
            HELD_OUT: feedback.mark(session, batch.slice_ids, version, HELD_OUT),
        }
    else:
        counts = {LEARNED: 0, HELD_OUT: 0}
        suspects += batch.learn_ids + batch.slice_ids
    counts[QUARANTINED] = feedback.mark(session, suspects, version, QUARANTINED)
    feedback.suspects(session, batch.suspects)
    expected = len(batch.learn_ids) + len(batch.slice_ids) + len(batch.suspects)
    if sum(counts.values()) != expected:
        raise RuntimeError(f"marked {sum(counts.values())} of {expected} claimed feedback rows")
    return counts


def _all_suspect(
    sessions: sessionmaker[Session], batch: _Batch, current: int, start: _Start
) -> RetrainReport:
    """Every answer of the batch failed the screen: quarantine them, publish nothing.

    They are recorded against the current version, which is what they were screened by.
    """
    ids = list(batch.suspects)
    with sessions.begin() as session:
        marked = feedback.mark(session, ids, current, QUARANTINED)
        feedback.suspects(session, batch.suspects)
        report = RetrainReport(
            REJECTED,
            version=None,
            parent_version=current,
            quarantined=marked,
            seconds=start.seconds(),
            message=f"all {marked} answers of the batch quarantined by the screen; "
            "no version made" + _QUARANTINE_HINT,
        )
        session.add(_run_row(report, start.at))
    return report


_QUARANTINE_HINT = ' (see "flask --app movieclassifier quarantine list")'


def _source_detail(claimed: list[feedback.Claimed], drops: lifetime.Drops | None) -> str:
    if not claimed:
        return f"dropped {len(drops) if drops else 0} labels taken back"
    return f"feedback ids {claimed[0].id}-{claimed[-1].id}"


def _dropped_note(drops: lifetime.Drops) -> str:
    parts = []
    if drops.retracted:
        parts.append(f"{len(drops.retracted)} retracted")
    if drops.removals:
        parts.append(f"{len(drops.removals)} forgotten")
    return "dropped the effect of " + " and ".join(parts) + " answers"


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


def _details(
    accuracies: gate.Accuracies,
    begin: lifetime.Start,
    replay: Labelled,
    batch: _Batch,
    drops: lifetime.Drops | None,
) -> dict[str, Any]:
    return {
        "recipe": learning.describe(),
        "started_from_version": begin.version,
        "full_refit": begin.full,
        "replayed": len(replay.texts),
        "approved": batch.approved,
        "held_out": len(batch.slice_ids),
        "quarantined_alone": len(batch.suspects),
        "dropped_retracted": len(drops.retracted) if drops else 0,
        "dropped_forgotten": len(drops.removals) if drops else 0,
        "feedback_accuracy_before": accuracies.feedback_before,
        "feedback_accuracy_after": accuracies.feedback_after,
        "holdout_accuracy_before": accuracies.holdout.before,
        "anchor_version": accuracies.anchor_version,
        "holdout_accuracy_anchor": accuracies.holdout.anchor,
        "domain_accuracy_before": accuracies.domain.before,
        "domain_accuracy_after": accuracies.domain.after,
        "domain_accuracy_anchor": accuracies.domain.anchor,
        "domain_rows": accuracies.domain.rows,
    }


def _report(
    status: str,
    version: int,
    parent_version: int | None,
    marked: dict[str, int],
    accuracies: gate.Accuracies,
    batch: _Batch,
    start: _Start,
) -> RetrainReport:
    learned, held_out, quarantined = marked[LEARNED], marked[HELD_OUT], marked[QUARANTINED]
    return RetrainReport(
        status,
        version=version,
        parent_version=parent_version,
        learned=learned,
        quarantined=quarantined,
        held_out=held_out,
        holdout_accuracy_before=accuracies.holdout.before,
        holdout_accuracy_after=accuracies.holdout.after,
        anchor_version=accuracies.anchor_version,
        holdout_accuracy_anchor=accuracies.holdout.anchor,
        domain_accuracy_before=accuracies.domain.before,
        domain_accuracy_after=accuracies.domain.after,
        domain_rows=accuracies.domain.rows,
        feedback_accuracy_before=accuracies.feedback_before,
        feedback_accuracy_after=accuracies.feedback_after,
        versions=[version],
        seconds=start.seconds(),
        message=_message(status, version, marked, accuracies, batch),
    )


def _message(
    status: str,
    version: int,
    marked: dict[str, int],
    accuracies: gate.Accuracies,
    batch: _Batch,
) -> str:
    held = accuracies.holdout
    figures = f"held-out accuracy {_percent(held.before)} -> {_percent(held.after)}"
    figures += _anchor_note(accuracies) + _domain_note(accuracies.domain)
    if status == REJECTED:
        return (
            f"version {version} rejected: {figures}; {marked[QUARANTINED]} feedback rows "
            "quarantined" + _QUARANTINE_HINT
        )
    bypass = " (approved feedback: gate bypassed)" if batch.approved else ""
    alone = ""
    if marked[QUARANTINED]:
        alone = f", quarantined {marked[QUARANTINED]} suspect answers" + _QUARANTINE_HINT
    if marked[HELD_OUT]:
        alone += f", held {marked[HELD_OUT]} out for the domain slice"
    return f"version {version} promoted{bypass}: learned {marked[LEARNED]} labels{alone}, {figures}"


def _anchor_note(accuracies: gate.Accuracies) -> str:
    """The anchor's figure, when the lineage has moved on from it.

    >>> held = gate.Scores(0.918, 0.915, 0.9206, 5000)
    >>> _anchor_note(gate.Accuracies(held, gate.Scores(), 0.5, 0.5, anchor_version=1))
    ' (held-out 0.9206 at the anchor v1 -> 0.9150)'
    """
    held = accuracies.holdout
    if held.anchor is None or held.anchor == held.before:
        return ""
    return (
        f" (held-out {_percent(held.anchor)} at the anchor v{accuracies.anchor_version} -> "
        f"{_percent(held.after)})"
    )


def _domain_note(domain: gate.Scores) -> str:
    """
    >>> _domain_note(gate.Scores(0.8, 0.82, 0.75, 60))
    '; domain slice (60 answers) 0.8000 -> 0.8200'
    """
    if not domain.rows:
        return ""
    return (
        f"; domain slice ({domain.rows} answers) {_percent(domain.before)} -> "
        f"{_percent(domain.after)}"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _combined(reports: list[RetrainReport], start: _Start) -> RetrainReport:
    """One report for a run of several batches: the sums, and the last batch's figures."""
    if len(reports) == 1:
        return replace(reports[0], seconds=start.seconds())
    last = reports[-1]
    versions = [v for report in reports for v in report.versions]
    promoted = [report for report in reports if report.status == PROMOTED]
    return replace(
        last,
        status=PROMOTED if promoted else REJECTED,
        version=promoted[-1].version if promoted else last.version,
        learned=sum(report.learned for report in reports),
        quarantined=sum(report.quarantined for report in reports),
        held_out=sum(report.held_out for report in reports),
        dropped=sum(report.dropped for report in reports),
        versions=versions,
        seconds=start.seconds(),
        message="; ".join(report.message for report in reports),
    )


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
