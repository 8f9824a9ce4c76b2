"""Migrations upgrade a database that holds rows without losing any, on both backends."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from movieclassifier import db
from movieclassifier.feedback import REFERENCE_PATTERN
from servers import subprocess_env

# Each test migrates its own database for real, from nothing.
pytestmark = pytest.mark.empty_database

HEAD = "0006"

VERSION_ROW = {
    "status": "promoted",
    "filename": "classifier-1.pkl",
    "sha256": "a" * 64,
    "size_bytes": 10,
    "sklearn_version": "1.9.1",
    "numpy_version": "2.4.6",
    "feature_params": "{}",
    "source": "csv",
    "source_detail": "movie_data.csv.gz",
    "samples_seen": 45000,
    "learned": 0,
    "holdout_rows": 5000,
}


def fill_revision_0001(engine):
    with engine.begin() as connection:
        columns = ", ".join(VERSION_ROW)
        values = ", ".join(f":{name}" for name in VERSION_ROW)
        connection.execute(
            text(f"INSERT INTO model_versions ({columns}) VALUES ({values})"), VERSION_ROW
        )
        connection.execute(text("INSERT INTO current_model (id, version) VALUES (1, 1)"))
        connection.execute(
            text("INSERT INTO model_blobs (version, data) VALUES (1, :data)"),
            {"data": b"0123456789"},
        )
        connection.execute(
            text(
                "INSERT INTO holdout_reviews (review, label) "
                "VALUES ('A fine film.', 1), ('Dull.', 0)"
            )
        )


def assert_rows_kept(engine):
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT version, sha256, samples_seen FROM model_versions")
        ).one()
        assert tuple(row) == (1, "a" * 64, 45000)
        assert connection.execute(text("SELECT version FROM current_model")).scalar_one() == 1
        assert (
            connection.execute(text("SELECT data FROM model_blobs")).scalar_one() == b"0123456789"
        )
        labels = connection.execute(text("SELECT label FROM holdout_reviews ORDER BY id")).scalars()
        assert list(labels) == [1, 0]
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert revision == HEAD
    assert {"predictions", "feedback", "retrain_runs"} <= set(inspect(engine).get_table_names())


@pytest.fixture
def old_engine(database_url):
    engine = db.make_engine(database_url)
    db.init_db(engine, "0001")
    assert "predictions" not in inspect(engine).get_table_names()
    fill_revision_0001(engine)
    yield engine
    engine.dispose()


def test_upgrade_keeps_rows(old_engine):
    db.init_db(old_engine)
    assert_rows_kept(old_engine)
    # Upgrading a current database again changes nothing.
    db.init_db(old_engine)
    assert_rows_kept(old_engine)


@pytest.mark.slow
def test_init_db_command_upgrades_a_database_with_rows(old_engine, database_url, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "movieclassifier", "init-db"],
        cwd=tmp_path,
        env=subprocess_env({"DATABASE_URL": database_url, "MODEL_DIR": str(tmp_path / "pkl")}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "database ready" in result.stdout
    assert_rows_kept(old_engine)


def fill_revision_0002(engine, predictions=3):
    """Predictions (with integer ids only) and an answer to the first, as 0002 stored them."""
    with engine.begin() as connection:
        for number in range(1, predictions + 1):
            connection.execute(
                text(
                    "INSERT INTO predictions (id, review, label, probability, model_version, "
                    "channel) VALUES (:id, :review, 'positive', 0.9, 1, 'web')"
                ),
                {"id": number, "review": f"Review number {number}, a fine film."},
            )
        connection.execute(
            text(
                "INSERT INTO feedback (prediction_id, correct, label, status) "
                "VALUES (1, false, 0, 'pending')"
            )
        )


@pytest.fixture
def engine_at_0002(database_url):
    engine = db.make_engine(database_url)
    db.init_db(engine, "0002")
    fill_revision_0001(engine)
    fill_revision_0002(engine)
    yield engine
    engine.dispose()


def test_0003_gives_every_old_prediction_a_fresh_reference(engine_at_0002):
    db.init_db(engine_at_0002)
    assert_rows_kept(engine_at_0002)
    with engine_at_0002.connect() as connection:
        rows = connection.execute(
            text("SELECT id, reference, source FROM predictions ORDER BY id")
        ).all()
        answer = connection.execute(
            text("SELECT prediction_id, correct, label, status, source FROM feedback")
        ).one()
    assert [row.id for row in rows] == [1, 2, 3]
    references = [row.reference for row in rows]
    assert all(REFERENCE_PATTERN.fullmatch(reference) for reference in references)
    assert len(set(references)) == 3
    # Nothing was known of who asked or answered before 0003.
    assert {row.source for row in rows} == {None}
    # The old answer is kept (rebuilding the table would have cascaded and deleted it).
    assert tuple(answer) == (1, False, 0, "pending", None)


def test_0003_makes_references_unique(engine_at_0002):
    db.init_db(engine_at_0002)
    indexes = inspect(engine_at_0002).get_indexes("predictions")
    [index] = [index for index in indexes if index["column_names"] == ["reference"]]
    assert index["unique"]
    with engine_at_0002.connect() as connection:
        taken = connection.execute(text("SELECT reference FROM predictions WHERE id = 1")).scalar()
    with pytest.raises(IntegrityError), engine_at_0002.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO predictions (review, label, probability, model_version, channel, "
                "reference) VALUES ('Copy of a film.', 'positive', 0.9, 1, 'api', :reference)"
            ),
            {"reference": taken},
        )


def test_0003_downgrades_without_losing_answers(engine_at_0002):
    from alembic import command

    db.init_db(engine_at_0002)

    config = db.alembic_config(engine_at_0002)
    with engine_at_0002.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    columns = {column["name"] for column in inspect(engine_at_0002).get_columns("predictions")}
    assert "reference" not in columns and "source" not in columns
    with engine_at_0002.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM predictions")).scalar() == 3
        assert connection.execute(text("SELECT prediction_id FROM feedback")).scalar() == 1


def test_0004_makes_the_stored_held_out_rows_set_1(engine_at_0002):
    db.init_db(engine_at_0002)
    with engine_at_0002.connect() as connection:
        sets = connection.execute(text("SELECT id, rows FROM holdout_sets")).all()
        members = connection.execute(text("SELECT DISTINCT set_id FROM holdout_reviews")).all()
        scored = connection.execute(text("SELECT holdout_set FROM model_versions")).scalar()
        answer = connection.execute(text("SELECT status, retracted_at FROM feedback")).one()
    assert [tuple(row) for row in sets] == [(1, 2)]
    assert [tuple(row) for row in members] == [(1,)]
    # The version that was scored on those rows says so.
    assert scored == 1
    assert tuple(answer) == ("pending", None)
    # A set added after the migration gets the next id, on PostgreSQL's sequence too.
    with engine_at_0002.begin() as connection:
        added = connection.execute(
            text("INSERT INTO holdout_sets (source_detail, rows) VALUES ('new', 0) RETURNING id")
        ).scalar()
    assert added == 2


def test_0004_downgrades_keeping_the_answers(engine_at_0002):
    from alembic import command

    db.init_db(engine_at_0002)
    config = db.alembic_config(engine_at_0002)
    with engine_at_0002.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    tables = set(inspect(engine_at_0002).get_table_names())
    assert "holdout_sets" not in tables and "removals" not in tables
    with engine_at_0002.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feedback")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM holdout_reviews")).scalar() == 2


def test_the_migrations_build_the_schema_the_code_declares(database_url):
    """Every table and column of ``schema.py`` is what the migrations create, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from movieclassifier.schema import Base

    engine = db.make_engine(database_url)
    try:
        db.init_db(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    if engine.dialect.name == "sqlite":
        # SQLite cannot make an added column NOT NULL (0003): reference is nullable there.
        differences = [d for d in differences if not _sqlite_reference_nullable(d)]
    assert differences == []


def _sqlite_reference_nullable(difference) -> bool:
    return (
        isinstance(difference, list)
        and difference[0][0] == "modify_nullable"
        and difference[0][2:4] == ("predictions", "reference")
    )
