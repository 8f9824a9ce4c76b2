"""`make run` runs the loop: the web server and the retrain clock, and Ctrl-C stops both.

A real ``make run`` in the checkout, in its own session like a terminal's foreground job,
on a database, model directory and small training CSV under tmp_path. Ctrl-C is a SIGINT
to the whole process group, as a terminal sends it.
"""

import csv
import os
import random
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

import corpus
from servers import REPO_ROOT, free_port

pytestmark = pytest.mark.slow

READY_SECONDS = 240  # make may first (re)install the package, which builds the C extension
STOP_SECONDS = 60
# Variables a parent make (`make test`) or a virtualenv would hand down.
INHERITED = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "VIRTUAL_ENV", "PYTHONPATH")


def _training_csv(path: Path) -> Path:
    rows = [(text, 1) for text in corpus.POSITIVE_REVIEWS]
    rows += [(text, 0) for text in corpus.NEGATIVE_REVIEWS]
    random.Random(0).shuffle(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(rows)
    return path


def _processes_with(marker: str) -> dict[int, str]:
    """Every live process whose environment holds ``marker``: the whole run, children too."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = next(
                line for line in (entry / "status").read_text().splitlines() if line[:6] == "State:"
            )
        except (OSError, StopIteration):  # it exited while we looked
            continue
        if marker.encode() in environ and "zombie" not in state:
            found[int(entry.name)] = cmdline
    return found


def _wait_until(condition, bound, what, output_path):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} after {bound}s:\n{output_path.read_text()[-4000:]}")


def _wait(process, bound):
    try:
        process.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False
    return True


def _healthy(url):
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


def _make_run(tmp_path, port):
    """Start ``make run`` on tmp_path's database; (the process, its log, the database URL)."""
    database_url = f"sqlite:///{tmp_path / 'reviews.sqlite'}"
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env.update(
        DATABASE_URL=database_url,
        MODEL_DIR=str(tmp_path / "models"),
        TMPDIR=str(tmp_path),  # gunicorn's metrics directory goes here, and must go away
        APP_ENV="development",
    )
    csv_path = _training_csv(tmp_path / "train.csv")
    output_path = tmp_path / "make-run.log"
    command = [
        "make",
        "--no-print-directory",
        "run",
        "HOST=127.0.0.1",
        f"PORT={port}",
        f"TRAIN_CSV={csv_path}",
        "TRAIN_HOLDOUT=4",
    ]
    with output_path.open("wb") as output:
        make = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return make, output_path, database_url


def test_make_run_serves_and_runs_the_clock_until_ctrl_c(tmp_path):
    port = free_port()
    make, output_path, database_url = _make_run(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _healthy(url), READY_SECONDS, "no /healthz", output_path)
        log = output_path.read_text()
        _wait_until(
            lambda: "open " in output_path.read_text(), 30, "no line saying where", output_path
        )
        where = re.search(r"^open (\S+)/ .*$", output_path.read_text(), re.MULTILINE)
        assert where and where.group(1) == url, output_path.read_text()
        assert f"{url}/dashboard" in where.group(0)
        assert f"{url}/api/v1/openapi.json" in where.group(0)
        for path in ("/dashboard", "/api/v1/openapi.json"):
            assert requests.get(url + path, timeout=10).status_code == 200, path

        pids = re.search(r"web server pid (\d+), retrain clock pid (\d+)", log)
        assert pids, log
        web_pid, clock_pid = int(pids.group(1)), int(pids.group(2))
        clock_cmdline = Path(f"/proc/{clock_pid}/cmdline").read_bytes().split(b"\0")
        assert clock_cmdline[1:3] == [str(REPO_ROOT / "scripts/retrain.py").encode(), b"--clock"]
        assert b"gunicorn" in Path(f"/proc/{web_pid}/cmdline").read_bytes()
        # The model make run trained is served, and the clock has made its first run.
        answer = requests.post(f"{url}/api/v1/predict", json={"review": "A wonderful film."})
        assert answer.status_code == 200 and answer.json()["model_version"] == 1
        _wait_until(
            lambda: "nothing to learn" in output_path.read_text(), 60, "no clock run", output_path
        )
        running = _processes_with(database_url)
        assert web_pid in running and clock_pid in running, running
        assert len(running) >= 5, running  # make, the supervisor, gunicorn + 2 workers, clock
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
        stopped = _wait(make, STOP_SECONDS)
        left = _processes_with(database_url)
        for pid in left:  # never leave a server behind, whatever failed above
            os.kill(pid, signal.SIGKILL)
    output = output_path.read_text()
    assert stopped, f"make still running {STOP_SECONDS}s after Ctrl-C:\n{output[-3000:]}"
    assert not left, f"left behind after Ctrl-C: {left}\n{output[-3000:]}"
    assert "run_local: stopped" in output
    assert "killing what is left" not in output  # both stopped on SIGTERM, in time
    assert not list(tmp_path.glob("movieclassifier-metrics-*")), "metrics directory left"


def test_make_run_stops_the_clock_and_fails_when_the_server_cannot_start(tmp_path):
    with socket.socket() as taken:  # someone else already listens on the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        make, output_path, database_url = _make_run(tmp_path, taken.getsockname()[1])
        stopped = _wait(make, READY_SECONDS)
    left = _processes_with(database_url)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    output = output_path.read_text()
    assert stopped, f"make run still running with its port taken:\n{output[-3000:]}"
    assert make.returncode != 0, output[-3000:]
    assert "run_local: the web server exited; stopping the other" in output
    assert "retrain clock: stopped" in output
    assert not left, f"left behind: {left}"
