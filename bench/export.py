#!/usr/bin/env python
"""Does ``flask export-labels`` stream? Time and peak RSS on a million answers.

Fills a temporary SQLite database (never committed) with ``--rows`` stored predictions
(IMDb reviews cut to ``--review-chars``) and an answer to each, by bulk inserts, then runs
``flask --app movieclassifier export-labels --status all -o FILE`` as a real process, once
with ``--since`` in the future (no row: the baseline) and once on every row, sampling the
RSS of the process every 20 ms. Flat memory: the peak on a million rows close to the
baseline's. ``--postgresql URL`` fills a fresh database on that server instead.

    .venv/bin/python bench/export.py [--rows 1000000] [--format csv|jsonl] [--postgresql URL]

Needs psutil (requirements-bench.txt).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from movieclassifier import db, features
from movieclassifier.schema import LEARNED, PROMOTED, Feedback, ModelVersion, StoredPrediction

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "movie_data.csv.gz"
INSERT_BATCH = 20_000


def reviews(chars: int) -> list[tuple[str, int]]:
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(review[:chars], int(label)) for review, label in reader]


def fill(database_url: str, rows: int, chars: int) -> float:
    """``rows`` predictions of version 1, each answered and learned; returns seconds."""
    started = time.perf_counter()
    engine = db.make_engine(database_url)
    db.init_db(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(ModelVersion),
            {
                "version": 1,
                "status": PROMOTED,
                "filename": "bench.pkl",
                "sha256": "0" * 64,
                "size_bytes": 0,
                "sklearn_version": "bench",
                "numpy_version": "bench",
                "feature_params": features.feature_params(),
                "source": "bench",
            },
        )
    corpus = itertools.cycle(reviews(chars))
    for start in range(0, rows, INSERT_BATCH):
        count = min(INSERT_BATCH, rows - start)
        batch = [next(corpus) for _ in range(count)]
        ids = range(start + 1, start + count + 1)
        with engine.begin() as connection:
            connection.execute(
                insert(StoredPrediction),
                [
                    {
                        "id": i,
                        "reference": f"bench{i:017d}",
                        "created_at": now,
                        "review": review,
                        "label": "positive" if i % 3 else "negative",
                        "probability": 0.5 + (i % 50) / 100,
                        "model_version": 1,
                        "channel": "api",
                    }
                    for i, (review, _) in zip(ids, batch, strict=True)
                ],
            )
            connection.execute(
                insert(Feedback),
                [
                    {
                        "id": i,
                        "prediction_id": i,
                        "correct": bool(i % 3) == bool(label),
                        "label": label,
                        "created_at": now,
                        "updated_at": now,
                        "status": LEARNED,
                        "learned_version": 1,
                    }
                    for i, (_, label) in zip(ids, batch, strict=True)
                ],
            )
    if engine.dialect.name == "postgresql":
        # Flush what the inserts wrote now, so the checkpointer does not compete with the export.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            connection.execute(text("CHECKPOINT"))
    engine.dispose()
    return time.perf_counter() - started


def export(database_url: str, out: Path, since: str | None) -> dict:
    """Run export-labels; its seconds, the peak RSS of its process tree, and the file's size."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MODEL_DIR")}
    env.update(DATABASE_URL=database_url, MODEL_DIR=str(out.parent / "pkl"))
    command = [sys.executable, "-m", "flask", "--app", "movieclassifier", "export-labels"]
    command += ["--status", "all", "-o", str(out)]
    if since:
        command += ["--since", since]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(True)]))
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    message = child.stderr.read().strip() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"export-labels failed ({child.returncode}): {message}")
    size = out.stat().st_size / 2**20 if out.exists() else 0.0
    return {"seconds": seconds, "peak_mb": peak / 2**20, "file_mb": size, "message": message}


def postgresql_database(server_url: str) -> tuple[str, str]:
    name = f"bench_export_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False), name


def drop_postgresql_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--review-chars", type=int, default=400)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", dest="fmt")
    parser.add_argument("--postgresql", metavar="URL", help="a server to fill a database on")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="movieclassifier-export-"))
    dropped: str | None = None
    try:
        if args.postgresql:
            url, dropped = postgresql_database(args.postgresql)
            backend = "PostgreSQL"
        else:
            url, backend = f"sqlite:///{work / 'labels.sqlite'}", "SQLite"
        filled = fill(url, args.rows, args.review_chars)
        print(f"filled {args.rows:,} answers in {filled:.1f} s", file=sys.stderr, flush=True)
        runs = {
            "no row (--since 2100-01-01)": export(url, work / f"none.{args.fmt}", "2100-01-01"),
            f"{args.rows:,} rows": export(url, work / f"all.{args.fmt}", None),
        }
    finally:
        if dropped and args.postgresql:
            drop_postgresql_database(args.postgresql, dropped)
        shutil.rmtree(work, ignore_errors=True)
    base, full = runs.values()
    print(f"| {backend}, {args.fmt} | seconds | rows/s past the start | file MB | peak RSS MB |")
    print("| --- | --- | --- | --- | --- |")
    for name, run in runs.items():
        past = run["seconds"] - base["seconds"]
        rate = f"{args.rows / past:,.0f}" if run is full and past > 0 else "-"
        print(
            f"| {name} | {run['seconds']:.1f} | {rate} | {run['file_mb']:.0f} "
            f"| {run['peak_mb']:.0f} |"
        )
    print(f"\npeak RSS on {args.rows:,} rows / on none: {full['peak_mb'] / base['peak_mb']:.2f}")
    print(full["message"])


if __name__ == "__main__":
    main()
