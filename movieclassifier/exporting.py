"""Exporting the confirmed labels (``flask export-labels``) as a file the trainer reads back.

Each answer (``feedback``) is written with its stored prediction: ``review,sentiment`` (the
confirmed label, 0/1) first, so ``scripts/train_stream.py`` reads the file as it is, then
``prediction_id`` (the public reference), ``model_version``, ``predicted`` (the label shown,
0/1), ``probability`` (of the label shown), ``status`` and ``created_at`` (of the answer).

The rows are read in chunks of ``CHUNK`` answers by id (``id > last`` ordered by id), so the
table is never held in memory and each query is short, on SQLite and PostgreSQL alike.

What is exported: ``learned`` answers by default; ``pending`` (waiting to be learned: pending,
approved from quarantine, or claimed by a running retrain), ``quarantined``, or ``all``.
A retracted answer is never exported, not even with ``all``: whoever gave it took it back
(docs/DESIGN.md, invariant 12), and a file made from it would teach it again. A forgotten
review is deleted with its answers, so there is nothing to export.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from movieclassifier.schema import (
    APPROVED,
    LEARNED,
    LEARNING,
    PENDING,
    QUARANTINED,
    RETRACTED,
    Feedback,
    StoredPrediction,
)

COLUMNS = (
    "review",
    "sentiment",
    "prediction_id",
    "model_version",
    "predicted",
    "probability",
    "status",
    "created_at",
)
# Which feedback statuses each ``--status`` exports (None: every one but retracted).
STATUSES: dict[str, tuple[str, ...] | None] = {
    "learned": (LEARNED,),
    "pending": (PENDING, APPROVED, LEARNING),
    "quarantined": (QUARANTINED,),
    "all": None,
}
CSV_FORMAT, JSONL_FORMAT = "csv", "jsonl"
# Answers read per query.
CHUNK = 10_000


@dataclass(frozen=True)
class Label:
    """One exported row."""

    review: str
    sentiment: int
    prediction_id: str
    model_version: int
    predicted: int
    probability: float
    status: str
    created_at: str

    def as_list(self) -> list[object]:
        return [getattr(self, name) for name in COLUMNS]


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one (as SQLite gives back) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def labels(
    session: Session, status: str = "learned", since: datetime | None = None, chunk: int = CHUNK
) -> Iterator[Label]:
    """The answers to export, oldest first, read ``chunk`` at a time by id.

    ``since`` keeps answers given at or after it (a naive one is UTC).

    Raises:
        ValueError: ``status`` is not one of ``STATUSES``.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    wanted = STATUSES[status]
    query = (
        select(
            Feedback.id,
            StoredPrediction.review,
            Feedback.label,
            StoredPrediction.reference,
            StoredPrediction.model_version,
            StoredPrediction.label,
            StoredPrediction.probability,
            Feedback.status,
            Feedback.created_at,
        )
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .where(Feedback.status != RETRACTED, Feedback.retracted_at.is_(None))
        .order_by(Feedback.id)
        .limit(chunk)
    )
    if wanted is not None:
        query = query.where(Feedback.status.in_(wanted))
    if since is not None:
        query = query.where(Feedback.created_at >= _utc(since))
    last = 0
    while rows := session.execute(query.where(Feedback.id > last)).all():
        for _id, review, label, reference, version, shown, probability, state, created in rows:
            yield Label(
                review,
                int(label),
                reference,
                version,
                int(shown == "positive"),
                probability,
                state,
                _utc(created).isoformat(),
            )
        last = rows[-1][0]
        session.expunge_all()


def format_of(path: Path | None, asked: str | None = None) -> str:
    """``jsonl`` for a ``.jsonl`` (or ``.jsonl.gz``) file, else ``csv``, unless asked.

    >>> format_of(Path("a.jsonl.gz")), format_of(None), format_of(None, "jsonl")
    ('jsonl', 'csv', 'jsonl')
    """
    if asked is not None:
        return asked
    if path is None:
        return CSV_FORMAT
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return JSONL_FORMAT if suffixes and suffixes[-1] in (".jsonl", ".ndjson") else CSV_FORMAT


def write(rows: Iterator[Label], out: IO[str], fmt: str) -> int:
    """Write ``rows`` to the text stream ``out`` as CSV (with a header) or JSON Lines;
    returns how many."""
    count = 0
    if fmt == JSONL_FORMAT:
        for row in rows:
            out.write(json.dumps(dict(zip(COLUMNS, row.as_list(), strict=True))) + "\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.as_list())
        count += 1
    return count


@contextmanager
def open_for_writing(path: Path) -> Iterator[IO[str]]:
    """A text stream whose bytes become ``path`` (gzip for ``.gz``) only when the block ends
    without an error: written to a temporary file next to it, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with open(handle, "wb") as raw:
            binary: IO[bytes] = raw
            if path.suffix.lower() == ".gz":
                binary = gzip.GzipFile(fileobj=raw, mode="wb")  # type: ignore[assignment]
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            yield text
            text.flush()
            text.detach()
            if binary is not raw:
                binary.close()  # the gzip trailer; the file itself closes with the block
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
