"""What the commands write where, in real processes: results on stdout, logs on stderr, each
message once, a bad setting in one line, progress that suits a pipe (issue 18)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import databases
from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import RETRAIN_SCRIPT, add_feedback, write_csv
from movieclassifier import retrain
from servers import GUNICORN, REPO_ROOT, free_port, settings_env, subprocess_env

FLASK = [sys.executable, "-m", "flask", "--app", "movieclassifier"]
TRAIN_SCRIPT = REPO_ROOT / "scripts" / "train_stream.py"
HANDED_BACK = "handed back 2 feedback rows claimed by a run that died"


def run(command, env, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*map(str, command)],
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


RETRAIN_ENTRY_POINTS = {
    "retrain.py": [sys.executable, RETRAIN_SCRIPT],
    "flask retrain": [*FLASK, "retrain"],
}


@pytest.fixture
def died_run(settings, sessions, seed_model):
    """Four answers waiting, two of them claimed by a retrain that died (still "learning"):
    the next run hands those back and logs a warning that says so."""
    add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:4])
    retrain.claim(sessions, 2)
    return seed_model


@pytest.mark.slow
@pytest.mark.parametrize("entry", RETRAIN_ENTRY_POINTS)
def test_retrain_json_is_all_of_stdout_and_each_message_prints_once(settings, died_run, entry):
    result = run([*RETRAIN_ENTRY_POINTS[entry], "--json"], settings_env(settings))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # the whole of stdout: `retrain.py --json | jq .`
    assert report["status"] == "promoted" and report["learned"] == 4
    # The log (one handler, on stderr) says what was handed back once; the outcome is
    # printed once, next to the JSON, and not logged a second time.
    assert result.stderr.count(HANDED_BACK) == 1
    assert re.search(
        rf"^\S+ \S+ WARNING movieclassifier.retrain: {HANDED_BACK}$", result.stderr, re.M
    )
    assert result.stderr.count(report["message"]) == 1
    assert result.stderr.count("\n") == 2, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("entry", RETRAIN_ENTRY_POINTS)
def test_retrain_prints_its_outcome_on_stdout_once(settings, died_run, entry):
    result = run(RETRAIN_ENTRY_POINTS[entry], settings_env(settings))
    assert result.returncode == 0, result.stderr
    (outcome,) = result.stdout.splitlines()
    assert outcome.startswith(f"version {died_run + 1} promoted: learned 4 labels")
    assert outcome not in result.stderr
    assert result.stderr.count(HANDED_BACK) == 1 and "INFO" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_versions_json_is_all_of_stdout(settings, seed_model):
    result = run([*FLASK, "versions", "--json"], settings_env(settings, LOG_LEVEL="DEBUG"))
    assert result.returncode == 0, result.stderr
    assert [row["version"] for row in json.loads(result.stdout)] == [seed_model]


BAD_SETTINGS = [
    ({"RETRAIN_BATCH_SIZE": "abc"}, 'RETRAIN_BATCH_SIZE must be a positive integer, got "abc"'),
    (
        {"DATABASE_URL": "mysql://mc:secret@db.example.com/reviews"},
        'DATABASE_URL must be a sqlite:/// or postgres:// URL, got "mysql://mc:***@db.example.com',
    ),
    ({"LOG_LEVEL": "loud"}, 'LOG_LEVEL must be one of "DEBUG", "INFO", "WARNING", "ERROR"'),
    ({"APP_ENV": "production", "SECRET_KEY": ""}, 'SECRET_KEY must be set when APP_ENV is "prod'),
]
COMMANDS = {
    "flask versions": [*FLASK, "versions"],
    # Listing the commands builds the app too.
    "flask --help": [*FLASK, "--help"],
    "retrain.py": [sys.executable, RETRAIN_SCRIPT],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("bad", "message"), BAD_SETTINGS, ids=["batch-size", "database-url", "log-level", "secret-key"]
)
def test_a_refused_setting_is_one_line_naming_it_and_what_is_accepted(
    tmp_path, command, bad, message
):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reviews.sqlite'}",
        "MODEL_DIR": str(tmp_path / "pkl_objects"),
        **bad,
    }
    result = run(COMMANDS[command], env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {message}")
    assert result.stderr.count("\n") == 1, result.stderr
    assert ":secret@" not in result.stderr  # a URL's password is not repeated
    assert not (tmp_path / "reviews.sqlite").exists()  # refused before touching anything


@pytest.mark.slow
def test_the_web_server_refuses_a_bad_setting_loudly(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reviews.sqlite'}",
        "MODEL_DIR": str(tmp_path / "pkl_objects"),
        "RETRAIN_BATCH_SIZE": "abc",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
    }
    result = run([GUNICORN, "movieclassifier:create_app()"], env, timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" in output and "Worker failed to boot" in output
    assert 'ConfigError: RETRAIN_BATCH_SIZE must be a positive integer, got "abc"' in output


def cells(line: str) -> list[tuple[int, int]]:
    """Where each cell of a table line starts and ends (cells are 2+ spaces apart)."""
    return [match.span() for match in re.finditer(r"\S+(?: \S+)*", line)]


def test_versions_columns_stay_aligned_with_a_pruned_version(
    runner, monkeypatch, settings, engine, sessions, seed_model
):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    for reviews in (POSITIVE_REVIEWS[:3], NEGATIVE_REVIEWS[:3]):
        add_feedback(sessions, settings.model_dir, reviews)
        assert retrain.retrain(engine, settings).status == "promoted"
    pruned = runner.invoke(args=["prune", "--keep", "1"])
    assert pruned.exit_code == 0, pruned.output
    assert "pruned versions: 2;" in pruned.output  # 3 is current, 1 its base

    result = runner.invoke(args=["versions"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == ["*3", "2", "1"]
    assert "(pruned)" in lines[1] and "(pruned)" not in lines[0] + lines[2]
    columns = cells(header)
    learned = header.split().index("learned")
    for line in lines:
        row = cells(line)
        assert len(row) == len(columns), line
        for index, ((start, end), (column_start, column_end)) in enumerate(
            zip(row, columns, strict=True)
        ):
            if index == learned:  # numbers line up on the right
                assert end == column_end, (line, header)
            else:
                assert start == column_start + (index == 0 and line[0] == " "), (line, header)


@pytest.fixture
def missing_postgresql_database(postgresql_available):
    """The URL of a database the local PostgreSQL server does not have; dropped afterwards."""
    if not postgresql_available:
        databases.unavailable(f"PostgreSQL not reachable at {databases.POSTGRESQL_ADMIN_URL}")
    url = make_url(databases.POSTGRESQL_ADMIN_URL).set(
        database=f"mc_initdb_{uuid.uuid4().hex[:12]}"
    )
    yield url
    databases.drop_postgresql_database(url.render_as_string(hide_password=False))


@pytest.mark.slow
def test_init_db_creates_a_missing_postgresql_database(tmp_path, missing_postgresql_database):
    url = missing_postgresql_database
    env = {
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "MODEL_DIR": str(tmp_path / "pkl_objects"),
    }
    first = run([*FLASK, "init-db"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"created database {url.database}",
        f"database ready: {url.render_as_string(hide_password=True)}",
    ]
    engine = create_engine(url)
    try:
        assert {"model_versions", "feedback"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    again = run([*FLASK, "init-db"], env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("database ready: ")


@pytest.fixture
def role_without_createdb(postgresql_available):
    """A PostgreSQL role that may log in but not create databases; dropped afterwards."""
    if not postgresql_available:
        databases.unavailable(f"PostgreSQL not reachable at {databases.POSTGRESQL_ADMIN_URL}")
    name = f"mc_nocreatedb_{uuid.uuid4().hex[:8]}"
    admin = create_engine(databases.POSTGRESQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{name}" LOGIN NOCREATEDB'))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.mark.slow
def test_init_db_says_createdb_when_it_may_not_create_the_database(
    tmp_path, missing_postgresql_database, role_without_createdb
):
    url = missing_postgresql_database.set(username=role_without_createdb, password=None)
    env = {
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "MODEL_DIR": str(tmp_path / "pkl_objects"),
    }
    result = run([*FLASK, "init-db"], env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: the database {url.database} does not exist")
    assert f'create it with "createdb {url.database}"' in result.stderr


@pytest.fixture
def small_csv(tmp_path):
    rows = [(review, 1) for review in POSITIVE_REVIEWS] + [(r, 0) for r in NEGATIVE_REVIEWS]
    return write_csv(tmp_path / "reviews.csv", rows)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_training_into_a_pipe_prints_a_line_per_epoch(settings, small_csv):
    # An explicit batch size: a 20-row file would otherwise add the small-file warning line.
    command = [sys.executable, TRAIN_SCRIPT, small_csv, "--epochs", "3", "--workers", "0"]
    command += ["--batch-size", "5"]
    result = run(command, settings_env(settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published version 1: 20 rows trained")
    assert "\r" not in result.stderr and "Item ID" not in result.stderr
    assert re.findall(r"^training: epoch (\d)/3 done after ", result.stderr, re.M) == [
        "1",
        "2",
        "3",
    ]
    assert result.stderr.count("\n") == 3, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_training_on_a_terminal_draws_one_bar(settings, small_csv):
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, TRAIN_SCRIPT, small_csv, "--epochs", "2", "--workers", "0"],
        env=subprocess_env(settings_env(settings)),
        stdout=subprocess.PIPE,
        stderr=secondary,
        cwd=REPO_ROOT,
    )
    os.close(secondary)
    drawn = b""
    try:
        while chunk := _read_available(primary):
            drawn += chunk
        assert process.wait(timeout=120) == 0
    finally:
        os.close(primary)
        if process.stdout:
            process.stdout.close()
    screen = drawn.decode()
    assert "\r" in screen and "100%" in screen and "Total time elapsed" in screen
    assert "Item ID" not in screen and "epoch" not in screen


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the process closed its end and everything was read
        return b""
