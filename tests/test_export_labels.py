"""``flask export-labels``: the confirmed labels as CSV or JSON Lines, read back by the
trainer unchanged, on SQLite and PostgreSQL (issue 15)."""

import csv
import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from loop_helpers import add_labelled, movie_rows
from movieclassifier import exporting, feedback, lifetime, model_store, training
from movieclassifier.datafiles import ReviewFiles
from movieclassifier.schema import LEARNED, QUARANTINED, Feedback, StoredPrediction
from servers import REPO_ROOT, settings_env, subprocess_env

COLUMNS = [
    "review",
    "sentiment",
    "prediction_id",
    "model_version",
    "predicted",
    "probability",
    "status",
    "created_at",
]


@pytest.fixture
def answered(settings, sessions, seed_model):
    """40 answers to predictions of version 1: 20 learned (one of them then retracted),
    10 quarantined, 10 pending. Returns the ids by status."""
    ids = add_labelled(sessions, settings.model_dir, movie_rows(40, skip=5000))
    with sessions.begin() as session:
        feedback.claim(session, 30)
        assert feedback.mark(session, ids[:20], seed_model, LEARNED) == 20
        assert feedback.mark(session, ids[20:30], seed_model, QUARANTINED) == 10
    with sessions.begin() as session:
        lifetime.retract(session, [ids[5]])
    return {
        "learned": [i for i in ids[:20] if i != ids[5]],
        "quarantined": ids[20:30],
        "pending": ids[30:],
        "retracted": [ids[5]],
    }


def expected_rows(sessions, ids):
    """The rows the export should hold for these feedback ids, read here by id."""
    with sessions() as session:
        found = session.execute(
            select(Feedback, StoredPrediction)
            .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
            .where(Feedback.id.in_(ids))
            .order_by(Feedback.id)
        ).all()
    return [
        {
            "review": p.review,
            "sentiment": str(f.label),
            "prediction_id": p.reference,
            "model_version": str(p.model_version),
            "predicted": "1" if p.label == "positive" else "0",
            "probability": repr(p.probability),
            "status": f.status,
        }
        for f, p in found
    ]


def export(runner, settings, monkeypatch, *args):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    return runner.invoke(args=["export-labels", *map(str, args)])


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "created_at"} for row in rows]


def test_export_writes_the_learned_labels_never_the_retracted(
    runner, settings, sessions, answered, tmp_path, monkeypatch
):
    out = tmp_path / "labels.csv"
    result = export(runner, settings, monkeypatch, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"exported 19 learned labels to {out}" in result.output
    header, rows = read_csv(out)
    assert header == COLUMNS
    assert without_time(rows) == expected_rows(sessions, answered["learned"])
    for row in rows:
        assert datetime.fromisoformat(row["created_at"]).tzinfo is not None


@pytest.mark.parametrize(
    "status, wanted",
    [
        ("quarantined", ["quarantined"]),
        ("pending", ["pending"]),
        ("all", ["learned", "quarantined", "pending"]),
    ],
)
def test_status_chooses_the_answers_and_all_still_leaves_out_the_retracted(
    runner, settings, sessions, answered, tmp_path, monkeypatch, status, wanted
):
    out = tmp_path / "labels.jsonl"
    result = export(runner, settings, monkeypatch, "--status", status, "-o", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(rows[0]) == COLUMNS
    ids = sorted(i for name in wanted for i in answered[name])
    assert answered["retracted"][0] not in ids
    as_text = [{k: str(v) if k != "probability" else repr(v) for k, v in r.items()} for r in rows]
    assert without_time(as_text) == expected_rows(sessions, ids)
    assert isinstance(rows[0]["sentiment"], int) and isinstance(rows[0]["probability"], float)


def test_since_keeps_later_answers_and_a_bad_date_is_refused(
    runner, settings, sessions, answered, monkeypatch
):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    result = export(runner, settings, monkeypatch, "--since", yesterday)
    assert result.exit_code == 0, result.output
    assert "exported 19 learned labels to stdout" in result.output
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    result = export(runner, settings, monkeypatch, "--since", tomorrow)
    assert result.exit_code == 0, result.output
    assert result.stdout == ",".join(COLUMNS) + "\n"
    result = export(runner, settings, monkeypatch, "--since", "last week")
    assert result.exit_code == 2
    assert "must be a date or a time such as 2026-12-01" in result.output


def test_reading_in_chunks_gives_the_same_rows(sessions, answered):
    with sessions() as session:
        whole = list(exporting.labels(session, "all"))
        chunked = list(exporting.labels(session, "all", chunk=7))
    assert len(whole) == 39 and chunked == whole


@pytest.mark.parametrize("name", ["labels.csv", "labels.jsonl.gz"])
def test_the_export_trains_a_new_version_unchanged(
    runner, settings, sessions, answered, tmp_path, monkeypatch, name
):
    out = tmp_path / name
    result = export(runner, settings, monkeypatch, "--status", "all", "-o", out)
    assert result.exit_code == 0, result.output
    if name.endswith(".gz"):
        with gzip.open(out, "rt") as handle:
            assert json.loads(handle.readline())["status"] == LEARNED
    read = [(review, label) for _, review, label in ReviewFiles(out)]
    assert read == [
        (r["review"], int(r["sentiment"]))
        for r in expected_rows(
            sessions, sorted(answered["learned"] + answered["quarantined"] + answered["pending"])
        )
    ]
    report = training.train_from_csv(out, sessions, settings.model_dir, workers=0, holdout=5)
    assert report.rows_trained == 34 and report.holdout_rows == 5
    with sessions() as session:
        assert model_store.current_version(session) == report.version
        # The plain base is registered under the file's name (the served version carries
        # the learned labels onto it).
        assert model_store.get_version(session, report.base_version).source_detail == name


@pytest.mark.slow
def test_train_stream_reads_an_export_from_stdout(settings, sessions, answered, tmp_path):
    env = subprocess_env(settings_env(settings))
    flask = [sys.executable, "-m", "flask", "--app", "movieclassifier", "export-labels"]
    exported = subprocess.run(flask, env=env, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "from-stdout.csv"
    path.write_text(exported.stdout)
    trained = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "train_stream.py"), str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["rows_trained"] == 19
