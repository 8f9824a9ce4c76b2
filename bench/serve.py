#!/usr/bin/env python
"""Serving benchmark: the predict API under gunicorn against a bare Flask endpoint.

Side by side in one run, on loopback, bounded in time (``--seconds`` per measurement):

* requests/s and p50/p99 latency of ``POST /api/v1/predict`` with one typical review, at
  1, 8 and 32 concurrent clients (``wrk``), against a bare Flask endpoint returning fixed
  JSON under the same gunicorn configuration (2 workers); target ratio >= 0.8;
* docs/s of ``{"reviews": [100 reviews]}`` against in-process ``model.predict``; target
  >= 0.7;
* what ``"track": true`` (storing each prediction) costs;
* what ``"explain": true`` costs: requests/s with and without it, interleaved, and
  in-process ``explaining.explain`` against ``model.predict`` (target: explaining one
  review costs at most 2x predicting it).

Without ``--database-url`` it trains a model into a temporary directory first
(``scripts/train_stream.py data/movie_data.csv.gz --holdout 5000``). Rate limits are off.
Writes ``bench/results/serve.md``.

    PYTHONPATH=tests .venv/bin/python bench/serve.py [--seconds 5] \
        [--database-url URL --model-dir DIR] [--postgresql ADMIN_URL]

``PYTHONPATH=tests``: it starts gunicorn with the test suite's helpers (``servers``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "data" / "movie_data.csv.gz"
RESULTS = REPO_ROOT / "bench" / "results" / "serve.md"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CONCURRENCY = (1, 8, 32)
TYPICAL_CHARS = 1393  # the review length of the reference figure in the issue


def bare_app():  # type: ignore[no-untyped-def]
    """The baseline: a Flask app whose predict endpoint returns a fixed JSON body."""
    from flask import Flask, jsonify

    app = Flask("bare")
    body = {
        "ok": True,
        "model_version": 1,
        "predictions": [{"label": "positive", "probability": 0.93, "prediction_id": None}],
    }

    @app.post("/api/v1/predict")
    def predict():  # type: ignore[no-untyped-def]
        return jsonify(body)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify({"ok": True})

    return app


def load_reviews() -> tuple[str, list[str]]:
    """One review of typical length, and 100 reviews from the book's test rows."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        rows = [row["review"] for row in csv.DictReader(handle)]
    test_rows = rows[45000:]
    typical = min(test_rows[:2000], key=lambda r: abs(len(r) - TYPICAL_CHARS))
    return typical, test_rows[:100]


def train(env: dict[str, str], log: Path) -> None:
    command = [
        sys.executable,
        str(REPO_ROOT / "scripts" / "train_stream.py"),
        str(DATA),
        "--holdout",
        "5000",
        "--quiet",
    ]
    print("training a model:", " ".join(command[1:]), flush=True)
    with open(log, "ab") as out:
        subprocess.run(command, env=env, check=True, stdout=out, stderr=subprocess.STDOUT)


def wrk(url: str, body: dict, clients: int, seconds: int, tmp: Path) -> dict[str, float]:
    """requests/s, p50 and p99 (ms) of POSTing ``body`` to ``url`` for ``seconds``."""
    script = tmp / f"post-{abs(hash(json.dumps(body))) % 10**8}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    command = [WRK, "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw error answers:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return {"rps": rps, "p50": _percentile(output, "50"), "p99": _percentile(output, "99")}


def gunicorn_workers(url: str) -> list[int]:
    """PIDs of the workers of the gunicorn serving ``url``: processes whose environment has
    its PORT and whose parent (the master) has it too (Linux /proc)."""
    port = f"PORT={urlsplit(url).port}".encode()

    def serves(pid: str) -> bool:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            return port in environ and b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            return False

    def parent(pid: str) -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            return "0"

    pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    return [int(pid) for pid in pids if serves(pid) and serves(parent(pid))]


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def wrk_with_cpu(url: str, body: dict, clients: int, seconds: int, tmp: Path) -> dict[str, float]:
    """``wrk``, plus the workers' CPU time per request (µs) over the run."""
    workers = gunicorn_workers(url)
    before = cpu_seconds(workers)
    run = wrk(url, body, clients, seconds, tmp)
    run["cpu_us"] = (cpu_seconds(workers) - before) / (run["rps"] * seconds) * 1e6
    return run


def _percentile(output: str, which: str) -> float:
    value, unit = re.search(rf"\s{which}%\s+([\d.]+)(us|ms|s)\b", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_model(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The current model of the benchmark's database, loaded in this process."""
    os.environ.update({"DATABASE_URL": env["DATABASE_URL"], "MODEL_DIR": env["MODEL_DIR"]})
    from movieclassifier import db, model_store
    from movieclassifier.config import Settings

    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    with db.make_session_factory(engine)() as session:
        model = model_store.load_current(session, settings.model_dir)
    engine.dispose()
    return model


def in_process_rate(model, texts: list[str], seconds: float) -> float:  # type: ignore[no-untyped-def]
    """docs/s of ``model.predict(texts)`` called in a loop in this process (one core)."""
    model.predict(texts)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.predict(texts)
        done += len(texts)
    return done / (time.perf_counter() - started)


def in_process_explain_rate(model, text: str, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Reviews/s of ``explaining.explain(model, text)`` in a loop in this process."""
    from movieclassifier import explaining

    explaining.explain(model, text)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        explaining.explain(model, text)
        done += 1
    return done / (time.perf_counter() - started)


def copy_to_postgresql(model, env: dict[str, str], admin_url: str, tmp: Path) -> dict:  # type: ignore[no-untyped-def]
    """A fresh PostgreSQL database holding the same model as version 1 (no second training)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from movieclassifier import db, model_store
    from movieclassifier.schema import PROMOTED

    name = f"bench_serve_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = db.make_engine(url)
    db.init_db(engine)
    model_dir = tmp / "pg_pkl_objects"
    written = model_store.write(model, model_dir)
    with db.make_session_factory(engine).begin() as session:
        model_store.register(session, written, model, status=PROMOTED, source="bench")
    engine.dispose()
    _created_databases.append((admin_url, name))
    return {**env, "DATABASE_URL": url, "MODEL_DIR": str(model_dir)}


_created_databases: list[tuple[str, str]] = []


def drop_created_databases() -> None:
    from sqlalchemy import create_engine, text

    for admin_url, name in _created_databases:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _keep_best(runs: dict, key: tuple, run: dict[str, float]) -> None:
    if key not in runs or run["rps"] > runs[key]["rps"]:
        runs[key] = run


def serve(stack: ExitStack, app: str, env: dict[str, str], log: Path) -> str:
    from servers import gunicorn_server

    return stack.enter_context(gunicorn_server(env, log, workers=2, app=app))


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    env = {
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'reviews.sqlite'}",
        "MODEL_DIR": args.model_dir or str(tmp / "pkl_objects"),
        "RATELIMIT_ENABLED": "false",
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
    }
    child_env = {**os.environ, **env}
    if not args.database_url:
        train(child_env, tmp / "train.log")
    typical, batch = load_reviews()
    seconds = args.seconds
    results: dict = {
        "typical_chars": len(typical),
        "seconds": seconds,
        "rounds": args.rounds,
        "runs": {},
    }
    model = load_model(env)
    inproc = results["in_process"] = {"single": 0.0, "batch": 0.0}
    single = {"review": typical}
    tracked = {"review": typical, "track": True}
    runs = results["runs"]
    with ExitStack() as stack:
        # Both servers up at once and their runs interleaved, so that load from elsewhere
        # on the machine hits both alike; the better of ``--rounds`` runs is kept.
        bare = serve(stack, "bench.serve:bare_app()", env, tmp / "bare.log") + "/api/v1/predict"
        url = serve(stack, "movieclassifier:create_app()", env, tmp / "app.log") + "/api/v1/predict"
        wrk(url, single, 2, 1, tmp)  # warm up: both workers load the model
        for clients in CONCURRENCY:
            for _ in range(args.rounds):
                rate = in_process_rate(model, [typical], min(seconds, 2))
                inproc["single"] = max(inproc["single"], rate)
                for name, target in (("bare", bare), ("predict", url)):
                    run = wrk_with_cpu(target, single, clients, seconds, tmp)
                    _keep_best(runs, (name, clients), run)
        for clients in (1, 2):
            for _ in range(args.rounds):
                # In-process and over HTTP back to back, so both see the same machine load.
                inproc["batch"] = max(
                    inproc["batch"], in_process_rate(model, batch, min(seconds, 3))
                )
                _keep_best(
                    runs, ("batch", clients), wrk(url, {"reviews": batch}, clients, seconds, tmp)
                )
        for clients in (1, 8):
            for _ in range(args.rounds):
                _keep_best(runs, ("track", clients), wrk(url, tracked, clients, seconds, tmp))
        explained = {"review": typical, "explain": True}
        inproc["explain"] = inproc["predict_again"] = 0.0
        for clients in (1, 8):
            for _ in range(args.rounds):
                # Predict and explain back to back, in the process and over HTTP.
                inproc["predict_again"] = max(
                    inproc["predict_again"], in_process_rate(model, [typical], min(seconds, 2))
                )
                inproc["explain"] = max(
                    inproc["explain"], in_process_explain_rate(model, typical, min(seconds, 2))
                )
                _keep_best(runs, ("plain", clients), wrk(url, single, clients, seconds, tmp))
                _keep_best(runs, ("explain", clients), wrk(url, explained, clients, seconds, tmp))
        if args.postgresql:
            pg_env = copy_to_postgresql(model, env, args.postgresql, tmp)
            pg_url = serve(stack, "movieclassifier:create_app()", pg_env, tmp / "pg.log")
            pg_url += "/api/v1/predict"
            wrk(pg_url, single, 2, 1, tmp)
            for clients in (1, 8):
                for _ in range(args.rounds):
                    _keep_best(
                        runs, ("pg-predict", clients), wrk(pg_url, single, clients, seconds, tmp)
                    )
                    _keep_best(
                        runs, ("pg-track", clients), wrk(pg_url, tracked, clients, seconds, tmp)
                    )
            results["postgresql"] = True
    results["backend"] = env["DATABASE_URL"].split(":", 1)[0]
    return results


def report(results: dict, command: str) -> str:
    runs, inproc = results["runs"], results["in_process"]
    lines = [
        "# Serving benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"gunicorn, 2 sync workers (gunicorn.conf.py), loopback, `wrk -t1`, best of "
        f"{results['rounds']} interleaved runs of {results['seconds']} s per row; "
        f"one review of {results['typical_chars']} characters; rate limits off; "
        f"database {results['backend']}; MODEL_RELOAD_SECONDS=60 (the default). "
        "2-core machine shared with other work: compare ratios, not absolute figures.",
        "",
        "## Single review: predict API against a bare Flask endpoint (fixed JSON)",
        "",
        "| clients | bare req/s | bare p50 / p99 ms | predict req/s | predict p50 / p99 ms "
        "| ratio | worker CPU per request, bare / predict |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients in CONCURRENCY:
        bare, api = runs[("bare", clients)], runs[("predict", clients)]
        lines.append(
            f"| {clients} | {bare['rps']:,.0f} | {bare['p50']:.2f} / {bare['p99']:.2f} | "
            f"{api['rps']:,.0f} | {api['p50']:.2f} / {api['p99']:.2f} | "
            f"**{api['rps'] / bare['rps']:.2f}** | {bare['cpu_us']:.0f} / {api['cpu_us']:.0f} µs |"
        )
    lines += [
        "",
        "Worker CPU per request: `utime + stime` of both gunicorn workers (`/proc`) over the "
        "kept run, divided by the requests it served.",
        "",
        f"In-process `model.predict([review])`: {inproc['single']:,.0f} calls/s on one core "
        "(best of the runs made between the rows above).",
        "",
        '## Batch: `{"reviews": [100 reviews]}`',
        "",
        f"In-process `model.predict(100 reviews)`: **{inproc['batch']:,.0f} docs/s** (one core; "
        "best of the runs made right before each HTTP run).",
        "",
        "| clients | requests/s | docs/s | p50 / p99 ms | ratio to in-process |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients in (1, 2):
        run = runs[("batch", clients)]
        docs = run["rps"] * 100
        lines.append(
            f"| {clients} | {run['rps']:,.1f} | {docs:,.0f} | {run['p50']:.1f} / {run['p99']:.1f} "
            f"| **{docs / inproc['batch']:.2f}** |"
        )
    lines += [
        "",
        "One client is the like-for-like figure (one request at a time, one core busy "
        "predicting); two clients let both workers work.",
        "",
        '## What `"track": true` costs (one review, stored in the predictions table)',
        "",
        "| database | clients | untracked req/s | tracked req/s | tracked p50 / p99 ms "
        "| cost per request |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    backends = [(results["backend"], "")] + (
        [("postgresql", "pg-")] if results.get("postgresql") else []
    )
    for backend, prefix in backends:
        for clients in (1, 8):
            plain = runs[(f"{prefix}predict", clients)]
            tracked = runs[(f"{prefix}track", clients)]
            cost_ms = 1000 / tracked["rps"] - 1000 / plain["rps"]
            lines.append(
                f"| {backend} | {clients} | {plain['rps']:,.0f} | {tracked['rps']:,.0f} | "
                f"{tracked['p50']:.2f} / {tracked['p99']:.2f} | {cost_ms:+.2f} ms |"
            )
    lines += [
        "",
        '## What `"explain": true` costs (one review, its phrases in the answer)',
        "",
        "| clients | predict req/s | explain req/s | explain p50 / p99 ms | cost ratio |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients in (1, 8):
        plain, explained = runs[("plain", clients)], runs[("explain", clients)]
        lines.append(
            f"| {clients} | {plain['rps']:,.0f} | {explained['rps']:,.0f} | "
            f"{explained['p50']:.2f} / {explained['p99']:.2f} | "
            f"**{plain['rps'] / explained['rps']:.2f}×** |"
        )
    lines += [
        "",
        "Cost ratio: time per explained request over time per plain one (target at most 2×). "
        f"In-process, one core: `model.predict([review])` {inproc['predict_again']:,.0f}/s, "
        f"`explaining.explain(model, review)` {inproc['explain']:,.0f}/s "
        f"({inproc['predict_again'] / inproc['explain']:.0f}× the time: predicting is one C "
        "call; explaining hashes each n-gram occurrence in C, then shares the weights out and "
        "builds the phrases with numpy and Python).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="Length of each wrk run.")
    parser.add_argument("--rounds", type=int, default=2, help="Runs per row; the best is kept.")
    parser.add_argument("--database-url", help="Use this database's current model (no training).")
    parser.add_argument("--model-dir", help="MODEL_DIR for --database-url.")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--postgresql",
        metavar="ADMIN_URL",
        help="Also measure tracking on PostgreSQL: a temporary database on this server "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres), dropped at the end.",
    )
    args = parser.parse_args()
    command = "python " + " ".join([str(Path(sys.argv[0]))] + sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        try:
            results = measure(args, Path(tmp))
        finally:
            drop_created_databases()
    text = report(results, command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
