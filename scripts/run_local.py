#!/usr/bin/env python
"""``make run``'s supervisor: the web server and the retrain clock together, stopped together.

Each child runs in its own process group. SIGINT (Ctrl-C) or SIGTERM is passed on to both
as SIGTERM (gunicorn finishes its requests, the clock its current run); whatever is left
of either group after ``STOP_SECONDS`` is killed. A second Ctrl-C kills at once. When one
child exits by itself, the other is stopped and this exits 1.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SECONDS = 40  # gunicorn's graceful timeout (30 s) plus a margin
READY_SECONDS = 120
PR_SET_PDEATHSIG = 1

received: list[int] = []


def on_signal(signum: int, _frame: object) -> None:
    received.append(signum)


def die_with_parent() -> None:
    """In the child: get SIGTERM if this supervisor dies without stopping it (kill -9)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's own cleanup still runs
        pass


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, process_group=0, preexec_fn=die_with_parent
    )


def browser_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each group, wait, then SIGKILL what remains (a second Ctrl-C: at once)."""
    handled = len(received)
    for child in children.values():
        signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and len(received) <= handled:
        if not any(group_alive(child.pid) for child in children.values()):
            break
        for child in children.values():
            child.poll()
        time.sleep(0.1)
    for name, child in children.items():
        if group_alive(child.pid):
            print(f"run_local: killing what is left of the {name}", file=sys.stderr, flush=True)
            signal_group(child.pid, signal.SIGKILL)
        child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", default=os.environ.get("PORT", "5000"))
    parser.add_argument(
        "--every", default=os.environ.get("RETRAIN_EVERY", "10m"), help="RETRAIN_EVERY"
    )
    args = parser.parse_args()
    env = dict(os.environ, HOST=args.host, PORT=str(args.port), RETRAIN_EVERY=args.every)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    children = {
        "web server": start([str(BIN / "gunicorn"), "movieclassifier:create_app()"], env),
        "retrain clock": start(
            [sys.executable, str(REPO_ROOT / "scripts" / "retrain.py"), "--clock"], env
        ),
    }
    web, clock = children.values()
    print(
        f"run_local: web server pid {web.pid}, retrain clock pid {clock.pid} "
        f"(one retrain every {args.every}); Ctrl-C stops both",
        file=sys.stderr,
        flush=True,
    )
    base = f"http://{browser_host(args.host)}:{args.port}"
    ready_by = time.monotonic() + READY_SECONDS
    announced = False
    exited = None
    while not received and exited is None:
        exited = next((name for name, c in children.items() if c.poll() is not None), None)
        if not announced and time.monotonic() < ready_by and answers(f"{base}/healthz"):
            print(
                f"open {base}/ (the form), {base}/dashboard, "
                f"the API document {base}/api/v1/openapi.json",
                flush=True,
            )
            announced = True
        time.sleep(0.2)
    if exited is not None:
        print(f"run_local: the {exited} exited; stopping the other", file=sys.stderr, flush=True)
    stop(children)
    print("run_local: stopped", file=sys.stderr, flush=True)
    return 1 if exited is not None else 0


if __name__ == "__main__":
    sys.exit(main())
