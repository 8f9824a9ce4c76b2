"""Data as people bring it: CSV, TSV and JSON Lines, gzip, columns, labels, several files,
skipped rows and every error, on real files in tmp_path (issue 15)."""

import csv
import gzip
import hashlib
import json
import subprocess
import sys

import pytest

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import csvdata, model_store, training
from movieclassifier.datafiles import LabelRule, ReadOptions, ReviewFiles
from servers import REPO_ROOT, settings_env, subprocess_env

SCRIPT = REPO_ROOT / "scripts" / "train_stream.py"


def reviews(count: int = 20) -> list[tuple[str, int]]:
    """``count`` handwritten reviews, the labels alternating."""
    pool = list(zip(POSITIVE_REVIEWS, NEGATIVE_REVIEWS, strict=True))
    rows = []
    for i in range(count):
        positive, negative = pool[(i // 2) % len(pool)]
        rows.append((f"{positive} ({i})", 1) if i % 2 else (f"{negative} ({i})", 0))
    return rows


def write(path, rows, header=("review", "sentiment"), fmt=None):
    """Rows (tuples in header order) as CSV, TSV or JSON Lines, gzip for ``.gz``."""
    name = path.name.lower().removesuffix(".gz")
    fmt = fmt or ("jsonl" if name.endswith(".jsonl") else "tsv" if name.endswith(".tsv") else "csv")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            for row in rows:
                handle.write(json.dumps(dict(zip(header, row, strict=True))) + "\n")
        else:
            writer = csv.writer(handle, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(header)
            writer.writerows(rows)
    return path


def read(paths, **options):
    files = ReviewFiles(paths, ReadOptions(**options))
    return [(review, label) for _line, review, label in files], files


def error_of(paths, **options) -> str:
    with pytest.raises(csvdata.CSVFormatError) as caught:
        read(paths, **options)
    return str(caught.value)


@pytest.mark.parametrize(
    "name", ["r.csv", "r.tsv", "r.jsonl", "r.csv.gz", "r.tsv.gz", "r.jsonl.gz", "R.JSONL"]
)
def test_every_format_plain_or_gzip_gives_the_same_rows(tmp_path, name):
    rows = reviews()
    path = write(tmp_path / name, rows)
    got, files = read(path)
    assert got == rows
    assert files.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert files.progress.read_bytes == path.stat().st_size


def test_tabs_are_sniffed_in_a_csv_and_other_extensions_by_their_content(tmp_path):
    rows = reviews(6)
    tabbed = write(tmp_path / "tabbed.csv", rows, fmt="tsv")
    assert read(tabbed)[0] == rows
    lines = write(tmp_path / "export.txt", rows, fmt="jsonl")
    assert read(lines)[0] == rows
    # --format overrides the extension (and sniffing): TSV read as CSV is one column.
    assert read(lines, format="jsonl")[0] == rows
    message = error_of(tabbed, format="csv")
    assert f"{tabbed}: line 1: no text column" in message
    assert "columns found: 'review\\tsentiment'" in message


def test_text_and_label_are_found_under_either_name_in_any_case(tmp_path):
    rows = [(r, "x", y) for r, y in reviews(4)]
    path = write(tmp_path / "r.csv", rows, header=("Text", "id", "LABEL"))
    assert read(path)[0] == reviews(4)
    path = write(tmp_path / "r.jsonl", rows, header=("text", "id", "label"))
    assert read(path)[0] == reviews(4)


@pytest.mark.parametrize("name", ["excel.csv", "excel.jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, name):
    path = write(tmp_path / name, reviews(4))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read(path)[0] == reviews(4)


def test_named_columns_are_read_and_others_ignored(tmp_path):
    rows = [(i, r, y) for i, (r, y) in enumerate(reviews(4))]
    for name in ("r.csv", "r.jsonl.gz"):
        path = write(tmp_path / name, rows, header=("id", "body", "verdict"))
        got, _ = read(path, text_column="body", label_column="verdict")
        assert got == reviews(4)


@pytest.mark.parametrize(
    "name, header, options, message",
    [
        (
            "r.csv",
            ("body", "sentiment"),
            {},
            "line 1: no text column ('review' or 'text'; name it with --text-column); "
            "columns found: 'body', 'sentiment'",
        ),
        (
            "r.jsonl",
            ("review", "stars"),
            {},
            "line 1: no label column ('sentiment' or 'label'; name it with --label-column); "
            "keys found: 'review', 'stars'",
        ),
        (
            "r.tsv",
            ("review", "sentiment"),
            {"text_column": "body"},
            "line 1: no text column 'body'; columns found: 'review', 'sentiment'",
        ),
    ],
)
def test_a_missing_column_is_an_error_listing_the_columns_found(
    tmp_path, name, header, options, message
):
    path = write(tmp_path / name, reviews(4), header=header)
    assert error_of(path, **options) == f"{path}: {message}"


def test_the_accepted_label_words_in_any_case(tmp_path):
    words = ["1", "0", "Positive", "NEGATIVE", "pos", "Neg", "TRUE", "false", " 1 "]
    rows = [(f"review {i}", word) for i, word in enumerate(words)]
    got, _ = read(write(tmp_path / "r.csv", rows))
    assert [label for _, label in got] == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    # JSON's own values: numbers and booleans.
    path = tmp_path / "r.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": f"review {i}", "label": value}) + "\n"
            for i, value in enumerate([1, 0, True, False, "pos", 1.0])
        )
    )
    assert [label for _, label in read(path)[0]] == [1, 0, 1, 0, 1, 1]


def test_star_ratings_map_to_labels_and_neutral_rows_are_skipped_and_counted(tmp_path):
    stars = [5, 1, 4, 2, 3, 5, 3, 1]
    rows = [(f"review {i}", s) for i, s in enumerate(stars)]
    rule = LabelRule.of(positive=["4,5"], negative=["1", "2"], ignore=["3"])
    for name in ("r.csv", "r.jsonl"):
        got, files = read(
            write(tmp_path / name, rows, header=("review", "stars")),
            label_column="stars",
            labels=rule,
        )
        assert [label for _, label in got] == [1, 0, 1, 0, 1, 0]
        assert dict(files.skipped) == {"ignored_label": 2}


def test_a_label_outside_the_accepted_values_names_the_file_the_line_and_the_values(tmp_path):
    rows = reviews(6)
    rows[3] = ("a fine film", "maybe")
    path = write(tmp_path / "r.csv", rows)
    assert error_of(path) == (
        f"{path}: line 5: sentiment must be positive (1, positive, pos, true) or negative "
        "(0, negative, neg, false), in any case, got 'maybe'"
    )
    stars = [(f"review {i}", s) for i, s in enumerate([5, 1, 3, 7])]
    path = write(tmp_path / "stars.jsonl", stars, header=("review", "stars"))
    rule = LabelRule.of(positive=["5"], negative=["1"], ignore=["3"])
    assert error_of(path, label_column="stars", labels=rule) == (
        f"{path}: line 4: stars must be positive (5) or negative (1), or ignored (3), "
        "in any case, got '7'"
    )


@pytest.mark.parametrize(
    "positive, negative, ignore, message",
    [
        (["5"], [], [], "give both --positive-label and --negative-label"),
        (["4,5"], ["1,5"], [], "--positive-label and --negative-label both name '5'"),
        ([], [], ["pos"], "--positive-label and --ignore-label both name 'pos'"),
    ],
)
def test_label_options_that_contradict_each_other_are_refused(positive, negative, ignore, message):
    with pytest.raises(ValueError, match=message):
        LabelRule.of(positive, negative, ignore)


def test_empty_text_is_skipped_and_counted(tmp_path):
    rows = reviews(6)
    rows[1] = ("", 1)
    rows[4] = ("   ", 0)
    for name in ("r.csv", "r.jsonl"):
        got, files = read(write(tmp_path / name, rows))
        assert got == [rows[i] for i in (0, 2, 3, 5)]
        assert dict(files.skipped) == {"empty_text": 2}
    path = tmp_path / "null.jsonl"
    path.write_text('{"review": null, "sentiment": 1}\n\n{"review": "fine", "sentiment": 1}\n')
    got, files = read(path)
    assert got == [("fine", 1)] and dict(files.skipped) == {"empty_text": 1}


def test_several_files_are_read_one_after_another(tmp_path):
    rows = reviews(12)
    paths = [
        write(tmp_path / "a.csv", rows[:4]),
        write(tmp_path / "b.jsonl.gz", rows[4:9]),
        write(tmp_path / "c.tsv", rows[9:]),
    ]
    got, files = read(paths)
    assert got == rows
    assert files.rows_per_file == [4, 5, 3]
    assert files.name == "a.csv + b.jsonl.gz + c.tsv"
    everything = b"".join(path.read_bytes() for path in paths)
    assert files.sha256 == hashlib.sha256(everything).hexdigest()
    # An error in a later file names that file.
    bad = write(tmp_path / "d.csv", [("fine", 1), ("bad", 9)])
    assert error_of([paths[0], bad]).startswith(f"{bad}: line 3: sentiment must be")


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"review": "fine", "sentiment": 1}\n{"review": "bad"', "line 2: not a JSON object"),
        (
            b'{"review": "fine", "sentiment": 1}\n[1, 2]\n',
            "line 2: expected a JSON object, got list",
        ),
        (
            b'{"review": "fine", "sentiment": 1}\n\n{"review": 3, "sentiment": 1}\n',
            "line 3: 'review' must be a string, got int",
        ),
        (
            b'{"review": "fine", "sentiment": 1}\n{"text": "no", "sentiment": 0}\n',
            "line 2: no key 'review'; keys found: 'text', 'sentiment'",
        ),
        (b'{"review": "caf\xe9", "sentiment": 1}\n', "line 1: unreadable: the review is not UTF-8"),
    ],
)
def test_a_bad_json_lines_file_names_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    assert error_of(path).startswith(f"{path}: {message}")


@pytest.mark.parametrize("name", ["long.csv", "long.jsonl"])
def test_a_row_longer_than_the_limit_is_an_error_naming_the_line(tmp_path, name):
    rows = reviews(3)
    rows[1] = ("x" * (csvdata.MAX_LINE_CHARS + 10), 1)
    path = write(tmp_path / name, rows)
    assert error_of(path) == (
        f"{path}: line {3 if name.endswith('.csv') else 2}: longer than the limit of "
        f"{csvdata.MAX_LINE_CHARS:,} characters"
    )


def test_a_truncated_gzip_file_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path / "r.jsonl.gz", reviews(200))
    path.write_bytes(path.read_bytes()[:-40])
    message = error_of(path)
    assert message.startswith(f"{path}: line ") and "unreadable" in message


def test_nothing_is_published_when_a_later_file_is_bad(settings, sessions, tmp_path):
    good = write(tmp_path / "good.csv", reviews(30))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"review": "fine", "sentiment": 1}\n{"review": "odd", "sentiment": 2}\n')
    with pytest.raises(csvdata.CSVFormatError, match=f"{bad}: line 2: sentiment must be"):
        training.train_from_csv([good, bad], sessions, settings.model_dir, workers=0)
    with sessions() as session:
        assert model_store.list_versions(session) == []
    assert not list(settings.model_dir.glob("*.pkl"))


def test_holdout_takes_the_last_rows_of_the_last_file(settings, sessions, tmp_path):
    rows = reviews(40)
    first = write(tmp_path / "first.tsv.gz", rows[:30])
    last = write(tmp_path / "last.jsonl", rows[30:])
    report = training.train_from_csv(
        [first, last], sessions, settings.model_dir, holdout=6, workers=0, sentences=False
    )
    assert report.rows_trained == 34 and report.holdout_rows == 6
    with sessions() as session:
        row = model_store.get_version(session, report.version)
        assert row.source_detail == "first.tsv.gz + last.jsonl"
        assert row.details["data"]["files"] == ["first.tsv.gz", "last.jsonl"]
    with pytest.raises(csvdata.CSVFormatError) as caught:
        training.train_from_csv([first, last], sessions, settings.model_dir, holdout=11, workers=0)
    assert str(caught.value) == (
        f"{last}: --holdout 11 takes the last 11 rows of the last file, which has only 10"
    )


def run_train(settings, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        env=subprocess_env(settings_env(settings)),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_train_stream_reads_stars_from_several_files_and_reports_what_it_skipped(
    settings, sessions, tmp_path
):
    rows = [(r, 5 if y else 1) for r, y in reviews(40)]
    rows[3] = ("", 5)
    rows[7] = ("so-so", 3)
    rows[8] = ("average", 3)
    first = write(tmp_path / "first.csv.gz", rows[:20], header=("text", "stars"))
    last = write(tmp_path / "last.jsonl", rows[20:], header=("text", "stars"))
    options = ["--label-column", "stars", "--positive-label", "4,5", "--negative-label", "1"]
    options += ["--negative-label", "2", "--ignore-label", "3"]
    result = run_train(settings, first, last, *options, "--holdout", 6, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["rows_trained"] == 40 - 3 - 6 and figures["holdout_rows"] == 6
    assert figures["skipped"] == {"empty_text": 1, "ignored_label": 2}
    assert "skipped 3 rows: 1 with empty text, 2 with an ignored label" in result.stderr
    with sessions() as session:
        assert model_store.current_version(session) == figures["version"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, message",
    [
        (["--positive-label", "5"], "give both --positive-label and --negative-label"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_bad_reading_options_are_usage_errors(settings, sessions, tmp_path, options, message):
    path = write(tmp_path / "r.csv", reviews(30))
    result = run_train(settings, path, *options)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    with sessions() as session:
        assert model_store.list_versions(session) == []


@pytest.mark.slow
def test_a_bad_second_file_is_one_line_naming_it_and_nothing_is_published(
    settings, sessions, tmp_path
):
    good = write(tmp_path / "good.csv", reviews(30))
    bad = write(tmp_path / "bad.tsv", [("fine", 1), ("odd", "meh")])
    result = run_train(settings, good, bad, "--quiet")
    assert result.returncode == 1
    assert f"Error: {bad}: line 3: sentiment must be" in result.stderr
    assert "nothing was published" in result.stderr and "Traceback" not in result.stderr
    with sessions() as session:
        assert model_store.list_versions(session) == []
