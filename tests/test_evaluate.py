"""``flask evaluate`` and scripts/evaluate.py: a stored version's figures on a labelled file,
checked against a direct computation with scikit-learn and numpy (issue 15)."""

import csv
import gzip
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics

from loop_helpers import movie_rows
from movieclassifier import model_store
from servers import REPO_ROOT, settings_env, subprocess_env

SCRIPT = REPO_ROOT / "scripts" / "evaluate.py"


@pytest.fixture(scope="module")
def unseen():
    """400 IMDb reviews none of the test models trained on (imdb_training takes 2,500)."""
    return movie_rows(400, skip=3000)


def write_jsonl_gz(path, rows, key="stars", values=(1, 5)):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for review, label in rows:
            handle.write(json.dumps({"text": review, key: values[label]}) + "\n")
    return path


def expected(model, rows):
    """The figures computed here, from scikit-learn and by hand, not from reliability.py."""
    texts = [r for r, _ in rows]
    y = np.array([label for _, label in rows])
    p = np.array([prediction.positive_probability for prediction in model.predict(texts)])
    predicted = (p >= 0.5).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    confidence = np.where(predicted == 1, p, 1 - p)
    which = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(
        np.sum(which == b)
        * abs(np.mean(predicted[which == b] == y[which == b]) - np.mean(confidence[which == b]))
        for b in range(10)
        if np.any(which == b)
    ) / len(y)
    n, share, z = len(y), metrics.accuracy_score(y, predicted), 1.96
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {
        "rows": n,
        "accuracy": share,
        "accuracy_interval": [centre - half, centre + half],
        "confusion": {
            "true_negative": tn,
            "false_positive": fp,
            "false_negative": fn,
            "true_positive": tp,
        },
        "ece": ece,
        "brier": metrics.brier_score_loss(y, p),
        "log_loss": metrics.log_loss(y, np.clip(p, 1e-12, 1 - 1e-12), labels=[0, 1]),
        "predicted": predicted,
    }


def assert_figures(figures, want, version):
    assert figures["version"] == version
    assert figures["rows"] == want["rows"]
    assert figures["confusion"] == {k: int(v) for k, v in want["confusion"].items()}
    for key in ("accuracy", "ece", "brier", "log_loss"):
        assert figures[key] == pytest.approx(want[key], abs=1e-9), key
    assert figures["accuracy_interval"] == pytest.approx(want["accuracy_interval"], abs=1e-9)


def invoke(runner, settings, monkeypatch, *args):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    return runner.invoke(args=["evaluate", *map(str, args)])


def load(sessions, settings, version):
    with sessions() as session:
        return model_store.load(session, version, settings.model_dir)


def test_evaluate_reports_the_current_versions_figures(
    runner, settings, sessions, imdb_model, unseen, tmp_path, monkeypatch
):
    path = tmp_path / "unseen.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(unseen)
        writer.writerow(["", 1])  # skipped: empty text
    result = invoke(runner, settings, monkeypatch, path, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    want = expected(load(sessions, settings, imdb_model), unseen)
    assert 0.6 < want["accuracy"] < 1.0  # a real model: some rows right, some wrong
    assert_figures(figures, want, imdb_model)
    assert figures["skipped"] == {"empty_text": 1, "ignored_label": 0}
    assert f"version {imdb_model} on 400 rows of unseen.csv: accuracy {want['accuracy']:.4f}" in (
        result.output
    )
    assert "skipped 1 row: 1 with empty text" in result.output


def test_compare_scores_two_versions_on_the_same_rows(
    runner, settings, sessions, seed_model, imdb_model, unseen, tmp_path, monkeypatch
):
    path = write_jsonl_gz(tmp_path / "unseen.jsonl.gz", unseen)
    options = ["--label-column", "stars", "--positive-label", "5", "--negative-label", "1"]
    result = invoke(
        runner, settings, monkeypatch, path, *options, "--compare", seed_model, "--json"
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    current = expected(load(sessions, settings, imdb_model), unseen)
    tiny = expected(load(sessions, settings, seed_model), unseen)
    assert_figures(figures, current, imdb_model)
    assert_figures(figures["compare"], tiny, seed_model)
    assert figures["disagreements"] == int(np.sum(current["predicted"] != tiny["predicted"])) > 0
    assert f"version {seed_model} against version {imdb_model}: accuracy " in result.output
    # --version picks another than the current one.
    result = invoke(
        runner, settings, monkeypatch, path, *options, "--version", seed_model, "--json"
    )
    assert_figures(json.loads(result.stdout.strip().splitlines()[-1]), tiny, seed_model)


def test_evaluate_without_a_model_or_with_an_unknown_version_is_a_clear_error(
    runner, settings, sessions, tmp_path, monkeypatch, unseen
):
    path = write_jsonl_gz(tmp_path / "r.jsonl.gz", unseen[:10], key="label", values=(0, 1))
    result = invoke(runner, settings, monkeypatch, path)
    assert result.exit_code == 1
    assert "Error: no model has been published yet" in result.output
    result = invoke(runner, settings, monkeypatch, path, "--version", 9)
    assert result.exit_code == 1
    assert "Error: there is no model version 9" in result.output


def test_evaluate_names_the_line_of_a_bad_file(runner, settings, seed_model, tmp_path, monkeypatch):
    path = tmp_path / "bad.tsv"
    path.write_text("text\tlabel\na fine film\t1\na dull film\tmaybe\n")
    result = invoke(runner, settings, monkeypatch, path)
    assert result.exit_code == 1
    assert f"Error: {path}: line 3: label must be positive" in result.output
    assert "Traceback" not in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("review,sentiment\n,1\n")
    result = invoke(runner, settings, monkeypatch, empty)
    assert f"Error: {empty.name}: no rows to evaluate" in result.output


@pytest.mark.slow
def test_scripts_evaluate_prints_the_figures_and_one_json_object_last(
    settings, sessions, imdb_model, unseen, tmp_path
):
    path = write_jsonl_gz(tmp_path / "unseen.jsonl.gz", unseen[:100], key="label", values=(0, 1))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), "--json"],
        env=subprocess_env(settings_env(settings)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)  # all of stdout: the words go to stderr
    assert_figures(
        figures, expected(load(sessions, settings, imdb_model), unseen[:100]), imdb_model
    )
    assert "confusion (rows: the label, columns: predicted):" in result.stderr
