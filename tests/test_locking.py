import json
import os
import signal
import subprocess
import sys
import time

import pytest

from loop_helpers import run_retrain
from movieclassifier import locking, retrain
from servers import REPO_ROOT

HOLDER = """
import sys, time
from movieclassifier import db, locking
engine = db.make_engine(sys.argv[1])
with locking.retrain_lock(engine):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_a_second_holder_is_told_busy(engine):
    with locking.retrain_lock(engine):
        with pytest.raises(locking.Busy, match="another retrain is running"):
            with locking.retrain_lock(engine):
                pass
    with locking.retrain_lock(engine):  # free again once released
        pass


def test_retrain_reports_busy_while_another_holds_the_lock(settings, sessions, engine, seed_model):
    with locking.retrain_lock(engine):
        report = retrain.retrain(engine, settings)
    assert report.status == "busy" and report.version is None


def test_an_in_memory_sqlite_database_has_no_lock_file():
    with pytest.raises(ValueError, match="in-memory"):
        locking.lock_path("sqlite://")


@pytest.mark.slow
def test_a_killed_holder_releases_the_lock(settings, engine):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, settings.database_url],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(locking.Busy):
            with locking.retrain_lock(engine):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # PostgreSQL drops a dead client's session (and its lock) when it sees the socket close.
    deadline = time.monotonic() + 60
    while True:
        try:
            with locking.retrain_lock(engine):
                break
        except locking.Busy:
            assert time.monotonic() < deadline, "the lock outlived its killed holder"
            time.sleep(0.2)


@pytest.mark.slow
def test_the_script_exits_busy_as_asked(settings, engine, seed_model):
    with locking.retrain_lock(engine):
        plain = run_retrain(settings, "--json")
        strict = run_retrain(settings, "--json", "--fail-if-busy")
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout.strip().splitlines()[-1])["status"] == "busy"
    assert strict.returncode == 75
    waited = run_retrain(settings, "--json", "--wait")
    assert json.loads(waited.stdout.strip().splitlines()[-1])["status"] == "nothing_to_learn"
