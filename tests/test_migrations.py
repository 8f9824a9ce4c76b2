"""Migrations upgrade a database that holds rows without losing any, on both backends."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from movieclassifier import db
from servers import subprocess_env

# Each test migrates its own database for real, from nothing.
pytestmark = pytest.mark.empty_database

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
    assert revision == "0002"
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
