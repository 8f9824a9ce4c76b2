"""`scripts/retrain.py --every` / `--clock`: a long-running clock process (the Procfile's)."""

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from loop_helpers import RETRAIN_SCRIPT, add_feedback
from movieclassifier import model_store
from movieclassifier.schema import RetrainRun
from servers import REPO_ROOT, settings_env, subprocess_env

pytestmark = pytest.mark.slow


def _statuses(sessions):
    with sessions() as session:
        return list(session.scalars(select(RetrainRun.status).order_by(RetrainRun.id)))


def _wait_for_runs(sessions, count, process, bound=90):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        statuses = _statuses(sessions)
        if len(statuses) >= count:
            return statuses
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} runs after {bound}s: {_statuses(sessions)}")


def _start(settings, *args, **env):
    return subprocess.Popen(
        [sys.executable, str(RETRAIN_SCRIPT), *args],
        cwd=REPO_ROOT,
        env=subprocess_env(settings_env(settings, **env)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process):
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return process.returncode, output


def test_clock_keeps_running_after_a_failed_run_and_stops_on_sigterm(
    settings, sessions, seed_model
):
    add_feedback(sessions, settings.model_dir, ["a fine film, I liked it a lot"])
    with sessions() as session:
        path = settings.model_dir / model_store.get_version(session, seed_model).filename
    # A damaged model file: every run fails its checksum check until it is repaired.
    good = path.read_bytes()
    path.write_bytes(good + b"damaged")
    process = _start(settings, "--clock", RETRAIN_EVERY="1s")
    try:
        statuses = _wait_for_runs(sessions, 2, process)
        assert statuses[:2] == ["failed", "failed"]
        path.write_bytes(good)
        statuses = _wait_for_runs(sessions, len(statuses) + 2, process)
    finally:
        returncode, output = _stop(process)
    assert "promoted" in statuses or "rejected" in statuses, statuses
    assert "nothing_to_learn" in statuses[statuses.index("failed") :], statuses
    assert returncode == 0, output
    assert "retrain run failed" in output


def test_every_overrides_the_interval_and_rejects_a_bad_one(settings, engine, seed_model):
    process = _start(settings, "--every", "soon")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--every" in output and '"soon"' in output
