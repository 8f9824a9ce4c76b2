"""Real gunicorn processes for the tests that are about processes (reload, concurrency).

Each server binds a free loopback port, logs to a file under the test's tmp_path, and is
stopped (SIGTERM, then SIGKILL) when the ``with`` block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_env(settings, **extra: str) -> dict[str, str]:
    """Environment variables that make a subprocess use the same ``Settings``."""
    env = {
        "DATABASE_URL": settings.database_url,
        "MODEL_DIR": str(settings.model_dir),
        "APP_ENV": settings.app_env,
        "SECRET_KEY": settings.secret_key,
        "MODEL_RELOAD_SECONDS": str(settings.model_reload_seconds),
        "RATELIMIT_ENABLED": str(settings.ratelimit_enabled).lower(),
        "GATE_MAX_DROP": str(settings.gate_max_drop),
        "GATE_FEEDBACK_SLICE": str(settings.gate_feedback_slice),
    }
    env.update(extra)
    return env


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MODEL_DIR")}
    full.update(env)
    return full


@contextmanager
def gunicorn_server(
    env: Mapping[str, str],
    log_path: Path,
    workers: int = 2,
    app: str = "movieclassifier:create_app()",
    ready_timeout: float = 60.0,
) -> Iterator[str]:
    """Run gunicorn with ``env``; yields its base URL once ``/healthz`` answers."""
    port = free_port()
    full_env = subprocess_env(env)
    full_env.update({"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(GUNICORN), app],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base_url, ready_timeout, log_path)
        yield base_url
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen, base_url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # workers still booting
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def raw_request(url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as it is (no client library fixes it up); the status and body.

    The write side is shut after sending, so a body shorter than its length ends there;
    sync workers close the connection after answering.
    """
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
