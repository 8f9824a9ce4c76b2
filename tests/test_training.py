"""scripts/train_stream.py end to end, as a real process, on small CSVs in tmp_path."""

import csv
import gzip
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import features, holdout, model_store, training
from servers import REPO_ROOT, settings_env, subprocess_env

SCRIPT = REPO_ROOT / "scripts" / "train_stream.py"
JSON_KEYS = {
    "base_version",
    "carried",
    "carried_from",
    "rows_trained",
    "holdout_rows",
    "holdout_accuracy",
    "seconds",
    "docs_per_second",
    "version",
    "examples_trained",
    "sentences",
    "status",
    "gate",
    "skipped",
}


def thirty_rows() -> list[tuple[str, int]]:
    rows = [(review, 1) for review in POSITIVE_REVIEWS] + [(r, 0) for r in NEGATIVE_REVIEWS]
    rows += [(f"Really good, {i} stars <br /> :)", 1) for i in range(5)]
    rows += [(f"Really bad, {i} stars <br /> :(", 0) for i in range(5)]
    # Interleave the labels, so that the last rows (the hold-out) hold both.
    return [rows[i // 2 + (i % 2) * 15] for i in range(30)]


def sentence_count(rows) -> int:
    """How many rows the trainer learns from ``rows`` when it splits them into sentences."""
    return features.sentence_features([r for r, _ in rows])[0].shape[0]


def write_csv(path, rows, header=("review", "sentiment")):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def train(settings, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        env=subprocess_env(settings_env(settings)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def versions(sessions):
    with sessions() as session:
        return [row.version for row in model_store.list_versions(session)]


@pytest.mark.slow
def test_good_csv_publishes_version_1_and_prints_a_summary(settings, sessions, tmp_path):
    rows = thirty_rows()
    path = write_csv(tmp_path / "reviews.csv", rows)
    result = train(settings, path, "--holdout", 6, "--quiet")
    assert result.returncode == 0, result.stderr
    sentences = sentence_count(rows[:24])
    assert training.EPOCHS == 1
    assert (
        f"published version 1: 24 rows trained (learned as {sentences} sentences, 1 epoch)"
    ) in result.stdout
    assert "hold-out accuracy" in result.stdout
    with sessions() as session:
        assert model_store.current_version(session) == 1
        row = model_store.get_version(session, 1)
        assert row.holdout_rows == 6 and holdout.count(session) == 6
        assert row.samples_seen == sentences * training.EPOCHS
        assert row.details["training"]["sentences"] is True
        assert row.feature_params == features.feature_params()
        assert row.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        model = model_store.load_current(session, settings.model_dir)
    assert model.predict(["a wonderful, brilliant film"])[0].label == "positive"


@pytest.mark.slow
def test_gzip_csv_and_json_output(settings, tmp_path):
    path = write_csv(tmp_path / "reviews.csv.gz", thirty_rows())
    result = train(settings, path, "--holdout", 6, "--json", "--epochs", 2)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)  # all of stdout: the summary goes to stderr
    assert set(figures) == JSON_KEYS
    assert figures["rows_trained"] == 24
    assert figures["sentences"] is True
    assert figures["examples_trained"] == sentence_count(thirty_rows()[:24])
    assert figures["holdout_rows"] == 6
    assert 0.0 <= figures["holdout_accuracy"] <= 1.0
    assert figures["version"] == 1
    assert figures["seconds"] > 0 and figures["docs_per_second"] > 0


def _bad_header(path):
    write_csv(path, thirty_rows(), header=("body", "stars"))


def _bad_label(path):
    rows = thirty_rows()
    rows[3] = ("fine film", 2)
    write_csv(path, rows)


def _unreadable(path):
    write_csv(path, thirty_rows())
    lines = path.read_bytes().split(b"\n")
    lines[5] = b'"caf\xe9 is not utf-8",1'
    path.write_bytes(b"\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize(
    "spoil, message",
    [
        (
            _bad_header,
            "line 1: no text column ('review' or 'text'; name it with --text-column) and no "
            "label column ('sentiment' or 'label'; name it with --label-column); columns "
            "found: 'body', 'stars'",
        ),
        (
            _bad_label,
            "line 5: sentiment must be positive (1, positive, pos, true) or negative "
            "(0, negative, neg, false), in any case, got '2'",
        ),
        (_unreadable, "line 6: unreadable"),
    ],
)
def test_bad_csv_is_a_clear_error_and_publishes_nothing(
    settings, sessions, tmp_path, spoil, message
):
    path = tmp_path / "bad.csv"
    spoil(path)
    result = train(settings, path, "--holdout", 6, "--quiet")
    assert result.returncode != 0
    assert message in result.stderr
    assert "nothing was published" in result.stderr
    assert "Traceback" not in result.stderr
    assert versions(sessions) == []
    assert not list(settings.model_dir.glob("*.pkl"))


@pytest.mark.slow
def test_continue_learns_on_top_of_the_current_version_and_plots(settings, sessions, tmp_path):
    path = write_csv(tmp_path / "reviews.csv", thirty_rows())
    assert train(settings, path, "--quiet").returncode == 0
    plot = tmp_path / "out" / "curve.png"
    result = train(settings, path, "--continue", "--holdout", 6, "--plot", plot, "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"learning curve written to {plot}" in result.stdout
    # The first run stored no held-out rows: nothing to gate the second on.
    assert "not gated: no held-out set is stored to compare version 1 on" in result.stdout
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with sessions() as session:
        first, second = model_store.get_version(session, 1), model_store.get_version(session, 2)
        assert model_store.current_version(session) == 2
        assert second.parent_version == 1
        sentences = sentence_count(thirty_rows()[:24])
        assert second.samples_seen == first.samples_seen + sentences * training.EPOCHS


@pytest.mark.slow
def test_if_missing_does_nothing_when_a_model_exists(settings, sessions, seed_model, tmp_path):
    path = write_csv(tmp_path / "reviews.csv", thirty_rows())
    result = train(settings, path, "--if-missing", "--quiet")
    assert result.returncode == 0
    assert "a model is already published; not training" in result.stdout
    assert versions(sessions) == [seed_model]


@pytest.mark.parametrize(
    "option, message",
    [
        (["--plot", "curve.gif", "--holdout", "6"], "must end in .png or .svg"),
        (["--plot", "curve.png"], "needs --holdout N"),
    ],
)
def test_plot_option_is_checked_before_training(
    runner, settings, sessions, tmp_path, monkeypatch, option, message
):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    path = write_csv(tmp_path / "reviews.csv", thirty_rows())
    result = runner.invoke(args=["train", str(path), *option])
    assert result.exit_code == 2
    assert message in result.output
    assert versions(sessions) == []


@pytest.mark.slow
def test_worker_processes_and_in_process_hashing_train_the_same_model(settings, sessions, tmp_path):
    path = write_csv(tmp_path / "reviews.csv", thirty_rows() * 3)
    coefs = []
    for workers in (0, 2):
        report = training.train_from_csv(
            path, sessions, settings.model_dir, batch_size=7, epochs=3, holdout=6, workers=workers
        )
        with sessions() as session:
            model = model_store.load(session, report.version, settings.model_dir)
        coefs.append(model.classifier.coef_)
        assert report.rows_trained == 84
    np.testing.assert_array_equal(coefs[0], coefs[1])


def multi_sentence_rows() -> list[tuple[str, int]]:
    """Reviews of several long sentences, so that a split review is easy to count."""
    good = "A wonderful film with a great cast. I loved the story!<br />See it with friends."
    bad = "A boring film with an awful plot. I hated the ending!<br />Avoid it at all costs."
    return [(f"{good} Part {i} of the review.", 1) if i % 2 else (bad, 0) for i in range(12)]


def test_sentences_are_learned_and_recorded_and_the_hold_out_stays_whole(sessions, settings):
    rows = multi_sentence_rows()
    path = write_csv(settings.model_dir.parent / "reviews.csv", rows)
    report = training.train_from_csv(
        path, sessions, settings.model_dir, epochs=2, holdout=4, workers=0, sentences=True
    )
    # Only the 8 training reviews are split; a split held-out row would add its sentences.
    assert report.rows_trained == 8 and report.sentences is True
    assert report.examples_trained == sentence_count(rows[:8]) > sentence_count(rows[:7]) > 8
    with sessions() as session:
        row = model_store.get_version(session, report.version)
        assert row.samples_seen == report.examples_trained * 2
        assert row.details["training"]["sentences"] is True
        assert row.details["training"]["examples_per_epoch"] == report.examples_trained
        # Stored as the evaluation set: the held-out rows, less those also trained on (the
        # negative review is the same text in both parts).
        kept = [(r, y) for r, y in rows[8:] if r not in {t for t, _ in rows[:8]}]
        assert kept and len(kept) < 4
        assert holdout.load(session) == ([r for r, _ in kept], [y for _, y in kept])


@pytest.mark.slow
def test_no_sentences_learns_whole_reviews_as_before(settings, sessions):
    path = write_csv(settings.model_dir.parent / "reviews.csv", multi_sentence_rows())
    args = [path, "--holdout", 4, "--workers", 0, "--quiet"]
    result = train(settings, *args, "--no-sentences")
    assert result.returncode == 0, result.stderr
    epochs = training.EPOCHS_WHOLE_REVIEWS
    assert f"8 rows trained (learned whole, {epochs} epochs)" in result.stdout
    with sessions() as session:
        row = model_store.get_version(session, 1)
        assert row.samples_seen == 8 * epochs
        assert row.details["training"] == {
            "sentences": False,
            "min_sentence_tokens": None,
            "epochs": epochs,
            # 8 rows, fewer than BATCH_SIZE: a size that gives MIN_STEPS steps, or 1.
            "batch_size": 1,
            "batch_size_asked": None,
            "reviews_per_epoch": 8,
            "examples_per_epoch": 8,
        }
        whole = model_store.load(session, 1, settings.model_dir).classifier.coef_
    # The same rows learned as sentences (the default) make another model.
    result = train(settings, *args, "--epochs", epochs)
    assert result.returncode == 0, result.stderr
    with sessions() as session:
        assert model_store.get_version(session, 2).samples_seen > 8 * epochs
        split = model_store.load(session, 2, settings.model_dir).classifier.coef_
    assert not np.array_equal(whole, split)
