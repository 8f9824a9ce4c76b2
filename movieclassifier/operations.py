"""What the operator commands do, without click: version table, rollback, prune, quarantine.

Pure (no Flask, no click), so tests and other tools can call the same functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import feedback, learning, model_store
from movieclassifier.config import Settings
from movieclassifier.schema import (
    PROMOTED,
    REJECTED,
    ROLLED_BACK,
    Feedback,
    ModelVersion,
    StoredPrediction,
    iso_utc,
)

EXCERPT_CHARS = 70


def live_accuracy(session: Session) -> dict[int, tuple[int, float]]:
    """Per version: how many of its served predictions got feedback, and the share correct."""
    rows = session.execute(
        select(
            StoredPrediction.model_version,
            func.count(Feedback.id),
            func.sum(case((Feedback.correct, 1), else_=0)),
        )
        .join(Feedback, Feedback.prediction_id == StoredPrediction.id)
        .group_by(StoredPrediction.model_version)
    )
    return {v: (int(n), int(right) / int(n)) for v, n, right in rows if n}


def version_table(session: Session, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` versions as rows for ``flask versions``."""
    current = model_store.current_version(session)
    live = live_accuracy(session)
    table = []
    for row in model_store.list_versions(session)[:limit]:
        answered, accuracy = live.get(row.version, (0, None))
        table.append(
            {
                "version": row.version,
                "current": row.version == current,
                "status": row.status,
                "created_at": iso_utc(row.created_at),
                "source": row.source,
                "holdout_accuracy": row.holdout_accuracy,
                "learned": row.learned,
                "live_feedback": answered,
                "live_accuracy": accuracy,
                "pruned": row.pruned_at is not None,
            }
        )
    return table


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table; ``*`` marks the current version.

    >>> print(format_table([{"version": 2, "current": True, "status": "promoted",
    ...     "source": "feedback", "holdout_accuracy": 0.9, "learned": 3,
    ...     "live_feedback": 0, "live_accuracy": None, "pruned": False}]))
    version  status       source    held-out  learned  live (answers)
    *2       promoted     feedback  0.9000          3  n/a (0)
    """
    lines = ["version  status       source    held-out  learned  live (answers)"]
    for row in rows:
        mark = "*" if row["current"] else " "
        status = row["status"] + (" pruned" if row["pruned"] else "")
        live = _number(row["live_accuracy"])
        lines.append(
            f"{mark}{row['version']:<7} {status:<12} {row['source']:<9} "
            f"{_number(row['holdout_accuracy']):<9} {row['learned']:>7}  "
            f"{live} ({row['live_feedback']})"
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def rollback(sessions: sessionmaker[Session], model_dir: Path, version: int) -> list[int]:
    """Make ``version`` current; promoted versions newer than it become rolled_back.

    The version is loaded first (sha256 checked), so a rollback never points workers at
    bytes they cannot load. Returns the versions rolled back.

    Raises:
        model_store.ModelStoreError: no such version, it was rejected or pruned, or it is
            already current.
    """
    with sessions.begin() as session:
        row = model_store.get_version(session, version)
        if version == model_store.current_version(session):
            raise model_store.ModelStoreError(f"version {version} is already current")
        if row.status == REJECTED:
            raise model_store.ModelStoreError(
                f"version {version} was rejected by the gate; approve its feedback instead "
                '("flask --app movieclassifier quarantine approve --version '
                f'{version}")'
            )
        model_store.load(session, version, model_dir)
        newer = list(
            session.scalars(
                select(ModelVersion.version).where(
                    ModelVersion.version > version, ModelVersion.status == PROMOTED
                )
            )
        )
        session.execute(
            update(ModelVersion).where(ModelVersion.version.in_(newer)).values(status=ROLLED_BACK)
        )
        model_store.set_current(session, version)
    return sorted(newer)


def prune(session: Session, settings: Settings, keep: int | None) -> model_store.PruneReport:
    """Drop old versions' bytes and orphan files, keeping what the current lineage needs."""
    current = model_store.current_version(session)
    # A retrain starts from the base of the current lineage: its bytes must stay.
    protect = learning.lineage(session, current)[-1:] if current is not None else []
    return model_store.prune(
        session,
        settings.model_dir,
        keep or settings.keep_model_versions,
        protect=protect,
    )


def quarantine_lines(session: Session, version: int | None, limit: int) -> list[str]:
    """One line per quarantined row: id, rejected version, label, the review's start."""
    lines = []
    for row in feedback.quarantined(session, version, limit):
        review = feedback.get_prediction(session, row.prediction_id).review
        excerpt = review if len(review) <= EXCERPT_CHARS else review[: EXCERPT_CHARS - 1] + "…"
        label = "positive" if row.label == 1 else "negative"
        lines.append(f"{row.id:>6}  version {row.quarantined_version}  {label:<8}  {excerpt!r}")
    return lines
