"""Initial training: stream a labelled CSV in minibatches through ``partial_fit``.

The last ``holdout`` rows are kept out (a ring buffer, so the file is never held in
memory), evaluated, and stored as the retraining gate's held-out set together with
the new version, in one transaction. A bad file publishes nothing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import holdout as holdout_set
from movieclassifier import model_store
from movieclassifier.csvdata import CSVFormatError, Progress, ReviewCSV
from movieclassifier.model import SentimentModel, new_classifier
from movieclassifier.schema import PROMOTED

__all__ = ["CSVFormatError", "TrainReport", "train_from_csv"]

ProgressCallback = Callable[[Progress, int], None]


@dataclass
class TrainReport:
    """What a training run did; ``--json`` prints it."""

    rows_trained: int
    holdout_rows: int
    holdout_accuracy: float | None
    seconds: float
    docs_per_second: float
    version: int
    curve: list[tuple[int, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_from_csv(
    path: Path,
    sessions: sessionmaker[Session],
    model_dir: Path,
    *,
    batch_size: int = 1000,
    epochs: int = 1,
    holdout: int = 0,
    seed: int = 0,
    continue_training: bool = False,
    progress: ProgressCallback | None = None,
) -> TrainReport:
    """Train on ``path`` and publish the result as the new current version.

    Raises:
        CSVFormatError: the file is not a ``review,sentiment`` CSV with labels 0/1.
        ValueError: a size argument is out of range.
    """
    if batch_size < 1 or epochs < 1 or holdout < 0:
        raise ValueError("batch size and epochs must be at least 1, holdout at least 0")
    started = time.perf_counter()
    model = _starting_model(sessions, model_dir, seed, continue_training)
    parent = model.version
    csv_file = ReviewCSV(path)
    kept: deque[tuple[str, int]] = deque(maxlen=holdout) if holdout else deque(maxlen=0)
    rows = 0
    for epoch in range(epochs):
        for texts, labels in _batches(_delayed(csv_file, kept, holdout), batch_size):
            model.learn(texts, labels)
            if epoch == 0:
                rows += len(texts)
            if progress:
                progress(csv_file.progress, rows)
        if epoch + 1 < epochs:
            kept.clear()
            csv_file = ReviewCSV(path)
    if rows == 0:
        raise CSVFormatError(f"{path}: no rows to train on (holdout {holdout} took them all)")
    held_texts = [t for t, _ in kept]
    held_labels = [y for _, y in kept]
    accuracy = model.accuracy(held_texts, held_labels) if kept else None
    seconds = time.perf_counter() - started
    version = _publish(
        sessions, model, model_dir, csv_file, parent, (held_texts, held_labels), accuracy
    )
    return TrainReport(rows, len(kept), accuracy, seconds, rows * epochs / seconds, version)


def _starting_model(
    sessions: sessionmaker[Session], model_dir: Path, seed: int, continue_training: bool
) -> SentimentModel:
    if not continue_training:
        return SentimentModel(new_classifier(seed))
    with sessions() as session:
        return model_store.load_current(session, model_dir)


def _delayed(
    rows: ReviewCSV, kept: deque[tuple[str, int]], holdout: int
) -> Iterator[tuple[str, int]]:
    """Yield rows ``holdout`` behind the reader, so the last ``holdout`` stay in ``kept``."""
    for _line, review, label in rows:
        if holdout == 0:
            yield review, label
            continue
        if len(kept) == holdout:
            yield kept[0]
        kept.append((review, label))


def _batches(rows: Iterator[tuple[str, int]], size: int) -> Iterator[tuple[list[str], list[int]]]:
    texts: list[str] = []
    labels: list[int] = []
    for review, label in rows:
        texts.append(review)
        labels.append(label)
        if len(texts) == size:
            yield texts, labels
            texts, labels = [], []
    if texts:
        yield texts, labels


def _publish(
    sessions: sessionmaker[Session],
    model: SentimentModel,
    model_dir: Path,
    csv_file: ReviewCSV,
    parent: int | None,
    held: tuple[list[str], list[int]],
    accuracy: float | None,
) -> int:
    written = model_store.write(model, model_dir)
    with sessions.begin() as session:
        row = model_store.register(
            session,
            written,
            model,
            status=PROMOTED,
            source="csv",
            source_detail=csv_file.path.name,
            source_sha256=csv_file.sha256,
            parent_version=parent,
            holdout_accuracy=accuracy,
            holdout_rows=len(held[0]),
        )
        if held[0]:
            holdout_set.replace(session, *held)
        version = row.version
    model_store.write_sidecar(model_dir, row)
    return version
