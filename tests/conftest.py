"""Shared fixtures: settings on a real SQLite file or a real PostgreSQL database per test.

PostgreSQL tests run wherever ``TEST_POSTGRESQL_URL`` (default: this machine's server)
answers; with ``REQUIRE_ALL_BACKENDS=1`` (set by CI) any skipped test fails the run.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from movieclassifier import db, model_store
from movieclassifier.config import Settings
from movieclassifier.model import SentimentModel, new_classifier
from movieclassifier.schema import PROMOTED

POSTGRESQL_ADMIN_URL = os.environ.get(
    "TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_ALL = os.environ.get("REQUIRE_ALL_BACKENDS") == "1"

POSITIVE_REVIEWS = [
    "A wonderful, moving film with brilliant acting and a great story.",
    "I loved every minute of it; the cast is superb and the ending is perfect.",
    "An excellent movie, funny and warm. Highly recommended!",
    "Beautiful photography, a great score and a touching performance.",
    "One of the best films of the year, a delight from start to finish.",
    "Brilliant direction and a fantastic script, I would watch it again.",
    "Great fun, wonderful characters and a lovely, happy ending.",
    "A masterpiece: smart, gripping and superbly acted.",
    "The acting is excellent and the story is great. Loved it.",
    "Charming, clever and beautifully made. A joy to watch.",
]
NEGATIVE_REVIEWS = [
    "A terrible, boring film with awful acting and a stupid plot.",
    "I hated it; the worst movie I have seen, a complete waste of time.",
    "Dull, badly written and poorly acted. Avoid this mess.",
    "The story is awful and the dialogue is horrible. Boring.",
    "A bad movie with a terrible script and no redeeming qualities.",
    "Worst acting ever, the plot makes no sense. Awful.",
    "Painfully boring, a waste of money and a waste of time.",
    "Stupid, ugly and badly directed. I walked out.",
    "The film is a disaster: bad acting, bad writing, bad everything.",
    "Horrible and dull; I was bored from start to finish.",
]


def pytest_collection_modifyitems(config, items):
    # Tests that start processes or browsers carry the slow marker; run them last so the
    # fast tests give their answer first.
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if REQUIRE_ALL and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nREQUIRE_ALL_BACKENDS=1 and {len(_skipped)} tests were skipped: {_skipped[:10]}")


def _postgresql_available() -> bool:
    try:
        engine = create_engine(POSTGRESQL_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


@pytest.fixture(scope="session")
def postgresql_available() -> bool:
    return _postgresql_available()


def create_postgresql_database() -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    name = f"mc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRESQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRESQL_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgresql_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(POSTGRESQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgresql_available):
    """A fresh database of each backend: a SQLite file in tmp_path, or a new PostgreSQL db."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reviews.sqlite'}"
        return
    if not postgresql_available:
        message = f"PostgreSQL not reachable at {POSTGRESQL_ADMIN_URL}"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    url = create_postgresql_database()
    yield url
    drop_postgresql_database(url)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        database_url=database_url,
        model_dir=tmp_path / "pkl_objects",
        app_env="testing",
        secret_key="test-secret",
        model_reload_seconds=0,
        ratelimit_enabled=False,
    )


@pytest.fixture
def engine(settings):
    engine = db.make_engine(settings.database_url)
    db.init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return db.make_session_factory(engine)


@pytest.fixture
def session(sessions):
    with sessions() as session:
        yield session


def train_tiny_model(seed: int = 0) -> SentimentModel:
    """A small model trained on the handwritten reviews above, deterministic."""
    model = SentimentModel(new_classifier(seed))
    texts = POSITIVE_REVIEWS + NEGATIVE_REVIEWS
    labels = [1] * len(POSITIVE_REVIEWS) + [0] * len(NEGATIVE_REVIEWS)
    for _ in range(5):
        model.learn(texts, labels)
    return model


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """The tiny model pickled once per session, copied into each test's store."""
    import pickle

    path = tmp_path_factory.mktemp("tiny") / "tiny.pkl"
    path.write_bytes(pickle.dumps(train_tiny_model()))
    return path


@pytest.fixture
def tiny_model(tiny_model_file) -> SentimentModel:
    import pickle

    return pickle.loads(tiny_model_file.read_bytes())


@pytest.fixture
def seed_model(settings, sessions, tiny_model):
    """Publish the tiny model as version 1 of this test's store; returns its version."""
    written = model_store.write(tiny_model, settings.model_dir)
    with sessions.begin() as session:
        row = model_store.register(session, written, tiny_model, status=PROMOTED, source="test")
        version = row.version
    return version


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
    import dataclasses

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
