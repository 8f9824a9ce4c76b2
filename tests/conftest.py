"""Shared fixtures: settings on a real SQLite file or a real PostgreSQL database per test.

Fixtures only: the handwritten reviews and the tiny model live in ``corpus.py``, the
PostgreSQL administration in ``databases.py``. Each test's database is a copy of a
template migrated once per session (``tests/test_migrations.py`` runs the migrations for
real); expensive read-only things (trained models) are made once per session too.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import corpus
import databases
from movieclassifier import db, model_store
from movieclassifier.config import Settings
from movieclassifier.model import SentimentModel
from movieclassifier.schema import PROMOTED

EMPTY_DATABASE = "empty_database"
MEMORY_TEMP_ROOT = Path("/dev/shm")
MEMORY_TEMP_MIN_FREE = 2 * 1024**3  # a container's default 64 MB /dev/shm is too small


def _use_memory_for_tmp_path() -> None:
    """Put tmp_path in memory where the machine has a roomy tmpfs.

    SQLite's commits and the model store's writes fsync, which on a disk is most of a small
    test's time; a test's kill -9 of a process loses nothing in memory either. A passed
    test's directory is removed at its end (``tmp_path_retention_policy`` in
    pyproject.toml), so little memory is held. ``--basetemp`` still wins.
    """
    if not os.access(MEMORY_TEMP_ROOT, os.W_OK):
        return
    if shutil.disk_usage(MEMORY_TEMP_ROOT).free >= MEMORY_TEMP_MIN_FREE:
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(MEMORY_TEMP_ROOT))


_use_memory_for_tmp_path()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{EMPTY_DATABASE}: the test's database has no schema (nobody migrated it)"
    )


def pytest_collection_modifyitems(config, items):
    # Tests that start processes or browsers carry the slow marker; run them last so the
    # fast tests give their answer first.
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if databases.REQUIRE_ALL and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nREQUIRE_ALL_BACKENDS=1 and {len(_skipped)} tests were skipped: {_skipped[:10]}")


@pytest.fixture(scope="session")
def postgresql_available() -> bool:
    return databases.postgresql_available()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once per session; each test's SQLite database is a copy."""
    path = tmp_path_factory.mktemp("template") / "reviews.sqlite"
    databases.migrate(f"sqlite:///{path}")
    # WAL mode: the last connection's close folds the log into the file, so the file alone
    # is the whole database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgresql_template(postgresql_available):
    """A PostgreSQL database migrated once per session, dropped at its end; its name.

    Each test's database is ``CREATE DATABASE ... TEMPLATE`` this one, which needs it idle:
    ``databases.migrate`` closes its connections, and nothing else connects to it.
    """
    if not postgresql_available:
        databases.unavailable(f"PostgreSQL not reachable at {databases.POSTGRESQL_ADMIN_URL}")
    url = databases.create_postgresql_database(prefix="mc_template")
    try:
        databases.migrate(url)
        yield make_url(url).database
    finally:
        databases.drop_postgresql_database(url)


@pytest.fixture(scope="session")
def postgresql_copies(postgresql_template):
    """Each PostgreSQL test's database: a copy of the template, made and dropped meanwhile."""
    copies = databases.TemplateCopies(postgresql_template)
    yield copies
    copies.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A new database of each backend, of its own, migrated to the newest schema.

    A copy of the session's template; with ``@pytest.mark.empty_database``, empty instead.
    """
    empty = request.node.get_closest_marker(EMPTY_DATABASE) is not None
    if request.param == "sqlite":
        path = tmp_path / "reviews.sqlite"
        if not empty:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if not request.getfixturevalue("postgresql_available"):
        databases.unavailable(f"PostgreSQL not reachable at {databases.POSTGRESQL_ADMIN_URL}")
    if empty:
        url = databases.create_postgresql_database()
        yield url
        databases.drop_postgresql_database(url)
        return
    copies = request.getfixturevalue("postgresql_copies")
    url = copies.take()
    yield url
    copies.give_back(url)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        database_url=database_url,
        model_dir=tmp_path / "pkl_objects",
        app_env="testing",
        secret_key="test-secret",
        model_reload_seconds=0,
        ratelimit_enabled=False,
        # Tests count what each run learned; the domain slice's own tests turn it on.
        gate_feedback_slice=0.0,
    )


@pytest.fixture
def engine(settings):
    """The engine of the test's database (already migrated: see ``database_url``)."""
    engine = db.make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return db.make_session_factory(engine)


@pytest.fixture
def session(sessions):
    with sessions() as session:
        yield session


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """The tiny model pickled once per session, copied into each test's store."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.pkl"
    path.write_bytes(pickle.dumps(corpus.train_tiny_model()))
    return path


@pytest.fixture
def tiny_model(tiny_model_file) -> SentimentModel:
    """A fresh copy of the tiny model, the test's to change."""
    return pickle.loads(tiny_model_file.read_bytes())


@pytest.fixture(scope="session")
def tiny_model_written(tmp_path_factory, tiny_model_file) -> model_store.WrittenModel:
    """The tiny model as ``model_store.write`` stores it, pickled and hashed once (16 MB)."""
    model = pickle.loads(tiny_model_file.read_bytes())
    return model_store.write(model, tmp_path_factory.mktemp("tiny-store"))


@pytest.fixture
def seed_model(settings, sessions, tiny_model, tiny_model_written):
    """Publish the tiny model as version 1 of this test's store; returns its version."""
    written = tiny_model_written
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    (settings.model_dir / written.filename).write_bytes(written.data)
    with sessions.begin() as session:
        row = model_store.register(session, written, tiny_model, status=PROMOTED, source="test")
        version = row.version
    return version


@pytest.fixture(scope="session")
def imdb_training(tmp_path_factory, sqlite_template) -> corpus.TrainedModel:
    """2,000 IMDb reviews trained, the next 500 held out: once per session (seconds)."""
    return corpus.train_imdb_model(tmp_path_factory.mktemp("imdb"), sqlite_template)


@pytest.fixture
def imdb_model(settings, sessions, imdb_training) -> int:
    """The session's IMDb model published as this test's current version; its version."""
    return corpus.publish(imdb_training, sessions, settings.model_dir)


@pytest.fixture
def app(settings, engine):
    from movieclassifier import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    # Close the app's pooled connections now; left to the garbage collector, psycopg warns.
    app.extensions["movieclassifier.engine"].dispose()


@pytest.fixture
def make_app(settings, engine):
    """Build apps with some settings changed (``make_app(max_batch=2)``); closed at the end."""
    from movieclassifier import create_app

    apps = []

    def make(**changes):
        app = create_app(dataclasses.replace(settings, **changes))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["movieclassifier.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's page tests; each test opens its own context."""
    from browser import chromium

    with chromium() as launched:
        yield launched
