"""Labelled reviews as people bring them: CSV, TSV or JSON Lines, plain or gzip, one file
or several, read as one checked stream of ``(line, review, label)``.

The format is chosen by the extension (``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``, each
optionally ``.gz``; gzip itself is recognised by its first bytes), unless one is given. A
``.csv`` whose header line has tabs and no commas is read as TSV, and a file of another
extension is sniffed: ``{`` first is JSON Lines, a tab in the header TSV, else CSV.

The columns (JSON keys) are ``review`` or ``text`` and ``sentiment`` or ``label`` unless
named (``ReadOptions.text_column``, ``label_column``); other columns are ignored. Labels
are mapped by a ``LabelRule``. A row with an ignored label or with empty text is skipped and
counted by reason in ``ReviewFiles.skipped``; anything else wrong is a ``CSVFormatError``
naming the file and the line. Only one block of the file is read ahead at a time.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movieclassifier.csvdata import (
    MAX_LINE_CHARS,
    CSVFormatError,
    Lines,
    LineTooLong,
    Progress,
    not_utf8,
    open_text,
)
from movieclassifier.datalabels import (
    EMPTY_TEXT,
    IGNORED_LABEL,
    SKIP,
    LabelRule,
    LabelRuleError,
    describe_skipped,
    skipped_dict,
)

CSV, TSV, JSONL = "csv", "tsv", "jsonl"
FORMATS = (CSV, TSV, JSONL)
EXTENSIONS = {".csv": CSV, ".tsv": TSV, ".jsonl": JSONL, ".ndjson": JSONL}
TEXT_COLUMNS = ("review", "text")
LABEL_COLUMNS = ("sentiment", "label")


@dataclass(frozen=True)
class ReadOptions:
    """How to read the files: the format (None: by extension) and the columns and labels."""

    format: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    labels: LabelRule = field(default_factory=LabelRule)


def format_of(path: Path, asked: str | None = None) -> str | None:
    """The format named or given by the extension; None when the file must be sniffed.

    >>> format_of(Path("a.tsv.gz")), format_of(Path("b.JSONL")), format_of(Path("c.txt"))
    ('tsv', 'jsonl', None)
    """
    if asked is not None:
        return asked
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1]) if suffixes else None


def _sniff(first_line: str, by_extension: str | None) -> str:
    """The format of a file whose first line is ``first_line``.

    >>> _sniff("review\\tsentiment\\n", "csv"), _sniff('{"text": "a"}', None)
    ('tsv', 'jsonl')
    """
    if by_extension is None and first_line.lstrip().startswith(("{", "[")):
        return JSONL
    if "\t" in first_line and "," not in first_line:
        return TSV
    return by_extension or (TSV if "\t" in first_line else CSV)


def _column(found: Sequence[str], asked: str | None, defaults: tuple[str, ...]) -> str | None:
    """The name in ``found`` for the column ``asked`` (exact, else in any case), or for the
    first of ``defaults`` present; None when there is none."""
    if asked is not None:
        if asked in found:
            return asked
        wanted: tuple[str, ...] = (asked,)
    else:
        wanted = defaults
    lowered = {name.strip().lower(): name for name in reversed(found)}
    for name in wanted:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


class ReviewFiles:
    """Iterate ``(line, review, label)`` over ``paths``, one file after another.

    ``sha256`` is the digest of the files' bytes in order (of the file, for one), complete
    once iteration has finished; ``skipped`` counts the rows skipped by reason, and
    ``rows_per_file`` the rows yielded from each file.
    """

    def __init__(
        self, paths: Path | str | Sequence[Path | str], options: ReadOptions | None = None
    ):
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.paths = [Path(path) for path in paths]
        if not self.paths:
            raise CSVFormatError("no file to read")
        for path in self.paths:
            if not path.is_file():
                raise CSVFormatError(f"{path}: no such file")
        self.options = options or ReadOptions()
        self.progress = Progress(sum(path.stat().st_size for path in self.paths))
        self._digest = hashlib.sha256()
        self.skipped: Counter[str] = Counter()
        self.rows_per_file: list[int] = []

    @property
    def path(self) -> Path:
        """The last file (the one ``--holdout`` takes its rows from)."""
        return self.paths[-1]

    @property
    def name(self) -> str:
        """The files' names, for the registry: ``a.csv`` or ``a.csv + b.jsonl``."""
        return " + ".join(path.name for path in self.paths)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[tuple[int, str, int]]:
        for path in self.paths:
            self.rows_per_file.append(0)
            with open_text(path, self.progress, self._digest) as stream:
                lines = Lines(stream)
                for row in _FileReader(path, self.options, self.skipped).rows(lines):
                    self.rows_per_file[-1] += 1
                    yield row


class _FileReader:
    """The rows of one file: its format, its columns, each row checked."""

    def __init__(self, path: Path, options: ReadOptions, skipped: Counter[str]) -> None:
        self.path, self.options, self.skipped = path, options, skipped
        self.labels = options.labels
        self.text_column = self.label_column = ""

    def rows(self, lines: Lines) -> Iterator[tuple[int, str, int]]:
        try:
            # A byte order mark (Excel writes one) is not part of the first column's name.
            first = next(iter(lines), "").removeprefix("\ufeff")
            fmt = format_of(self.path, self.options.format)
            if self.options.format is None:
                fmt = _sniff(first, fmt)
            all_lines = itertools.chain([first], lines)
            if fmt == JSONL:
                yield from self._json_rows(all_lines)
            else:
                reader = csv.reader(all_lines, delimiter="\t" if fmt == TSV else ",")
                yield from self._csv_rows(reader)
        except LineTooLong as exc:
            raise self.error(
                exc.line, f"longer than the limit of {MAX_LINE_CHARS:,} characters"
            ) from exc
        except csv.Error as exc:
            raise self.error(lines.count, f"unreadable: {exc}") from exc
        except (UnicodeDecodeError, EOFError, OSError) as exc:  # gzip.BadGzipFile is an OSError
            raise self.error(lines.count + 1, f"unreadable: {exc}") from exc

    def error(self, line: int, problem: str) -> CSVFormatError:
        return CSVFormatError(f"{self.path}: line {line}: {problem}")

    def _columns(self, found: Sequence[str], what: str) -> tuple[str, str]:
        text = _column(found, self.options.text_column, TEXT_COLUMNS)
        label = _column(found, self.options.label_column, LABEL_COLUMNS)
        missing = []
        if text is None:
            missing.append(_wanted("text", self.options.text_column, TEXT_COLUMNS))
        if label is None:
            missing.append(_wanted("label", self.options.label_column, LABEL_COLUMNS))
        if missing or text is None or label is None:
            listed = ", ".join(repr(name) for name in found) or "none"
            raise self.error(1, f"no {' and no '.join(missing)}; {what} found: {listed}")
        if text == label:
            raise self.error(1, f"the text and the label are both the {what[:-1]} {text!r}")
        return text, label

    def _csv_rows(self, reader: Any) -> Iterator[tuple[int, str, int]]:
        header = next(reader, None)
        if not header:
            raise self.error(1, "expected a header line naming the columns, got nothing")
        text, label = self._columns(header, "columns")
        self.text_column, self.label_column = text, label
        text_at, label_at, width = header.index(text), header.index(label), len(header)
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != width:
                raise self.error(
                    reader.line_num, f"expected {width} fields (as the header), got {len(row)}"
                )
            checked = self._check(reader.line_num, row[text_at], row[label_at])
            if checked is not None:
                yield checked

    def _json_rows(self, lines: Iterable[str]) -> Iterator[tuple[int, str, int]]:
        text = label = ""
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise self.error(number, f"not a JSON object: {exc}") from exc
            if not isinstance(row, dict):
                raise self.error(number, f"expected a JSON object, got {type(row).__name__}")
            if not text:
                text, label = self._columns(list(row), "keys")
                self.text_column, self.label_column = text, label
            for key in (text, label):
                if key not in row:
                    keys = ", ".join(map(repr, row)) or "none"
                    raise self.error(number, f"no key {key!r}; keys found: {keys}")
            review = row[text]
            if review is None:
                review = ""
            if not isinstance(review, str):
                raise self.error(number, f"{text!r} must be a string, got {type(review).__name__}")
            checked = self._check(number, review, _label_text(row[label]))
            if checked is not None:
                yield checked

    def _check(self, line: int, review: str, value: str) -> tuple[int, str, int] | None:
        label = self.labels.label(value)
        if label == SKIP:
            self.skipped[IGNORED_LABEL] += 1
            return None
        if not review or review.isspace():
            self.skipped[EMPTY_TEXT] += 1
            return None
        if label is None:
            raise self.error(
                line, f"{self.label_column} must be {self.labels.accepted()}, got {value!r}"
            )
        bad = not_utf8(review)
        if bad is not None:
            raise self.error(
                line, f"unreadable: the review is not UTF-8 (a bad byte at character {bad})"
            )
        return line, review, label


def _wanted(what: str, asked: str | None, defaults: tuple[str, ...]) -> str:
    if asked is not None:
        return f"{what} column {asked!r}"
    return f"{what} column ({' or '.join(map(repr, defaults))}; name it with --{what}-column)"


def _label_text(value: object) -> str:
    """A JSON label as the text a CSV would hold: ``true``, ``1``, ``4.5``, ``pos``.

    >>> [_label_text(v) for v in (True, 1, 4.0, 4.5, "pos", None)]
    ['true', '1', '4', '4.5', 'pos', 'null']
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value)


__all__ = [
    "EMPTY_TEXT",
    "FORMATS",
    "IGNORED_LABEL",
    "CSVFormatError",
    "LabelRule",
    "LabelRuleError",
    "ReadOptions",
    "ReviewFiles",
    "describe_skipped",
    "format_of",
    "skipped_dict",
]
