"""One retrain at a time across every process and machine that shares the database.

PostgreSQL: a session-level advisory lock held on a dedicated connection for the whole run.
SQLite: an OS file lock (``flock``) on a file next to the database file. Both are released
by the operating system or the server when the holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

# Any fixed 64-bit number; every retrain on every machine must use the same one.
RETRAIN_LOCK_KEY = 7_236_011_842_001
LOCK_SUFFIX = ".retrain.lock"


class Busy(Exception):
    """Another retrain holds the lock."""


@contextmanager
def retrain_lock(engine: Engine, wait: bool = False) -> Iterator[None]:
    """Hold the one-writer lock for the ``with`` block.

    With ``wait`` the call blocks until the lock is free; without it, it fails at once.

    Raises:
        Busy: another retrain holds the lock and ``wait`` is false.
    """
    if engine.dialect.name == "sqlite":
        with _file_lock(lock_path(engine.url.render_as_string(hide_password=False)), wait):
            yield
    else:
        with _advisory_lock(engine, wait):
            yield


def lock_path(database_url: str) -> Path:
    """The lock file of a SQLite database: next to the database file.

    >>> str(lock_path("sqlite:////srv/db/reviews.sqlite"))
    '/srv/db/reviews.sqlite.retrain.lock'

    Raises:
        ValueError: the database lives in memory, so no other process can share it.
    """
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be shared; use a file")
    path = Path(database).expanduser().resolve()
    return path.with_name(path.name + LOCK_SUFFIX)


@contextmanager
def _file_lock(path: Path, wait: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Busy(f"another retrain is running (it holds {path})") from exc
        # The pid is for people reading the file; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Closing the descriptor releases the flock; so does the process dying.
        os.close(fd)


@contextmanager
def _advisory_lock(engine: Engine, wait: bool) -> Iterator[None]:
    # Autocommit: a session-level advisory lock outlives transactions, and the connection
    # must not sit "idle in transaction" for the length of a run.
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    acquired = False
    try:
        if wait:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": RETRAIN_LOCK_KEY})
            acquired = True
        else:
            acquired = bool(
                connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": RETRAIN_LOCK_KEY}
                )
            )
            if not acquired:
                raise Busy("another retrain is running (it holds the PostgreSQL advisory lock)")
        yield
    finally:
        _release(connection, acquired)


def _release(connection: Connection, acquired: bool) -> None:
    # A pooled connection would keep a session-level lock alive: unlock, or if that fails,
    # throw the connection away so the server drops the lock with the session.
    try:
        if acquired:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RETRAIN_LOCK_KEY})
    except Exception:
        connection.invalidate()
        raise
    finally:
        connection.close()
