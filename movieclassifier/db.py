"""Database engine and session lifecycle, and schema migration (Alembic).

SQLite by default (``db/reviews.sqlite``, WAL mode, busy timeout); PostgreSQL when
``DATABASE_URL`` says so. Repository functions take a ``Session`` and never commit; the
view or job that calls them owns the transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier.config import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "db" / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# What SQLAlchemy raises when the database cannot be reached or is too busy (a refused or
# lost connection, SQLite's lock wait running out); ``database_unavailable`` tells these
# apart from bugs that SQLite reports the same way.
DATABASE_DOWN = (OperationalError, InterfaceError)
# SQLite's codes for trouble with the file or its locks; a missing table is SQLITE_ERROR.
SQLITE_UNAVAILABLE = (
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
)


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; SQLite files get WAL, foreign keys and a busy timeout."""
    if not database_url.startswith("sqlite"):
        return create_engine(database_url, pool_pre_ping=True)
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin:
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another worker wrote in between; taking the write lock up front makes it wait instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    """An Alembic configuration that migrates through ``engine``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def init_db(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` with the Alembic migrations."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be used right now, rather than a bug.

    The one answer to "is the database down?": the API and pages (``web/errors.py``), the
    dashboard, ``/readyz``, ``/metrics``, the commands (``cli/common.py``) and the model
    cache all ask it, and each says at the call what it does with the answer.

    A driver's OperationalError is about the connection or the server (PostgreSQL), except
    SQLite's, which also covers a missing table or bad SQL: there only the codes of
    ``SQLITE_UNAVAILABLE`` count.
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorname", None)
    return code is None or code.startswith(SQLITE_UNAVAILABLE)
