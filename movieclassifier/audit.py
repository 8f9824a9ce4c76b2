"""The audit log: who did what to which ids, when and from where. Append-only.

Every admin action and every account change from the command line adds one row with
``record``, in the same transaction as the change it describes (a failed login has its own).
Nothing here updates or deletes a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from movieclassifier.schema import (
    AUDIT_ACTION_CHARS,
    AUDIT_ADDRESS_CHARS,
    USER_NAME_CHARS,
    AuditEntry,
    as_utc,
)

# The actions recorded.
LOGIN = "login"
LOGIN_FAILED = "login-failed"
# The actor of a failed login under a name that is no account (what was typed is not kept).
UNKNOWN_NAME = "(unknown name)"
LOGOUT = "logout"
APPROVE = "approve"
DISCARD = "discard"
ROLLBACK = "rollback"
RETRAIN_NOW = "retrain-now"
RETRAIN_BUSY = "retrain-busy"
QUEUE_ANSWER = "queue-answer"
USER_CREATE = "user-create"
USER_DISABLE = "user-disable"
USER_SET_PASSWORD = "user-set-password"
ACTIONS = (
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    APPROVE,
    DISCARD,
    ROLLBACK,
    RETRAIN_NOW,
    RETRAIN_BUSY,
    QUEUE_ANSWER,
    USER_CREATE,
    USER_DISABLE,
    USER_SET_PASSWORD,
)
assert all(len(action) <= AUDIT_ACTION_CHARS for action in ACTIONS)


@dataclass(frozen=True)
class Entry:
    """One row of the audit log, as the page and ``flask audit`` show it."""

    id: int
    at: datetime | None
    actor: str
    action: str
    target: str
    detail: str
    address: str


def ids(values: Iterable[int]) -> str:
    """Ids as the ``target`` column holds them.

    >>> ids([3, 1, 2])
    'feedback 1, 2, 3'
    """
    return "feedback " + ", ".join(str(value) for value in sorted(values))


def record(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    detail: str = "",
    address: str = "",
) -> AuditEntry:
    """Add one row; the caller commits it with the change it describes.

    Raises:
        ValueError: ``action`` is not one of ``ACTIONS``.
    """
    if action not in ACTIONS:
        raise ValueError(f"audit action must be one of {', '.join(ACTIONS)}, got {action!r}")
    entry = AuditEntry(
        actor=actor[: USER_NAME_CHARS + 8],
        action=action,
        target=target,
        detail=detail,
        address=address[:AUDIT_ADDRESS_CHARS],
    )
    session.add(entry)
    session.flush()
    return entry


def recent(
    session: Session, limit: int = 100, action: str | None = None, actor: str | None = None
) -> list[Entry]:
    """The newest ``limit`` rows (of ``action``, by ``actor``), newest first."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
    return [
        Entry(row.id, as_utc(row.at), row.actor, row.action, row.target, row.detail, row.address)
        for row in rows
    ]
