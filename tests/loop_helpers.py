"""Helpers for the feedback-loop tests: real predictions, real feedback, real small models."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from movieclassifier import feedback, model_store
from movieclassifier.schema import LEARNED, Feedback, ModelVersion, Removal
from servers import REPO_ROOT, settings_env, subprocess_env

MOVIE_DATA = REPO_ROOT / "data" / "movie_data.csv.gz"
RETRAIN_SCRIPT = REPO_ROOT / "scripts" / "retrain.py"


def movie_rows(count: int, skip: int = 0) -> list[tuple[str, int]]:
    """The first ``count`` (after ``skip``) labelled IMDb reviews of the project's data."""
    rows = []
    with gzip.open(MOVIE_DATA, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for index, (review, label) in enumerate(reader):
            if index >= skip:
                rows.append((review, int(label)))
            if len(rows) == count:
                break
    return rows


def write_csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(rows)
    return path


def add_feedback(sessions, model_dir, reviews, correct=True) -> list[int]:
    """Predict ``reviews`` with the current model, store them, answer each; feedback ids."""
    with sessions.begin() as session:
        model = model_store.load_current(session, model_dir)
        rows = feedback.store_predictions(session, reviews, model.predict(reviews), "api")
        answers = correct if isinstance(correct, list) else [correct] * len(rows)
        return [feedback.add(session, row.id, ok).id for row, ok in zip(rows, answers, strict=True)]


def add_labelled(sessions, model_dir, rows: list[tuple[str, int]]) -> list[int]:
    """Feedback that confirms the true ``label`` of each review (correct or not)."""
    with sessions() as session:
        model = model_store.load_current(session, model_dir)
    predicted = [1 if p.label == "positive" else 0 for p in model.predict([r for r, _ in rows])]
    answers = [int(p) == y for p, (_, y) in zip(predicted, rows, strict=True)]
    return add_feedback(sessions, model_dir, [r for r, _ in rows], answers)


def assert_learned_exactly_once(session, expected_ids) -> None:
    """Every row learned, by exactly one version; versions' ``learned`` add up to the rows."""
    rows = list(session.scalars(select(Feedback).where(Feedback.id.in_(expected_ids))))
    assert len(rows) == len(expected_ids)
    assert {row.status for row in rows} == {LEARNED}
    assert all(row.learned_version is not None for row in rows)
    # Credited to a version: labels standing, and those taken back since (retracted ones
    # keep their learned_version; a forgotten one leaves a removal that names it).
    learned_total = session.scalar(select(func.sum(ModelVersion.learned))) or 0
    credited = session.scalar(
        select(func.count()).select_from(Feedback).where(Feedback.learned_version.is_not(None))
    )
    removed = session.scalar(
        select(func.count()).select_from(Removal).where(Removal.learned_version.is_not(None))
    )
    assert learned_total == credited + removed
    for version in {row.learned_version for row in rows}:
        registered = session.get(ModelVersion, version)
        assert registered.learned == session.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.learned_version == version)
        ) + session.scalar(
            select(func.count()).select_from(Removal).where(Removal.learned_version == version)
        )


def run_retrain(settings, *args, extra_env=None, timeout=300) -> subprocess.CompletedProcess:
    """``scripts/retrain.py`` in a real process with the test's settings."""
    env = subprocess_env(settings_env(settings, **(extra_env or {})))
    return subprocess.run(
        [sys.executable, str(RETRAIN_SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )
