"""Model versions: written under fresh names, registered in the database, loaded safely.

A version's file is written to a temporary name and renamed (``os.replace``), then the
version is registered; the caller commits. The database is the registry: which versions
exist, their sha256, and which one is current. It also keeps each version's bytes, so a
server whose ``MODEL_DIR`` lacks a file fetches it from there. Only files the store wrote
and registered are ever unpickled, and only after their sha256 matches the registry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import secrets
import tempfile
import time
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from movieclassifier import features
from movieclassifier.model import Calibration, SentimentModel
from movieclassifier.schema import (
    PROMOTED,
    REJECTED,
    ROLLED_BACK,
    CurrentModel,
    ModelBlob,
    ModelVersion,
    iso_utc,
)

PICKLE_FORMAT = 1
FILE_PREFIX = "classifier-"
FILE_SUFFIX = ".pkl"
TRAIN_HINT = 'run "python scripts/train_stream.py data/movie_data.csv.gz"'

# The source of the versions a retrain makes; a lineage runs back to the first other one.
RETRAIN_SOURCE = "feedback"


class ModelStoreError(Exception):
    """The store cannot give or take a model; the message says why and what to do."""


class NoModel(ModelStoreError):
    """No version is current yet."""


class ChecksumMismatch(ModelStoreError):
    """A model file's bytes differ from what was registered."""


class FeatureMismatch(ModelStoreError):
    """A version was trained with other feature parameters than this code uses."""


@dataclass(frozen=True)
class WrittenModel:
    """A model file on disk, not yet registered."""

    filename: str
    sha256: str
    data: bytes


def write(model: SentimentModel, model_dir: Path) -> WrittenModel:
    """Pickle ``model`` into ``model_dir`` under a fresh name, atomically."""
    payload = {
        "format": PICKLE_FORMAT,
        "classifier": model.classifier,
        "feature_params": features.feature_params(),
        "samples_seen": model.samples_seen,
        # Plain values: a file without them (made before calibration) loads as the identity.
        "calibration": dataclasses.asdict(model.calibration),
    }
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(data).hexdigest()
    # A random part keeps names fresh even when two runs produce equal bytes in one second.
    stamp = time.strftime("%Y%m%d%H%M%S")
    filename = f"{FILE_PREFIX}{stamp}-{secrets.token_hex(4)}{FILE_SUFFIX}"
    _write_atomically(model_dir / filename, data)
    return WrittenModel(filename, digest, data)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=FILE_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(
    session: Session,
    written: WrittenModel,
    model: SentimentModel,
    *,
    status: str,
    source: str,
    source_detail: str = "",
    source_sha256: str | None = None,
    parent_version: int | None = None,
    learned: int = 0,
    holdout_accuracy: float | None = None,
    holdout_rows: int = 0,
    holdout_set: int | None = None,
    carried_from: int | None = None,
    consolidated: bool = False,
    details: dict[str, Any] | None = None,
) -> ModelVersion:
    """Add the registry row and bytes of ``written``; make it current when promoted.

    Does not commit: the caller registers, marks what the version learned, and commits
    in one transaction.
    """
    row = ModelVersion(
        status=status,
        filename=written.filename,
        sha256=written.sha256,
        size_bytes=len(written.data),
        sklearn_version=sklearn.__version__,
        numpy_version=np.__version__,
        feature_params=features.feature_params(),
        source=source,
        source_detail=source_detail,
        source_sha256=source_sha256,
        parent_version=parent_version,
        samples_seen=model.samples_seen,
        learned=learned,
        holdout_accuracy=holdout_accuracy,
        holdout_rows=holdout_rows,
        holdout_set=holdout_set,
        carried_from=carried_from,
        consolidated=consolidated,
        # Recorded with the version; the pickle holds the same (``SentimentModel.calibration``).
        details={**(details or {}), "calibration": model.calibration.as_dict()},
    )
    session.add(row)
    session.flush()
    session.add(ModelBlob(version=row.version, data=written.data))
    if status == PROMOTED:
        set_current(session, row.version)
    model.version = row.version
    return row


def set_current(session: Session, version: int) -> None:
    """Point every worker at ``version`` (takes effect when the caller commits)."""
    row = session.get(ModelVersion, version)
    if row is None:
        raise ModelStoreError(f"there is no model version {version}")
    row.status = PROMOTED
    row.promoted_at = datetime.now(UTC)
    pointer = session.get(CurrentModel, 1)
    if pointer is None:
        session.add(CurrentModel(id=1, version=version, changed_at=row.promoted_at))
    else:
        pointer.version = version
        pointer.changed_at = row.promoted_at
    session.flush()


def current_version(session: Session) -> int | None:
    """The version workers should serve, or None before the first model: one tiny query."""
    return session.scalar(select(CurrentModel.version).where(CurrentModel.id == 1))


def get_version(session: Session, version: int) -> ModelVersion:
    """The registry row of ``version``.

    Raises:
        ModelStoreError: there is no such version.
    """
    row = session.get(ModelVersion, version)
    if row is None:
        raise ModelStoreError(f"there is no model version {version}")
    return row


def list_versions(session: Session) -> list[ModelVersion]:
    """Every registered version, newest first."""
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.version.desc())))


def load_current(session: Session, model_dir: Path) -> SentimentModel:
    """The current model.

    Raises:
        NoModel: nothing has been published yet.
    """
    version = current_version(session)
    if version is None:
        raise NoModel(f"no model has been published yet; {TRAIN_HINT}")
    return load(session, version, model_dir)


def load(session: Session, version: int, model_dir: Path) -> SentimentModel:
    """Load ``version``, fetching its bytes from the database when this disk lacks them.

    Raises:
        FeatureMismatch: it was trained with other feature parameters than this code.
        ChecksumMismatch: the file's sha256 is not the registered one.
        ModelStoreError: the version is unknown or its bytes are gone.
    """
    row = get_version(session, version)
    if row.pruned_at is not None:
        raise ModelStoreError(f"model version {version} was pruned; its bytes are gone")
    mismatch = features.describe_mismatch(row.feature_params)
    if mismatch:
        raise FeatureMismatch(
            f"classifier-{version} was trained with other features ({mismatch}); {TRAIN_HINT}"
        )
    path = model_dir / row.filename
    if path.exists():
        data = path.read_bytes()
    else:
        data = _fetch_bytes(session, row)
        _write_atomically(path, data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != row.sha256:
        raise ChecksumMismatch(
            f"{path} has sha256 {digest[:12]}…, but version {version} was registered with "
            f"{row.sha256[:12]}…; refusing to load it (delete the file to fetch it again)"
        )
    return _unpickle(data, row)


def _fetch_bytes(session: Session, row: ModelVersion) -> bytes:
    data = session.scalar(select(ModelBlob.data).where(ModelBlob.version == row.version))
    if data is None:
        raise ModelStoreError(f"the bytes of model version {row.version} were pruned")
    return data


def _unpickle(data: bytes, row: ModelVersion) -> SentimentModel:
    with warnings.catch_warnings():
        # A pickle from another scikit-learn release may predict differently: refuse it.
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            payload = pickle.loads(data)  # noqa: S301 - bytes checked against the registry
        except InconsistentVersionWarning as exc:
            raise ModelStoreError(
                f"model version {row.version} was made with scikit-learn {row.sklearn_version}, "
                f"this is {sklearn.__version__}; {TRAIN_HINT}"
            ) from exc
    model = SentimentModel(payload["classifier"], row.version, payload["samples_seen"])
    if "calibration" in payload:
        model.calibration = Calibration(**payload["calibration"])
    return model


def write_sidecar(model_dir: Path, row: ModelVersion) -> Path:
    """Write the human-readable metadata next to a version's file (informational only)."""
    path = (model_dir / row.filename).with_suffix(".json")
    _write_atomically(path, json.dumps(describe(row), indent=2).encode())
    return path


def describe(row: ModelVersion) -> dict[str, Any]:
    """A registry row as plain JSON-able data (used by the API, the CLI and sidecars)."""
    return {
        "version": row.version,
        "status": row.status,
        "created_at": iso_utc(row.created_at),
        "promoted_at": iso_utc(row.promoted_at),
        "filename": row.filename,
        "sha256": row.sha256,
        "size_bytes": row.size_bytes,
        "sklearn_version": row.sklearn_version,
        "numpy_version": row.numpy_version,
        "feature_params": row.feature_params,
        "source": row.source,
        "source_detail": row.source_detail,
        "source_sha256": row.source_sha256,
        "parent_version": row.parent_version,
        "samples_seen": row.samples_seen,
        "learned": row.learned,
        "holdout_accuracy": row.holdout_accuracy,
        "holdout_rows": row.holdout_rows,
        "pruned": row.pruned_at is not None,
    }


class Registry:
    """The version graph, read once: parents, how each was made, what it carried."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(
            select(
                ModelVersion.version,
                ModelVersion.parent_version,
                ModelVersion.source,
                ModelVersion.carried_from,
                ModelVersion.consolidated,
            )
        )
        self.parent: dict[int, int | None] = {}
        self.source: dict[int, str] = {}
        self.carried: dict[int, int | None] = {}
        self.consolidated: dict[int, bool] = {}
        for version, parent, source, carried, consolidated in rows:
            self.parent[version] = parent
            self.source[version] = source
            self.carried[version] = carried
            self.consolidated[version] = bool(consolidated)

    def chain(self, version: int) -> list[int]:
        """``version`` and its parents while they were made by retrains, then the base."""
        chain = [version]
        while self.source.get(chain[-1]) == RETRAIN_SOURCE:
            parent = self.parent.get(chain[-1])
            if parent is None or parent in chain:
                break
            chain.append(parent)
        return chain

    def closure(self, version: int) -> set[int]:
        """Every version whose learned labels ``version`` reflects."""
        seen: set[int] = set()
        waiting = [version]
        while waiting:
            for member in self.chain(waiting.pop()):
                if member in seen:
                    continue
                seen.add(member)
                carried = self.carried.get(member)
                if carried is not None:
                    waiting.append(carried)
        return seen

    def start(self, version: int) -> int:
        """Where a retrain of ``version`` starts: its lineage's newest consolidated version,
        or the base (docs/DESIGN.md, invariant 10)."""
        chain = self.chain(version)
        return next((member for member in chain if self.consolidated.get(member)), chain[-1])


def lineage(session: Session, version: int) -> list[int]:
    """``version`` and its ancestors back to (and including) the last one not made by a retrain."""
    return Registry(session).chain(version)


def rollback(session: Session, model_dir: Path, version: int) -> list[int]:
    """Make ``version`` current; promoted versions newer than it become rolled_back.

    The version is loaded first (sha256 checked), so a rollback never points workers at
    bytes they cannot load. Returns the versions rolled back. Does not commit: the caller
    settles the labels the rollback leaves behind in the same transaction
    (``lifetime.rollback``).

    Raises:
        ModelStoreError: no such version, it was rejected or pruned, or it is
            already current.
    """
    row = get_version(session, version)
    if version == current_version(session):
        raise ModelStoreError(f"version {version} is already current")
    if row.status == REJECTED:
        raise ModelStoreError(
            f"version {version} was rejected by the gate; approve its feedback instead "
            '("flask --app movieclassifier quarantine approve --version '
            f'{version}")'
        )
    load(session, version, model_dir)
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
    set_current(session, version)
    return sorted(newer)


@dataclass(frozen=True)
class PruneReport:
    pruned_versions: list[int]
    removed_files: list[str]


def prune(
    session: Session,
    model_dir: Path,
    keep: int,
    orphan_min_age_seconds: float = 3600,
    protect: Collection[int] = (),
) -> PruneReport:
    """Drop the bytes and files of versions beyond the newest ``keep``, never the current one,
    the base and the consolidated version its lineage retrains from, nor those in ``protect``.

    Registry rows stay (predictions refer to them); only their bytes go. Files in
    ``model_dir`` that no unpruned version names are removed once older than
    ``orphan_min_age_seconds``: a younger one may belong to a retrain about to commit.
    """
    current = current_version(session)
    rows = list_versions(session)
    kept = {row.version for row in rows[:keep]} | {current} | set(protect)
    if current is not None:
        # A retrain starts from the lineage's newest consolidated version, or from its
        # base (the gate's anchor, and the start of a full refit): their bytes must stay.
        registry = Registry(session)
        kept |= {registry.chain(current)[-1], registry.start(current)}
    pruned = [row for row in rows if row.version not in kept and row.pruned_at is None]
    for row in pruned:
        session.execute(delete(ModelBlob).where(ModelBlob.version == row.version))
        row.pruned_at = datetime.now(UTC)
    session.flush()
    live = {row.filename for row in rows if row.pruned_at is None}
    removed = _remove_files(model_dir, live, orphan_min_age_seconds)
    return PruneReport([row.version for row in pruned], removed)


def _remove_files(model_dir: Path, live: set[str], min_age: float) -> list[str]:
    removed: list[str] = []
    if not model_dir.exists():
        return removed
    now = time.time()
    for path in sorted(model_dir.glob(f"{FILE_PREFIX}*")):
        stem_file = path.with_suffix(FILE_SUFFIX).name
        if stem_file in live or now - path.stat().st_mtime < min_age:
            continue
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed
