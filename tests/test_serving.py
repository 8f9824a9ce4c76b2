"""The per-worker model cache: lazy load, cheap re-checks, reload on a new or older version."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event

from corpus import train_tiny_model
from movieclassifier import model_store
from movieclassifier.model_cache import ModelCache, NoServableModel
from movieclassifier.schema import PROMOTED


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def publish(settings, sessions, seed):
    model = train_tiny_model(seed)
    written = model_store.write(model, settings.model_dir)
    with sessions.begin() as session:
        return model_store.register(session, written, model, status=PROMOTED, source="test").version


@pytest.fixture
def statements(engine):
    """SQL statements sent through ``engine`` (transaction control left out)."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_no_model_is_unavailable_with_a_hint(settings, sessions):
    cache = ModelCache(settings.model_dir, 60)
    with sessions() as session, pytest.raises(NoServableModel, match="train_stream.py"):
        cache.get(session)


def test_loads_once_then_serves_from_memory(settings, sessions, seed_model, statements):
    clock = Clock()
    cache = ModelCache(settings.model_dir, 60, clock)
    with sessions() as session:
        first = cache.get(session)
        statements.clear()
        for _ in range(5):
            clock.now += 10
            assert cache.get(session) is first
    assert statements == []
    assert (cache.checks, cache.loads) == (1, 1)
    assert first.version == seed_model


def test_a_due_check_is_one_tiny_query(settings, sessions, seed_model, statements):
    clock = Clock()
    cache = ModelCache(settings.model_dir, 60, clock)
    with sessions() as session:
        model = cache.get(session)
        statements.clear()
        clock.now += 60
        assert cache.get(session) is model
    assert len(statements) == 1
    assert "current_model" in statements[0]
    assert cache.checks == 2 and cache.loads == 1


def test_reload_every_request_when_reload_seconds_is_zero(settings, sessions, seed_model):
    cache = ModelCache(settings.model_dir, 0, Clock())
    with sessions() as session:
        cache.get(session)
        cache.get(session)
        cache.get(session)
    assert (cache.checks, cache.loads) == (3, 1)


def test_new_version_is_picked_up_after_the_interval(settings, sessions, seed_model):
    clock = Clock()
    cache = ModelCache(settings.model_dir, 60, clock)
    with sessions() as session:
        assert cache.get(session).version == seed_model
    second = publish(settings, sessions, seed=1)
    with sessions() as session:
        clock.now += 59
        assert cache.get(session).version == seed_model
        clock.now += 1
        assert cache.get(session).version == second


def test_rollback_to_an_older_version_is_followed(settings, sessions, seed_model):
    cache = ModelCache(settings.model_dir, 0)
    second = publish(settings, sessions, seed=1)
    with sessions() as session:
        assert cache.get(session).version == second
    with sessions.begin() as session:
        model_store.set_current(session, seed_model)
    with sessions() as session:
        served = cache.get(session)
    assert served.version == seed_model
    reviews = ["great film", "awful film"]
    expected = [p.probability for p in train_tiny_model(0).predict(reviews)]
    assert [p.probability for p in served.predict(reviews)] == expected


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    settings, sessions, seed_model, caplog
):
    cache = ModelCache(settings.model_dir, 0)
    with sessions() as session:
        cache.get(session)
    second = publish(settings, sessions, seed=1)
    with sessions() as session:
        path = settings.model_dir / model_store.get_version(session, second).filename
    path.write_bytes(path.read_bytes() + b"corrupt")
    with caplog.at_level(logging.ERROR, logger="movieclassifier.serving"):
        with sessions() as session:
            assert cache.get(session).version == seed_model
    assert f"model version {second} cannot be loaded, still serving version {seed_model}" in (
        caplog.text
    )
    # Once the file is good again (here: fetched anew from the database), it is served.
    path.unlink()
    with sessions() as session:
        assert cache.get(session).version == second


def test_a_first_load_that_fails_is_unavailable(settings, sessions, seed_model):
    with sessions() as session:
        path = settings.model_dir / model_store.get_version(session, seed_model).filename
    path.write_bytes(b"not the registered bytes")
    cache = ModelCache(settings.model_dir, 0)
    with sessions() as session, pytest.raises(NoServableModel, match="cannot be loaded"):
        cache.get(session)


def test_a_failed_version_is_retried_only_after_the_interval(settings, sessions, seed_model):
    with sessions() as session:
        path = settings.model_dir / model_store.get_version(session, seed_model).filename
    path.write_bytes(b"not the registered bytes")
    clock = Clock()
    cache = ModelCache(settings.model_dir, 60, clock)
    with sessions() as session, pytest.raises(NoServableModel, match="cannot be loaded"):
        cache.get(session)
    # Repaired (it will be fetched from the database), but not re-read on every request.
    path.unlink()
    clock.now += 30
    with sessions() as session, pytest.raises(NoServableModel, match="see the log"):
        cache.get(session)
    clock.now += 30
    with sessions() as session:
        assert cache.get(session).version == seed_model
