"""gunicorn settings, read from the environment (gunicorn loads ./gunicorn.conf.py itself).

WEB_CONCURRENCY is gunicorn's and Heroku's name for the worker count. Each worker is told
the real count in it (``pre_fork``), which the rate limits use.

Metrics: prometheus-client's multiprocess mode keeps each worker's counters in files under
PROMETHEUS_MULTIPROC_DIR, so /metrics covers every worker. When the variable is unset, a
fresh temporary directory is used (and removed on exit). The directory is emptied when the
server starts, so two servers must not share one. A directory left by a server killed
with ``kill -9`` (no ``on_exit``) is removed when the next one starts.
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "false").lower() in ("1", "true") else None
errorlog = "-"
# gunicorn's control socket defaults to one path per user, which several servers on one
# machine (tests, two apps) would fight over: off unless a path is given.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Set before any worker imports prometheus_client, which reads it once at import; workers
# inherit the environment of this (master) process.
METRICS_PREFIX = "movieclassifier-metrics-"
MASTER_PID_FILE = "master.pid"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_PREFIX)
    os.environ["MOVIECLASSIFIER_METRICS_TMPDIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    """Start counting from zero: files left by an earlier run would be summed in."""
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    if os.environ.get("MOVIECLASSIFIER_METRICS_TMPDIR") == str(path):
        (path / MASTER_PID_FILE).write_text(str(os.getpid()))
        remove_orphaned_metrics_dirs(path.parent, keep=path)
    server.log.info("prometheus multiprocess directory: %s", path)


def remove_orphaned_metrics_dirs(parent, keep):
    """Remove the directories this file made for servers that died without ``on_exit``
    (``kill -9``): those whose master, named in their ``master.pid``, is gone."""
    for path in parent.glob(f"{METRICS_PREFIX}*"):
        try:
            pid = int((path / MASTER_PID_FILE).read_text())
        except (OSError, ValueError):  # not ours, or its server is still starting
            continue
        if path != keep and not process_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def pre_fork(server, worker):
    """Tell each new worker the real worker count (``-w`` or ``WEB_CONCURRENCY``, and after
    TTIN/TTOU): with memory:// rate limits each worker enforces its share of the stated
    figure (movieclassifier/web/limits.py)."""
    os.environ["WEB_CONCURRENCY"] = str(server.num_workers)


def child_exit(server, worker):
    """Drop a dead worker's live gauges (its counters stay: totals must not go down)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the temporary directory this configuration made (never one it was given)."""
    made = os.environ.get("MOVIECLASSIFIER_METRICS_TMPDIR")
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
