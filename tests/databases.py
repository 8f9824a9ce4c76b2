"""PostgreSQL administration for the tests: make, copy and drop whole databases.

Each test gets a database of its own. Running the migrations for each one is what the
template saves: ``conftest.py`` migrates one template per session (a SQLite file, a
PostgreSQL database) and each test's database starts as a copy of it.

PostgreSQL tests run wherever ``TEST_POSTGRESQL_URL`` (default: this machine's server)
answers; with ``REQUIRE_ALL_BACKENDS=1`` (set by CI) a test that cannot run fails instead
of being skipped.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from movieclassifier import db

POSTGRESQL_ADMIN_URL = os.environ.get(
    "TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_ALL = os.environ.get("REQUIRE_ALL_BACKENDS") == "1"


def unavailable(message: str) -> None:
    """Skip the test, or fail it where every backend must run (``REQUIRE_ALL_BACKENDS=1``)."""
    (pytest.fail if REQUIRE_ALL else pytest.skip)(message)


def postgresql_available() -> bool:
    try:
        engine = create_engine(POSTGRESQL_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


def _admin(statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    admin = create_engine(POSTGRESQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_postgresql_database(template: str | None = None, prefix: str = "mc_test") -> str:
    """A new PostgreSQL database, empty or a copy of the database ``template``; its URL.

    The name is random, so concurrent sessions (and pytest-xdist workers) never collide.
    A template must have no open connections while it is copied.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    _admin(f'CREATE DATABASE "{name}"{copy}')
    return make_url(POSTGRESQL_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgresql_database(url: str) -> None:
    """Drop the database of ``url``, closing whatever connections are still open on it."""
    _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def migrate(url: str) -> None:
    """Run the migrations on ``url`` and close every connection (a template must be idle)."""
    engine = db.make_engine(url)
    try:
        db.init_db(engine)
    finally:
        engine.dispose()


class TemplateCopies:
    """Copies of a template database for the tests, made and dropped off their clock.

    ``CREATE DATABASE ... TEMPLATE`` and ``DROP DATABASE`` write and sync a whole database:
    a tenth of a second or more each on a busy machine, for each PostgreSQL test. Here one
    background thread makes the next copy while a test runs and drops a test's copy while
    the next one runs. One thread: PostgreSQL copies a template for one CREATE at a time.
    """

    def __init__(self, template: str) -> None:
        self._template = template
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="template-copies")
        self._next = self._worker.submit(create_postgresql_database, template)
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        """The URL of a new copy, the caller's alone; ``give_back`` it when done."""
        url = self._next.result()
        self._next = self._worker.submit(create_postgresql_database, self._template)
        return url

    def give_back(self, url: str) -> None:
        """Drop the copy at ``url`` (in the background; ``close`` reports a failure)."""
        self._drops.append(self._worker.submit(drop_postgresql_database, url))

    def close(self) -> None:
        """Drop the spare copy, wait for every drop and raise the first that failed."""
        self.give_back(self._next.result())
        self._worker.shutdown(wait=True)
        for drop in self._drops:
            drop.result()
