#!/usr/bin/env python
"""Do the dashboard and /metrics answer fast with 1,000,000 predictions and 100,000 answers?

Fills a SQLite file and a PostgreSQL database straight through the driver (executemany in
one transaction; COPY), as 90 days of a busy service would have left them: predictions
spread over the days, each served by the version current at its time, a tenth of them
answered minutes later, a version every three days (some rejected), a retrain run every 10
minutes. Then it starts a real gunicorn (2 workers) on each, and times ``--requests``
sequential requests to ``/dashboard`` and to ``/metrics``, after a warm-up.

    PYTHONPATH=tests .venv/bin/python bench/dashboard_scale.py --requests 30 \\
        --postgresql postgresql+psycopg://postgres@127.0.0.1:5432/postgres

``PYTHONPATH=tests``: it starts gunicorn with the test suite's helpers (``servers``) and
makes its PostgreSQL database with ``databases``. The filled databases are kept in
``--workdir`` (and as the PostgreSQL database ``mc_bench_dashboard``) and reused by the
next run with the same sizes; ``--fresh`` fills them again, ``--drop`` removes them at the
end. ``--profile`` also times each query function of ``stats`` in-process; ``--expire
DAYS`` then times ``retention.expire_unanswered`` on the filled databases (which changes
them: the next run fills them again).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import requests
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

import databases
from movieclassifier import db, retention, stats
from movieclassifier.schema import (
    DISCARDED,
    LEARNED,
    PENDING,
    PROMOTED,
    QUARANTINED,
    REJECTED,
    CurrentModel,
    ModelVersion,
    RetrainRun,
    StoredPrediction,
)
from movieclassifier.web.metrics import RETRAIN_SECONDS_BUCKETS
from servers import gunicorn_server

REPO = Path(__file__).resolve().parent.parent
IMDB = REPO / "data" / "movie_data.csv.gz"
PG_NAME = "mc_bench_dashboard"
END = datetime(2026, 12, 1, tzinfo=UTC)
RUN_EVERY = timedelta(minutes=10)
PREDICTION_COLUMNS = (
    "id",
    "reference",
    "created_at",
    "review",
    "label",
    "probability",
    "model_version",
    "channel",
    "source",
)
FEEDBACK_COLUMNS = (
    "id",
    "prediction_id",
    "correct",
    "label",
    "created_at",
    "updated_at",
    "status",
    "learned_version",
    "quarantined_version",
    "source",
)


def read_reviews(count: int, max_chars: int) -> list[str]:
    """The first ``count`` IMDb reviews, cut to ``max_chars`` when that is not 0."""
    reviews = []
    with gzip.open(IMDB, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for review, _label in reader:
            reviews.append(review[:max_chars] if max_chars else review)
            if len(reviews) == count:
                break
    return reviews


class Plan:
    """What to insert: versions, predictions, answers and runs, made from one seed."""

    def __init__(self, predictions: int, answers: int, days: int, review_chars: int) -> None:
        rng = np.random.default_rng(7)
        start = END - timedelta(days=days)
        span = (END - start).total_seconds()
        self.start = start
        # A version every three days; a fifth of the retrains are rejected by the gate.
        self.versions: list[dict[str, object]] = []
        for number in range(1, days // 3 + 1):
            created = start + timedelta(days=3 * (number - 1), hours=1)
            rejected = number > 1 and rng.random() < 0.2
            self.versions.append(
                {
                    "version": number,
                    "created_at": created,
                    "status": REJECTED if rejected else PROMOTED,
                    "filename": f"classifier-bench-{number}.pkl",
                    "sha256": secrets.token_hex(32),
                    "size_bytes": 16_000_000,
                    "sklearn_version": "1.5",
                    "numpy_version": "2.1",
                    "feature_params": {"tokenizer_version": 3},
                    "source": "csv" if number == 1 else "feedback",
                    "source_detail": "",
                    "parent_version": None if number == 1 else number - 1,
                    "samples_seen": 45_000,
                    "learned": 0 if number == 1 else int(rng.integers(500, 4000)),
                    "holdout_accuracy": float(0.90 + rng.random() * 0.02),
                    "holdout_rows": 5000,
                    "promoted_at": None if rejected else created,
                }
            )
        promoted = [v for v in self.versions if v["status"] == PROMOTED]
        self.current = int(promoted[-1]["version"])  # type: ignore[call-overload]
        # Predictions: ids in time order, times spread evenly with jitter over the days.
        offsets = np.sort(rng.random(predictions)) * span
        self.prediction_seconds = offsets
        promoted_at = np.array(
            [(v["promoted_at"] - start).total_seconds() for v in promoted]  # type: ignore[operator]
        )
        numbers = np.array([v["version"] for v in promoted])
        self.prediction_version = numbers[
            np.maximum(np.searchsorted(promoted_at, offsets, side="right") - 1, 0)
        ]
        self.prediction_positive = rng.random(predictions) < 0.5
        self.prediction_probability = 0.5 + rng.random(predictions) / 2
        self.reviews = read_reviews(5000, review_chars)
        # Answers: a random tenth of the predictions, minutes later; ids in time order.
        answered = np.sort(rng.choice(predictions, size=answers, replace=False))
        delay = np.minimum(rng.exponential(300, size=answers), 86_400)
        answer_seconds = np.minimum(offsets[answered] + delay, span)
        order = np.argsort(answer_seconds, kind="stable")
        self.answered = answered[order]
        self.answer_seconds = answer_seconds[order]
        self.answer_correct = rng.random(answers) < 0.86
        roll = rng.random(answers)
        # The newest answers wait for the next retrain; the rest were learned or triaged.
        waiting_from = span - RUN_EVERY.total_seconds()
        self.answer_status = np.where(
            self.answer_seconds >= waiting_from,
            PENDING,
            np.where(roll < 0.04, QUARANTINED, np.where(roll < 0.05, DISCARDED, LEARNED)),
        )
        later = np.searchsorted(promoted_at, self.answer_seconds, side="left")
        self.answer_learned = numbers[np.minimum(later, len(numbers) - 1)]
        # A retrain run every 10 minutes, most with nothing to learn.
        self.runs: list[dict[str, object]] = []
        by_day = {(v["created_at"] - start).days: v for v in self.versions[1:]}  # type: ignore[operator]
        moment = start
        while moment < END:
            version = by_day.pop((moment - start).days, None) if moment.hour == 1 else None
            status = str(version["status"]) if version else "nothing_to_learn"
            seconds = float(rng.uniform(20, 90)) if version else float(rng.uniform(0.05, 0.3))
            self.runs.append(
                {
                    "started_at": moment,
                    "finished_at": moment + timedelta(seconds=seconds),
                    "status": status,
                    "version": version["version"] if version else None,
                    "learned": version["learned"] if version else 0,
                    "holdout_accuracy_before": 0.91 if version else None,
                    "holdout_accuracy_after": version["holdout_accuracy"] if version else None,
                    "seconds": seconds,
                    "message": f"{status} run",
                }
            )
            moment += RUN_EVERY

    def prediction_rows(self) -> Iterator[tuple[object, ...]]:
        reviews, count = self.reviews, len(self.reviews)
        for i, offset in enumerate(self.prediction_seconds):
            yield (
                i + 1,
                secrets.token_urlsafe(16),
                self.start + timedelta(seconds=float(offset)),
                reviews[i % count],
                "positive" if self.prediction_positive[i] else "negative",
                float(self.prediction_probability[i]),
                int(self.prediction_version[i]),
                "api" if i % 3 else "web",
                secrets.token_hex(16),
            )

    def feedback_rows(self) -> Iterator[tuple[object, ...]]:
        for i, index in enumerate(self.answered):
            moment = self.start + timedelta(seconds=float(self.answer_seconds[i]))
            status = str(self.answer_status[i])
            correct = bool(self.answer_correct[i])
            positive = bool(self.prediction_positive[index])
            version = int(self.answer_learned[i])
            yield (
                i + 1,
                int(index) + 1,
                correct,
                int(positive == correct),
                moment,
                moment,
                status,
                version if status == LEARNED else None,
                version if status == QUARANTINED else None,
                secrets.token_hex(16),
            )


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: Path, plan: Plan) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        for table, columns, rows in (
            ("predictions", PREDICTION_COLUMNS, plan.prediction_rows()),
            ("feedback", FEEDBACK_COLUMNS, plan.feedback_rows()),
        ):
            marks = ", ".join("?" for _ in columns)
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (tuple(_sqlite_value(v) for v in row) for row in rows),
            )
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def fill_postgresql(url: str, plan: Plan) -> None:
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        with connection.cursor() as cursor:
            for table, columns, rows in (
                ("predictions", PREDICTION_COLUMNS, plan.prediction_rows()),
                ("feedback", FEEDBACK_COLUMNS, plan.feedback_rows()),
            ):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        connection.commit()
        # Autovacuum would get there soon after a load like this; do it now.
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")


def fill(url: str, plan: Plan, sqlite_path: Path | None) -> None:
    """Migrate ``url``, add the versions and runs (SQLAlchemy), then the bulk rows."""
    engine = db.make_engine(url)
    db.init_db(engine)
    with db.make_session_factory(engine).begin() as session:
        session.execute(insert(ModelVersion), plan.versions)
        session.add(CurrentModel(id=1, version=plan.current, changed_at=END))
        session.execute(insert(RetrainRun), plan.runs)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('model_versions', 'version'), "
                    "(SELECT max(version) FROM model_versions))"
                )
            )
    engine.dispose()
    if sqlite_path is not None:
        fill_sqlite(sqlite_path, plan)
    else:
        fill_postgresql(url, plan)


def filled(url: str, predictions: int, answers: int) -> bool:
    """Whether ``url`` already holds a database of these sizes (from an earlier run)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            have = connection.execute(select(func.count()).select_from(StoredPrediction))
            count = have.scalar()
            have = connection.execute(text("SELECT count(*) FROM feedback"))
            return count == predictions and have.scalar() == answers
    except Exception:  # noqa: BLE001 - no database, no schema: not filled
        return False
    finally:
        engine.dispose()


def postgresql_url(admin_url: str, fresh: bool) -> str:
    url = make_url(admin_url).set(database=PG_NAME).render_as_string(hide_password=False)
    if fresh:
        databases.drop_postgresql_database(url)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_NAME}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    engine.dispose()
    return url


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_requests(base_url: str, path: str, count: int) -> tuple[list[float], bytes]:
    http = requests.Session()
    for _ in range(4):  # both workers: connections, templates, the first queries
        http.get(base_url + path, timeout=120).raise_for_status()
    seconds = []
    body = b""
    for _ in range(count):
        started = time.perf_counter()
        answer = http.get(base_url + path, timeout=120)
        seconds.append(time.perf_counter() - started)
        answer.raise_for_status()
        body = answer.content
    return seconds, body


def _live_reliability(session) -> object:  # type: ignore[no-untyped-def]
    served = stats.current_version(session)
    return stats.live_reliability(session, served.version) if served else []


def profile(url: str, repeat: int = 3) -> list[tuple[str, float]]:
    """The fastest of ``repeat`` in-process calls of each query function the pages make."""
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    calls: list[tuple[str, Callable[..., object]]] = [
        ("counts", stats.counts),
        ("feedback_states", stats.feedback_states),
        ("versions", stats.versions),
        ("live_accuracy", stats.live_accuracy),
        ("retrain_history", stats.retrain_history),
        ("recent_accuracy", stats.recent_accuracy),
        ("current_version", stats.current_version),
        ("retrain_outcomes", lambda s: stats.retrain_outcomes(s, RETRAIN_SECONDS_BUCKETS)),
        ("last_retrain", stats.last_retrain),
        ("live_reliability", _live_reliability),
    ]
    timings = []
    for name, call in calls:
        best = float("inf")
        for _ in range(repeat):
            with sessions() as session:
                started = time.perf_counter()
                call(session)
                best = min(best, time.perf_counter() - started)
        timings.append((name, best))
    engine.dispose()
    return timings


def expire(name: str, url: str, days: int) -> None:
    """Time ``retention.expire_unanswered`` on the filled database, then once more."""
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    for attempt in ("first", "second"):
        with sessions() as session:
            started = time.perf_counter()
            removed = retention.expire_unanswered(session, days, now=END)
            seconds = time.perf_counter() - started
        print(
            f"{name}: {attempt} expiry of unanswered predictions older than {days} days "
            f"removed {removed:,} in {seconds:.2f} s",
            flush=True,
        )
    with sessions() as session:
        left = session.scalar(select(func.count()).select_from(StoredPrediction))
        answers = session.scalar(text("SELECT count(*) FROM feedback"))
    print(f"{name}: {left:,} predictions and {answers:,} answers left", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="days the rows are spread over")
    parser.add_argument("--review-chars", type=int, default=0, help="cut reviews (0: whole)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const=databases.POSTGRESQL_ADMIN_URL,
        default=None,
        help="also run on PostgreSQL; the server's admin URL [default: the tests' one]",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mc-bench-dashboard"
    )
    parser.add_argument("--fresh", action="store_true", help="fill the databases again")
    parser.add_argument("--drop", action="store_true", help="remove the databases at the end")
    parser.add_argument("--profile", action="store_true", help="time each stats query too")
    parser.add_argument("--save", action="store_true", help="keep the last bodies in workdir")
    parser.add_argument(
        "--expire",
        type=int,
        default=0,
        metavar="DAYS",
        help="then time retention.expire_unanswered(DAYS) twice (the next run refills)",
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    backends: list[tuple[str, str, Path | None]] = []
    if not args.no_sqlite:
        path = args.workdir / f"reviews-{args.predictions}-{args.answers}.sqlite"
        if args.fresh:
            for stale in args.workdir.glob(path.name + "*"):
                stale.unlink()
        backends.append(("sqlite", f"sqlite:///{path}", path))
    if args.postgresql:
        backends.append(("postgresql", postgresql_url(args.postgresql, args.fresh), None))

    plan: Plan | None = None
    results = []
    for name, url, path in backends:
        if not filled(url, args.predictions, args.answers):
            if path is not None:
                for stale in args.workdir.glob(path.name + "*"):
                    stale.unlink()
            elif not args.fresh:  # a half-filled database from an interrupted run
                url = postgresql_url(args.postgresql, fresh=True)
            if plan is None:
                started = time.perf_counter()
                plan = Plan(args.predictions, args.answers, args.days, args.review_chars)
                print(f"planned the rows in {time.perf_counter() - started:.1f} s", flush=True)
            started = time.perf_counter()
            fill(url, plan, path)
            print(f"{name}: filled in {time.perf_counter() - started:.1f} s", flush=True)
        if args.profile:
            for query, seconds in profile(url):
                print(f"{name}: stats.{query} {seconds * 1000:.1f} ms", flush=True)
        model_dir = args.workdir / "pkl_objects"
        model_dir.mkdir(exist_ok=True)
        env = {
            "DATABASE_URL": url,
            "MODEL_DIR": str(model_dir),
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "LOG_LEVEL": "WARNING",
        }
        with gunicorn_server(
            env, args.workdir / f"gunicorn-{name}.log", workers=args.workers
        ) as base:
            for page in ("/dashboard", "/metrics"):
                seconds, body = time_requests(base, page, args.requests)
                if args.save:
                    (args.workdir / f"{name}{page.replace('/', '-')}.out").write_bytes(body)
                p50, p95 = percentile(seconds, 0.5), percentile(seconds, 0.95)
                results.append((name, page, p50, p95, max(seconds), len(body)))
                print(
                    f"{name} {page}: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
                    f"max {max(seconds) * 1000:.1f} ms ({len(body):,} bytes)",
                    flush=True,
                )
        if args.expire:
            expire(name, url, args.expire)
        if args.drop:
            if path is not None:
                for stale in args.workdir.glob(path.name + "*"):
                    stale.unlink()
            else:
                databases.drop_postgresql_database(url)

    print()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{args.predictions:,} predictions, {args.answers:,} answers, {args.requests} requests; "
        f"load average at the end {load} on {os.cpu_count()} cores"
    )
    print("| backend | page | p50 ms | p95 ms | max ms | bytes |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, page, p50, p95, worst, size in results:
        print(
            f"| {name} | `{page}` | {p50 * 1000:.1f} | {p95 * 1000:.1f} | "
            f"{worst * 1000:.1f} | {size:,} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
