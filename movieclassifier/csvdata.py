"""Streaming a data file's bytes (plain or gzip) as text, and the row helpers of training.

``datafiles`` reads labelled reviews from CSV, TSV and JSON Lines files on top of these:
``open_text`` counts and hashes the bytes as they are read (for the progress bar and the
version's ``source_sha256``) and never reads more than a block ahead; ``lines`` hands out
physical lines no longer than ``MAX_LINE_CHARS``, so memory stays bounded whatever the file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Reviews can be long; the csv module's default field limit (128 KiB) is not enough for all.
# A line (and a field) longer than this is an error that names the line.
MAX_LINE_CHARS = 16 * 1024 * 1024
csv.field_size_limit(MAX_LINE_CHARS)


class CSVFormatError(ValueError):
    """The file is not a labelled review file; the message names the file, the line and
    the problem. (The name is older than the other formats; ``DataFormatError`` is the same.)"""


DataFormatError = CSVFormatError


@dataclass
class Progress:
    """Bytes of the (possibly compressed) files consumed so far, for a progress bar."""

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


@contextmanager
def open_text(path: Path, progress: Progress, digest: hashlib._Hash) -> Iterator[io.TextIOWrapper]:
    """``path`` as UTF-8 text (gunzipped when its first bytes say gzip), counted and hashed.

    Bad bytes are kept as surrogates, for the reader to report with their line: a strict
    decoder would fail on a whole chunk, far from the line to blame.
    """
    with open(path, "rb") as raw:
        counted = io.BufferedReader(_CountingReader(raw, progress, digest), 1 << 20)
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=counted) if is_gzip else counted  # type: ignore[assignment]
        yield io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


class LineTooLong(Exception):
    """A physical line longer than ``MAX_LINE_CHARS``; ``line`` is its number (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class Lines:
    """The physical lines of ``stream`` (with their endings); ``count`` is how many so far.

    >>> lines = Lines(io.StringIO("a\\nbb\\n"), limit=3)
    >>> list(lines), lines.count
    (['a\\n', 'bb\\n'], 2)
    >>> list(Lines(io.StringIO("abcd\\n"), limit=3))
    Traceback (most recent call last):
    ...
    movieclassifier.csvdata.LineTooLong: 1
    """

    def __init__(self, stream: io.TextIOBase, limit: int = MAX_LINE_CHARS) -> None:
        self._stream = stream
        self._limit = limit
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._stream.readline, self._limit
        while line := readline(limit + 1):
            self.count += 1
            if len(line) > limit and not line.endswith(("\n", "\r")):
                raise LineTooLong(self.count)
            yield line


def not_utf8(text: str) -> int | None:
    """Where ``text`` holds a byte that was not UTF-8 (kept as a surrogate), or None.

    >>> not_utf8("café"), not_utf8("caf" + b"\\xe9".decode("utf-8", "surrogateescape"))
    (None, 3)
    """
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


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
