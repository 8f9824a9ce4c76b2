"""One training run's passes: read the files, hash them in worker processes, learn in order.

``training.train_from_csv`` makes a ``TrainingRun`` and publishes what it learned. The
first pass reads the file in a thread, hands blocks of rows to the hashing workers
(``features.pool``) and learns each hashed block as it comes back; later passes read the
spilled blocks again. ``partial_fit`` releases the GIL, so reading overlaps learning.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from movieclassifier.csvdata import CSVFormatError, all_but_last, batches
from movieclassifier.datafiles import ReviewFiles
from movieclassifier.features import pool as hashing_pool
from movieclassifier.model import AVERAGE_START, SentimentModel, average_from_now

# Rows hashed per task in a worker; a partial_fit step is made of one or more blocks.
# One block per step by default: stacking blocks into a step cost more than the workers'
# quicker start with smaller blocks gained.
HASH_BLOCK = 10_000
# Learning-curve points taken during the first epoch (``curve=True``).
CURVE_POINTS = 10


@dataclass
class TrainProgress:
    """How far a run is, for a progress bar."""

    fraction: float
    rows_learned: int
    epoch: int
    epochs: int
    seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.rows_learned / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[TrainProgress], None]


class TrainedTexts:
    """The reviews a run trained on, as a 64-bit hash of each exact text: ``text in trained``.

    Eight bytes a review, so a whole corpus fits. The hash is Python's ``hash`` of the
    string, the same within this process (the gate asks in the process that trained). A
    collision can only make a held-out row look trained: it is left out, never scored.

    >>> trained = TrainedTexts()
    >>> trained.add(["a fine film", "a dull film"])
    >>> "a dull film" in trained, "a dull film." in trained, len(trained)
    (True, False, 2)
    """

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._sorted: np.ndarray = np.empty(0, dtype=np.int64)

    def add(self, texts: Iterable[str]) -> None:
        """Record ``texts`` as trained on (safe from one thread while no other asks)."""
        self._blocks.append(np.fromiter(map(hash, texts), dtype=np.int64))

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        hashes = self._hashes()
        key = hash(text)
        at = int(np.searchsorted(hashes, key))
        return at < len(hashes) and int(hashes[at]) == key

    def __len__(self) -> int:
        """How many distinct texts (hashes) were recorded."""
        return len(self._hashes())

    def _hashes(self) -> np.ndarray:
        if self._blocks:
            self._sorted = np.unique(np.concatenate([self._sorted, *self._blocks]))
            self._blocks = []
        return self._sorted


class TrainingRun:
    """One training run: learns batches in order, keeps the spill files and the curve."""

    def __init__(
        self,
        model: SentimentModel,
        spill: Path,
        pool: Executor,
        epochs: int,
        seed: int,
        progress: ProgressCallback | None,
        curve: bool,
        sentences: bool,
    ) -> None:
        self.model, self.spill, self.pool = model, spill, pool
        self.epochs, self.seed, self.progress = epochs, seed, progress
        self.sentences = sentences
        self.started = time.perf_counter()
        # Spill files, and how many reviews each holds (its rows may be their sentences).
        self.files: list[Path] = []
        self.file_reviews: list[int] = []
        self.rows_per_epoch = 0
        self.rows_learned = 0
        # Positive training reviews of the file (counted by the reader), for the checks.
        self.positives = 0
        self.examples_per_epoch = 0
        self.examples_learned = 0
        # Share of the run's steps learned.
        self.done = 0.0
        self.snapshots: list[tuple[int, Path]] | None = [] if curve else None
        self.next_point = 1
        # The hold-out rows and their hashing, set by the reader at the end of the file.
        self.held: tuple[list[str], list[int]] = ([], [])
        self.held_files: list[tuple[Future, Path]] = []
        # The training reviews (not the held-out ones), for the gate to leave out.
        self.trained = TrainedTexts()
        self.blocks_per_step = 1
        self.step: list[tuple[sparse.csr_matrix, np.ndarray, int]] = []
        self.curve: list[tuple[int, float]] = []

    def first_epoch(
        self, csv_file: ReviewFiles, batch_size: int, holdout: int, window: int
    ) -> tuple[list[str], list[int]]:
        """Read the file, hash it in the pool, learn the blocks in order; returns the hold-out.

        Blocks of at most ``HASH_BLOCK`` rows keep the workers busy from the start and
        memory small; ``blocks_per_step`` of them make one ``partial_fit`` step. The
        hold-out rows are handed to the workers as soon as the file is read
        (``held_files``), so they are hashed while the last blocks are learned.
        """
        self.blocks_per_step = -(-batch_size // HASH_BLOCK)
        block = -(-batch_size // self.blocks_per_step)
        kept: deque[tuple[str, int]] = deque(maxlen=holdout)
        self.csv_file = csv_file
        # A thread reads the CSV and hands blocks to the workers while this one learns:
        # partial_fit releases the GIL, so reading no longer waits for learning.
        hashed: queue.Queue[tuple[Future, int, Path, float] | BaseException | None] = queue.Queue(
            window
        )
        stop = threading.Event()
        reader = threading.Thread(
            target=self._read,
            # A small first block: learning starts as soon as the workers are up.
            args=(
                batches(all_but_last(csv_file, kept, holdout), block, -(-block // 4)),
                kept,
                hashed,
                stop,
            ),
            name="csv-reader",
            daemon=True,
        )
        reader.start()
        try:
            while (item := _get_while_alive(hashed, reader)) is not None:
                if isinstance(item, BaseException):
                    raise item
                self._take(*item)
        finally:
            stop.set()
            reader.join()
        self._learn_step(0, 1.0)
        if self.rows_learned == 0:
            raise CSVFormatError(
                f"{csv_file.path}: no rows to train on (holdout {holdout} took them all)"
            )
        self.rows_per_epoch = self.rows_learned
        self.examples_per_epoch = self.examples_learned
        self._end_of_epoch()
        return self.held

    def _read(
        self,
        blocks: Iterator[tuple[list[str], list[int]]],
        kept: deque[tuple[str, int]],
        hashed: queue.Queue[tuple[Future, int, Path, float] | BaseException | None],
        stop: threading.Event,
    ) -> None:
        """Submit each block of the file for hashing; then None, or the error that stopped it."""
        try:
            for number, (texts, labels) in enumerate(blocks):
                path = self.spill / f"block-{number:07d}.npy"
                self.files.append(path)
                self.file_reviews.append(len(texts))
                self.positives += sum(labels)
                self.trained.add(texts)
                future = self.pool.submit(
                    hashing_pool.hash_to_file, texts, labels, str(path), self.sentences
                )
                block = (future, len(texts), path, _read_fraction(self.csv_file))
                if not _put_unless_stopped(hashed, block, stop):
                    return
            _check_last_file(self.csv_file, kept.maxlen or 0)
            self.held = ([review for review, _ in kept], [label for _, label in kept])
            kept.clear()
            self.held_files = self.submit_holdout(self.held, HASH_BLOCK)
        except BaseException as exc:  # noqa: BLE001 - raised again by the learning thread
            _put_unless_stopped(hashed, exc, stop)
            return
        _put_unless_stopped(hashed, None, stop)

    def epoch(self, epoch: int) -> None:
        """Another pass over the spilled blocks, its steps in an order shuffled per epoch."""
        size = self.blocks_per_step
        blocks = list(zip(self.files, self.file_reviews, strict=True))
        steps = [blocks[i : i + size] for i in range(0, len(blocks), size)]
        order = np.random.RandomState(self.seed + epoch).permutation(len(steps))
        for done, index in enumerate(order, start=1):
            self.step = [(*hashing_pool.load(path), reviews) for path, reviews in steps[index]]
            self._learn_step(epoch, (epoch + done / len(order)) / self.epochs)
        self._end_of_epoch()

    def submit_holdout(
        self, held: tuple[list[str], list[int]], size: int
    ) -> list[tuple[Future, Path]]:
        """Hash the held-out rows in the pool while the later epochs run."""
        submitted = []
        for start in range(0, len(held[0]), size):
            path = self.spill / f"holdout-{start:09d}.npy"
            chunk = (held[0][start : start + size], held[1][start : start + size])
            future = self.pool.submit(hashing_pool.hash_to_file, *chunk, str(path))
            submitted.append((future, path))
        return submitted

    def evaluate(self, held_files: list[tuple[Future, Path]]) -> float | None:
        """Hold-out accuracy of the model, and of each snapshot for the curve."""
        if not held_files:
            return None
        chunks = []
        for future, path in held_files:
            future.result()
            chunks.append(hashing_pool.load(path))
        for seen, path in self.snapshots or []:
            weights = np.load(path)
            self.curve.append((seen, _accuracy(chunks, weights[:-1], weights[-1])))
        classifier = self.model.classifier
        return _accuracy(chunks, classifier.coef_.ravel(), float(classifier.intercept_[0]))

    def _take(self, future: Future, reviews: int, path: Path, read: float) -> None:
        """A hashed block of the first epoch (the file ``read`` to its end): learn full steps."""
        future.result()
        self.step.append((*hashing_pool.load(path), reviews))
        if len(self.step) == self.blocks_per_step:
            self._learn_step(0, read)

    def _learn_step(self, epoch: int, fraction: float) -> None:
        """Learn the blocks of ``self.step``; ``fraction`` is how far the epoch (or, after the
        first, the run) will be once they are learned."""
        if not self.step:
            return
        if not self.model.classifier.average and self.done >= AVERAGE_START:
            average_from_now(self.model.classifier)
        self.done = fraction / self.epochs if epoch == 0 else fraction
        features = hashing_pool.stack([x for x, _, _ in self.step])
        labels = np.concatenate([y for _, y, _ in self.step])
        reviews = sum(count for _, _, count in self.step)
        self.step = []
        self.model.learn_features(features, labels)
        self.rows_learned += reviews
        self.examples_learned += len(labels)
        self._report(epoch, self.done)
        # Curve points of the first epoch, at about every 1/CURVE_POINTS of the file.
        if epoch == 0 and self.snapshots is not None and fraction * CURVE_POINTS >= self.next_point:
            self._snapshot()
            self.next_point = int(fraction * CURVE_POINTS) + 1

    def _end_of_epoch(self) -> None:
        if self.snapshots is not None and (
            not self.snapshots or self.snapshots[-1][0] != self.rows_learned
        ):
            self._snapshot()

    def _snapshot(self) -> None:
        assert self.snapshots is not None
        classifier = self.model.classifier
        if not hasattr(classifier, "coef_"):
            return
        path = self.spill / f"snapshot-{len(self.snapshots):04d}.npy"
        np.save(path, np.append(classifier.coef_.ravel(), classifier.intercept_[0]))
        self.snapshots.append((self.rows_learned, path))

    def _report(self, epoch: int, fraction: float) -> None:
        if self.progress:
            seconds = time.perf_counter() - self.started
            self.progress(
                TrainProgress(fraction, self.rows_learned, epoch + 1, self.epochs, seconds)
            )


def _get_while_alive(source: queue.Queue, producer: threading.Thread) -> Any:
    """The next item of ``source``; an error if ``producer`` has died without sending one."""
    while True:
        try:
            return source.get(timeout=0.5)
        except queue.Empty:
            if not producer.is_alive() and source.empty():
                raise RuntimeError(f"thread {producer.name} stopped without a result") from None


def _put_unless_stopped(into: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False if ``stop`` was set first (nobody will take it)."""
    while not stop.is_set():
        try:
            into.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _check_last_file(files: ReviewFiles, holdout: int) -> None:
    """``--holdout`` takes the last rows of the last file: refuse when it has fewer."""
    if holdout and len(files.paths) > 1 and files.rows_per_file[-1] < holdout:
        raise CSVFormatError(
            f"{files.path}: --holdout {holdout} takes the last {holdout} rows of the last file, "
            f"which has only {files.rows_per_file[-1]}"
        )


def _read_fraction(csv_file: ReviewFiles) -> float:
    total = csv_file.progress.total_bytes
    return min(1.0, csv_file.progress.read_bytes / total) if total else 1.0


def _accuracy(chunks: list[tuple[Any, np.ndarray]], weights: np.ndarray, bias: float) -> float:
    right = sum(int(np.sum((x @ weights + bias >= 0) == (y == 1))) for x, y in chunks)
    return right / sum(len(y) for _, y in chunks)
