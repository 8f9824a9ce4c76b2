"""Initial training: stream labelled files in minibatches through ``partial_fit``.

The files are CSV, TSV or JSON Lines, plain or gzip, one or several read one after another
(``datafiles.ReviewFiles``, as ``ReadOptions`` says). A ``training_run.TrainingRun`` does
the passes: a thread reads the files while the parent learns, worker processes hash each
block once and spill it to a temporary directory, from which later epochs read it back
(``features.pool``). The last ``holdout`` rows (of the last file) are kept out (a ring
buffer, so no file is held in memory), evaluated, and stored as a new evaluation set
(``holdout.add_set``) that the new version records, in one transaction. A bad file, any of
them, publishes nothing.

A new base goes through the gate too (docs/DESIGN.md, invariant 7): when a version is
current and its lineage records an evaluation set, both are scored on that set without the
rows the new base trained on, and a new version more than ``gate_max_drop`` below the
current one is registered as rejected, leaving the current version in place
(``promote=True`` overrides). ``check`` finds what is wrong with a file (``Finding``);
``strict=True`` refuses to publish when anything is.

By default the model learns each training review's sentences (``features.sentence_features``),
each labelled with its review's label, instead of the whole review: on the book's split
this is more accurate on IMDb and on short texts (bench/results/train.md). Held-out rows
are always whole reviews.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import calibration, carrying, features, locking, model_store
from movieclassifier import holdout as holdout_set
from movieclassifier.csvdata import CSVFormatError
from movieclassifier.datafiles import ReadOptions, ReviewFiles, skipped_dict
from movieclassifier.features import pool as hashing_pool
from movieclassifier.model import Labelled, SentimentModel, compact, new_classifier
from movieclassifier.schema import PROMOTED
from movieclassifier.training_run import (
    ProgressCallback,
    TrainedTexts,
    TrainingRun,
    TrainProgress,
)

__all__ = [
    "CSVFormatError",
    "Finding",
    "ReadOptions",
    "Refused",
    "TrainProgress",
    "TrainReport",
    "train_from_csv",
]

# Chosen by measurement on the book's split (bench/results/train.md): the defaults of
# scripts/train_stream.py, which `make run` uses.
BATCH_SIZE = 10_000
# Passes over the file. Learning sentences, one pass averaged from 30% of it is within
# noise of two (0.9206 against 0.9226 on the book's split) in half the learning time;
# whole reviews need 4.
EPOCHS = 1
EPOCHS_WHOLE_REVIEWS = 4
# Learn sentences instead of whole reviews (``--sentences/--no-sentences``).
SENTENCES = True
# With no batch size asked for, a file of fewer training rows than BATCH_SIZE is learned in
# at least this many steps: the first 3,000 IMDb rows learned in 10,000-row steps (two:
# the first block is a quarter) scored 0.823 on the last 5,000 rows, in 300-row steps 0.841.
MIN_STEPS = 10
# Fewer held-out rows than this give an accuracy too coarse to gate on (1 row = 0.5 points).
MIN_HOLDOUT = 200

# What ``check`` finds wrong with a file (``Finding.kind``).
ONE_CLASS_HOLDOUT = "one_class_holdout"
ONE_CLASS_TRAINING = "one_class_training"
FEWER_ROWS_THAN_BATCH = "fewer_rows_than_batch"
SMALL_HOLDOUT = "small_holdout"


@dataclass(frozen=True)
class Finding:
    """Something wrong with a training file: its ``kind`` and the figures to word it.

    ``rows`` is the size of the part concerned (the training rows, or the held-out rows);
    ``label`` the one class it holds; ``batch_size`` the size asked for and ``chosen`` the
    size used instead (None when the asked size was kept).
    """

    kind: str
    rows: int
    label: int | None = None
    batch_size: int | None = None
    chosen: int | None = None


class Refused(ValueError):
    """``strict=True`` and the file has ``findings``; nothing was published."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(", ".join(finding.kind for finding in findings))
        self.findings = findings


@dataclass
class TrainReport:
    """What a training run did; ``--json`` prints it.

    ``docs_per_second`` is rows of the file per second of the whole run (reading,
    hashing and every epoch), comparable with a one-pass learner's rate.
    """

    rows_trained: int
    holdout_rows: int
    holdout_accuracy: float | None
    seconds: float
    docs_per_second: float
    version: int
    epochs: int = 1
    curve: list[tuple[int, float]] = field(default_factory=list)
    # Rows learned per epoch: the reviews' sentences with ``sentences``, else the reviews.
    examples_trained: int = 0
    sentences: bool = False
    batch_size: int = BATCH_SIZE
    status: str = PROMOTED
    gate: holdout_set.GateResult | None = None
    findings: list[Finding] = field(default_factory=list)
    # The plain base; ``version`` is the base with the carried labels when there are some.
    base_version: int | None = None
    carried: int = 0
    carried_from: int | None = None
    # Rows of the files skipped, by reason (``datafiles.EMPTY_TEXT``, ``IGNORED_LABEL``).
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_from_csv(
    path: Path | Sequence[Path],
    sessions: sessionmaker[Session],
    model_dir: Path,
    *,
    batch_size: int | None = None,
    epochs: int | None = None,
    holdout: int = 0,
    seed: int = 0,
    continue_training: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    curve: bool = False,
    sentences: bool = SENTENCES,
    gate_max_drop: float = 0.01,
    promote: bool = False,
    strict: bool = False,
    warn: Callable[[Finding], None] | None = None,
    carry_feedback: bool = True,
    reading: ReadOptions | None = None,
) -> TrainReport:
    """Train on ``path`` (a file, or several read one after another, in any format of
    ``datafiles``, read as ``reading`` says); publish the result as the new current version
    unless the gate rejects it (``TrainReport.status``), which ``promote`` overrides.

    ``batch_size`` defaults to ``BATCH_SIZE``, or to a size giving ``MIN_STEPS`` steps on a
    file of fewer training rows. ``warn`` is called with each ``Finding`` as it is found.
    ``workers`` hashing processes (default: one per core; 0 hashes in this process).
    ``curve`` records hold-out accuracy against reviews seen in ``TrainReport.curve``.
    ``sentences`` learns each training review's sentences instead of the whole review;
    ``epochs`` defaults to ``default_epochs(sentences)``. ``carry_feedback`` learns the
    labels the current version reflects onto the new base (``carrying``): the version that
    becomes current is then the base with them, and the gate judges that one.

    Raises:
        CSVFormatError: a file is not a labelled review file (the message names the file
            and the line).
        Refused: ``strict`` and the file has findings.
        ValueError: a size argument is out of range.
    """
    epochs = default_epochs(sentences) if epochs is None else epochs
    if (batch_size is not None and batch_size < 1) or epochs < 1 or holdout < 0:
        raise ValueError("batch size and epochs must be at least 1, holdout at least 0")
    csv_file = ReviewFiles(path, reading)
    asked = batch_size
    batch_size = auto_batch_size(path, holdout, reading) if asked is None else asked
    model = _starting_model(sessions, model_dir, seed, continue_training)
    parent = model.version
    workers = hashing_pool.default_workers() if workers is None else workers
    with (
        tempfile.TemporaryDirectory(prefix="movieclassifier-train-") as spill,
        hashing_pool.make_executor(workers) as pool,
    ):
        run = TrainingRun(model, Path(spill), pool, epochs, seed, progress, curve, sentences)
        held = run.first_epoch(csv_file, batch_size, holdout, window=max(workers, 1) + 1)
        findings = check(run.rows_per_epoch, run.positives, held[1], holdout, asked, batch_size)
        for finding in findings:
            if warn is not None:
                warn(finding)
        if strict and findings:
            raise Refused(findings)
        for epoch in range(1, epochs):
            run.epoch(epoch)
        accuracy = run.evaluate(run.held_files)
        seconds = time.perf_counter() - run.started
    compact(model.classifier)
    held_rows = Labelled(*held)
    calibration.calibrate(model, [(calibration.HELD_OUT, held_rows)], keep=model.calibration)
    details = {
        "training": {
            "sentences": sentences,
            "min_sentence_tokens": features.MIN_SENTENCE_TOKENS if sentences else None,
            "epochs": epochs,
            "batch_size": batch_size,
            "batch_size_asked": asked,
            "reviews_per_epoch": run.rows_per_epoch,
            "examples_per_epoch": run.examples_per_epoch,
        },
        "data": {"files": [p.name for p in csv_file.paths], "skipped": dict(csv_file.skipped)},
    }
    # The one-writer lock (docs/DESIGN.md, invariant 1) from reading what is current to
    # publishing: a retrain finishing meanwhile would otherwise publish over the new base.
    with locking.retrain_lock(sessions.kw["bind"], wait=True):
        carried = carrying.carry(sessions, model, held_rows) if carry_feedback else None
        served = carried.model if carried is not None else model
        gate = holdout_set.gate_against_current(
            sessions, model_dir, served, gate_max_drop, promote, trained=run.trained
        )
        details["gate"] = gate.as_dict()
        base_version, version = _publish(
            sessions,
            _Made(model, carried, csv_file, parent, held, accuracy, details),
            model_dir,
            gate,
            run.trained,
        )
    rows = run.rows_per_epoch
    return TrainReport(
        rows,
        len(held[0]),
        accuracy,
        seconds,
        rows / seconds,
        version,
        epochs,
        run.curve,
        run.examples_per_epoch,
        sentences,
        batch_size,
        gate.status,
        gate,
        findings,
        base_version,
        carried.labels if carried is not None else 0,
        carried.from_version if carried is not None else None,
        skipped_dict(csv_file.skipped),
    )


def auto_batch_size(
    path: Path | Sequence[Path], holdout: int, reading: ReadOptions | None = None
) -> int:
    """``BATCH_SIZE``, or, when ``path`` has fewer training rows, a size that learns them in
    ``MIN_STEPS`` steps (reads at most ``BATCH_SIZE + holdout`` rows).

    Raises:
        CSVFormatError: the rows read are not labelled reviews.
    """
    rows = 0
    for _ in ReviewFiles(path, reading):
        rows += 1
        if rows - holdout >= BATCH_SIZE:
            return BATCH_SIZE
    return max(1, (rows - holdout) // MIN_STEPS)


def check(
    rows: int,
    positives: int,
    held_labels: list[int],
    holdout: int,
    asked: int | None,
    batch_size: int,
) -> list[Finding]:
    """What is wrong with a file of ``rows`` training reviews (``positives`` of them
    positive) and these held-out labels, trained in steps of ``batch_size`` (``asked``:
    the size asked for, None for the default).

    >>> [f.kind for f in check(3000, 1500, [0, 1] * 250, 500, None, 300)]
    ['fewer_rows_than_batch']
    >>> for finding in check(3000, 3000, [1] * 150, 150, 10000, 10000):
    ...     print(finding.kind, finding.label)
    one_class_training 1
    one_class_holdout 1
    small_holdout None
    fewer_rows_than_batch None
    """
    findings = []
    if positives in (0, rows):
        findings.append(Finding(ONE_CLASS_TRAINING, rows, label=int(positives > 0)))
    if len(set(held_labels)) == 1:
        findings.append(Finding(ONE_CLASS_HOLDOUT, len(held_labels), label=held_labels[0]))
    if holdout > 0 and len(held_labels) < MIN_HOLDOUT:
        findings.append(Finding(SMALL_HOLDOUT, len(held_labels)))
    if asked is not None and rows < asked:
        findings.append(Finding(FEWER_ROWS_THAN_BATCH, rows, batch_size=asked))
    elif asked is None and batch_size < BATCH_SIZE:
        findings.append(
            Finding(FEWER_ROWS_THAN_BATCH, rows, batch_size=BATCH_SIZE, chosen=batch_size)
        )
    return findings


def default_epochs(sentences: bool) -> int:
    """Passes over the file when none are asked for (measured: bench/results/train.md)."""
    return EPOCHS if sentences else EPOCHS_WHOLE_REVIEWS


def _starting_model(
    sessions: sessionmaker[Session], model_dir: Path, seed: int, continue_training: bool
) -> SentimentModel:
    if not continue_training:
        return SentimentModel(new_classifier(seed))
    with sessions() as session:
        return model_store.load_current(session, model_dir)


@dataclass(frozen=True)
class _Made:
    """What a run made: the plain base, the base with carried labels, and its figures."""

    model: SentimentModel
    carried: carrying.Carried | None
    csv_file: ReviewFiles
    parent: int | None
    held: tuple[list[str], list[int]]
    accuracy: float | None
    details: dict[str, Any]


def _publish(
    sessions: sessionmaker[Session],
    made: _Made,
    model_dir: Path,
    gate: holdout_set.GateResult,
    trained: TrainedTexts,
) -> tuple[int, int]:
    """Register the base, and the base with carried labels, in one transaction: workers
    never see the plain base current when labels were carried. Returns both versions."""
    written = model_store.write(made.model, model_dir)
    carried = made.carried
    written_carried = model_store.write(carried.model, model_dir) if carried else None
    with sessions.begin() as session:
        # Its own held-out rows as a new set, else the set it was gated on (never one
        # with rows it trained on); no other version's set changes.
        evaluated_on = holdout_set.set_for_new_base(
            session, gate, made.held, made.csv_file.name, trained
        )
        row = model_store.register(
            session,
            written,
            made.model,
            status=gate.status,
            source="csv",
            source_detail=made.csv_file.name,
            source_sha256=made.csv_file.sha256,
            parent_version=made.parent,
            holdout_accuracy=made.accuracy,
            holdout_rows=len(made.held[0]),
            holdout_set=evaluated_on,
            details=made.details,
        )
        served = row
        if carried is not None and written_carried is not None:
            held = made.held
            served = model_store.register(
                session,
                written_carried,
                carried.model,
                status=gate.status,
                source=model_store.RETRAIN_SOURCE,
                source_detail=f"carried {carried.labels} labels of version {carried.from_version}",
                parent_version=row.version,
                holdout_accuracy=carried.model.accuracy(*held) if held[0] else None,
                holdout_rows=len(held[0]),
                holdout_set=evaluated_on,
                carried_from=carried.from_version,
                consolidated=True,
                details=carrying.details(carried),
            )
        versions = row.version, served.version
    model_store.write_sidecar(model_dir, served)
    return versions
