"""Reading labelled review CSVs (``review,sentiment``; plain or gzip) as a checked stream."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

EXPECTED_HEADER = ["review", "sentiment"]
# Reviews can be long; the csv module's default field limit (128 KiB) is not enough for all.
csv.field_size_limit(16 * 1024 * 1024)


class CSVFormatError(ValueError):
    """The file is not a labelled review CSV; the message names the line and the problem."""


@dataclass
class Progress:
    """Bytes of the (possibly compressed) file consumed so far, for a progress bar."""

    total_bytes: int
    read_bytes: int = 0


class _CountingReader(io.RawIOBase):
    """Wraps the raw file to count bytes and hash them as they are read."""

    def __init__(self, raw: BinaryIO, progress: Progress, digest: hashlib._Hash) -> None:
        self._raw = raw
        self._progress = progress
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._progress.read_bytes += count
            self._digest.update(memoryview(buffer)[:count])
        return count or 0


class ReviewCSV:
    """Iterate ``(line_number, review, label)`` over a CSV, checking as it goes.

    ``sha256`` is the digest of the file's bytes, complete once iteration has finished.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CSVFormatError(f"{self.path}: no such file")
        self.progress = Progress(self.path.stat().st_size)
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[tuple[int, str, int]]:
        with open(self.path, "rb") as raw:
            counted = io.BufferedReader(_CountingReader(raw, self.progress, self._digest), 1 << 20)
            is_gzip = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=counted) if is_gzip else counted  # type: ignore[assignment]
            # Bad bytes are kept as surrogates and reported with their line by _check();
            # a strict decoder would fail on a whole chunk, far from the line to blame.
            text_stream = io.TextIOWrapper(
                stream, encoding="utf-8", errors="surrogateescape", newline=""
            )
            yield from self._rows(text_stream)

    def _rows(self, text_stream: io.TextIOWrapper) -> Iterator[tuple[int, str, int]]:
        reader = csv.reader(text_stream)
        try:
            header = next(reader, None)
            if header is None or [h.strip().lower() for h in header] != EXPECTED_HEADER:
                raise CSVFormatError(
                    f"{self.path}: line 1: expected the header 'review,sentiment', got {header!r}"
                )
            for row in reader:
                yield reader.line_num, *self._check(reader.line_num, row)
        except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile, OSError) as exc:
            raise CSVFormatError(
                f"{self.path}: line {reader.line_num + 1}: unreadable: {exc}"
            ) from exc

    def _check(self, line: int, row: list[str]) -> tuple[str, int]:
        if len(row) != 2:
            raise CSVFormatError(f"{self.path}: line {line}: expected 2 fields, got {len(row)}")
        review, label = row
        if not review.isascii():
            try:
                review.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise CSVFormatError(
                    f"{self.path}: line {line}: unreadable: the review is not UTF-8 "
                    f"(a bad byte at character {exc.start})"
                ) from exc
        if label.strip() not in ("0", "1"):
            raise CSVFormatError(
                f"{self.path}: line {line}: sentiment must be 0 or 1, got {label!r}"
            )
        return review, int(label)


def all_but_last(
    rows: Iterable[tuple[int, str, int]], kept: deque[tuple[str, int]], holdout: int
) -> Iterator[tuple[str, int]]:
    """Yield rows ``holdout`` behind the reader, so the last ``holdout`` stay in ``kept``.

    >>> kept = deque(maxlen=2)
    >>> list(all_but_last([(2, "a", 1), (3, "b", 0), (4, "c", 1)], kept, 2)), list(kept)
    ([('a', 1)], [('b', 0), ('c', 1)])
    """
    for _line, review, label in rows:
        if holdout == 0:
            yield review, label
            continue
        if len(kept) == holdout:
            yield kept[0]
        kept.append((review, label))


def batches(
    rows: Iterator[tuple[str, int]], size: int, first_size: int | None = None
) -> Iterator[tuple[list[str], list[int]]]:
    """Group rows into lists of at most ``size`` reviews (the first: ``first_size``) and labels.

    >>> list(batches(iter([("a", 1), ("b", 0), ("c", 1)]), 2))
    [(['a', 'b'], [1, 0]), (['c'], [1])]
    >>> [texts for texts, _ in batches(iter([("a", 1), ("b", 0), ("c", 1)]), 2, first_size=1)]
    [['a'], ['b', 'c']]
    """
    texts: list[str] = []
    labels: list[int] = []
    limit = first_size or size
    for review, label in rows:
        texts.append(review)
        labels.append(label)
        if len(texts) == limit:
            yield texts, labels
            texts, labels, limit = [], [], size
    if texts:
        yield texts, labels
