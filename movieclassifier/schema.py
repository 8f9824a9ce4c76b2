"""The database tables (SQLAlchemy 2 typed declarative models), shared by every part.

Pure: no Flask. Alembic migrations in ``db/migrations`` create and change these tables.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Model version statuses.
PROMOTED = "promoted"
REJECTED = "rejected"
ROLLED_BACK = "rolled_back"
# Feedback statuses: "learning" marks rows claimed by a running retrain; a run that finds
# such rows at start (it holds the lock, so their claimer is dead) hands them back.
PENDING = "pending"
LEARNING = "learning"
LEARNED = "learned"
QUARANTINED = "quarantined"
APPROVED = "approved"
DISCARDED = "discarded"
# Taken back by ``feedback retract``: never learned again; ``dropped_version`` is the first
# version published without its effect.
RETRACTED = "retracted"
# Held out of learning as the domain slice the gate scores on (``GATE_FEEDBACK_SLICE``).
HELD_OUT = "held_out"
# Why a removal was recorded (``Removal.kind``).
FORGOTTEN = "forgotten"
# A prediction's public reference: 16 random bytes (128 bits), URL-safe base64 (22 chars).
REFERENCE_BYTES = 16
REFERENCE_MAX_CHARS = 64
# A keyed hash of who asked or answered (``feedback.source_hash``): 32 hex digits.
SOURCE_CHARS = 32
QUARANTINE_REASON_CHARS = 64


def new_reference() -> str:
    """A fresh, unguessable reference for a stored prediction.

    >>> len(new_reference()), new_reference() == new_reference()
    (22, False)
    """
    return secrets.token_urlsafe(REFERENCE_BYTES)


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC datetimes from either backend (SQLite gives naive UTC values).

    >>> as_utc(datetime(2026, 1, 2, 3, 4, 5)).isoformat()
    '2026-01-02T03:04:05+00:00'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """RFC 3339 text of a stored time, or None.

    >>> iso_utc(datetime(2026, 1, 2, 3, 4, 5))
    '2026-01-02T03:04:05+00:00'
    """
    aware = as_utc(moment)
    return aware.isoformat() if aware is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class ModelVersion(Base):
    """The registry: one row per published (or rejected) model version."""

    __tablename__ = "model_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(String(16), index=True)
    filename: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sklearn_version: Mapped[str] = mapped_column(String(32))
    numpy_version: Mapped[str] = mapped_column(String(32))
    feature_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    source_detail: Mapped[str] = mapped_column(Text, default="")
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    parent_version: Mapped[int | None] = mapped_column(Integer)
    samples_seen: Mapped[int] = mapped_column(Integer, default=0)
    learned: Mapped[int] = mapped_column(Integer, default=0)
    holdout_accuracy: Mapped[float | None] = mapped_column(Float)
    holdout_rows: Mapped[int] = mapped_column(Integer, default=0)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pruned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The evaluation set (``HoldoutSet.id``) its held-out accuracy was measured on.
    holdout_set: Mapped[int | None] = mapped_column(Integer)
    # A new base that learned the labels of this version's lineage (docs/DESIGN.md, carrying).
    carried_from: Mapped[int | None] = mapped_column(Integer)
    # Folded every label before it into its weights: replay starts after it.
    consolidated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ModelBlob(Base):
    """The pickled bytes of a version, so a server without the file on its disk can fetch it."""

    __tablename__ = "model_blobs"

    version: Mapped[int] = mapped_column(
        ForeignKey("model_versions.version", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CurrentModel(Base):
    """A single row (id 1) naming the version every worker should serve."""

    __tablename__ = "current_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("model_versions.version"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HoldoutSet(Base):
    """One evaluation set: the rows one ``train_stream.py --holdout`` kept out of training.

    A new set is added, never swapped in: the versions evaluated on an older set keep it.
    """

    __tablename__ = "holdout_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source_detail: Mapped[str] = mapped_column(Text, default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)


class HoldoutReview(Base):
    """Reviews kept out of training by ``train_stream.py --holdout``; the retraining gate."""

    __tablename__ = "holdout_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review: Mapped[str] = mapped_column(Text)
    label: Mapped[int] = mapped_column(Integer)
    # None only for rows of a database that was never migrated past 0003.
    set_id: Mapped[int | None] = mapped_column(Integer, index=True)


class StoredPrediction(Base):
    """A prediction that was shown to someone, so feedback can refer to it.

    ``id`` stays internal; clients name the prediction by ``reference``, which cannot be
    guessed. ``source`` is a keyed hash of who asked (never their address).
    """

    __tablename__ = "predictions"
    # The dashboard's id range of each version's predictions: index seeks on both backends.
    __table_args__ = (Index("ix_predictions_model_version_id", "model_version", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NOT NULL on PostgreSQL; on SQLite migration 0003 could only add it nullable (see there).
    reference: Mapped[str] = mapped_column(
        String(REFERENCE_MAX_CHARS), unique=True, index=True, default=new_reference
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    review: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(8))
    probability: Mapped[float] = mapped_column(Float)
    # Indexed with the id (``__table_args__``), which serves lookups by version alone too.
    model_version: Mapped[int] = mapped_column(ForeignKey("model_versions.version"))
    # "web" or "api": enough to tell the two apart, nothing that identifies a person.
    channel: Mapped[str] = mapped_column(String(8))
    # None for predictions stored before migration 0003.
    source: Mapped[str | None] = mapped_column(String(SOURCE_CHARS))


class Feedback(Base):
    """A person's answer to a stored prediction: the confirmed label and its learning state."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), unique=True
    )
    correct: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    learned_version: Mapped[int | None] = mapped_column(ForeignKey("model_versions.version"))
    quarantined_version: Mapped[int | None] = mapped_column(ForeignKey("model_versions.version"))
    # The keyed hash of who gave the latest answer; None for answers before migration 0003.
    source: Mapped[str | None] = mapped_column(String(SOURCE_CHARS))
    # Why a run quarantined this answer alone, and how suspect it was (higher: more).
    quarantine_score: Mapped[float | None] = mapped_column(Float)
    quarantine_reason: Mapped[str | None] = mapped_column(String(QUARANTINE_REASON_CHARS))
    # The version whose run held this answer out as part of the domain slice.
    slice_version: Mapped[int | None] = mapped_column(Integer)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first version published without the effect of this retracted answer.
    dropped_version: Mapped[int | None] = mapped_column(Integer)
    # The version that had learned it before a rollback left that version behind.
    requeued_from_version: Mapped[int | None] = mapped_column(Integer)


class Removal(Base):
    """What ``forget`` deleted, without its text, kept until a version drops its effect."""

    __tablename__ = "removals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    feedback_id: Mapped[int] = mapped_column(Integer)
    learned_version: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    dropped_version: Mapped[int | None] = mapped_column(Integer)


class RetrainRun(Base):
    """One run of the retraining job and what it did; the dashboard shows the latest."""

    __tablename__ = "retrain_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int | None] = mapped_column(Integer)
    learned: Mapped[int] = mapped_column(Integer, default=0)
    holdout_accuracy_before: Mapped[float | None] = mapped_column(Float)
    holdout_accuracy_after: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")


# Account roles: a reviewer may answer the review queue only; an operator may do everything.
OPERATOR = "operator"
REVIEWER = "reviewer"
USER_NAME_CHARS = 64
AUDIT_ACTION_CHARS = 32
AUDIT_ADDRESS_CHARS = 64


class User(Base):
    """An operator or reviewer of the admin pages; made and changed with ``flask users``.

    ``session_version`` is in every signed session of the user: bumping it (logout,
    ``set-password``, ``disable``) ends them all.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(USER_NAME_CHARS), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who did what to which ids, when and from where; rows are added, never edited."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    # The user's name as given (a failed login may name nobody), "cli:<os user>" for
    # changes made from the command line.
    actor: Mapped[str] = mapped_column(String(USER_NAME_CHARS + 8))
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_CHARS), index=True)
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    # The client address for requests (after ProxyFix), "cli" for the command line.
    address: Mapped[str] = mapped_column(String(AUDIT_ADDRESS_CHARS), default="")
