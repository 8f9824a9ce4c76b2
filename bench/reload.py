#!/usr/bin/env python
"""How long until every worker of two servers serves a newly promoted version?

Two gunicorn servers (2 workers each, their own MODEL_DIR, one database), a promotion by
rollback, then each server is polled (``POST /api/v1/predict``) until 20 answers in a row
come from the new version. ``--postgresql`` puts the shared database in a fresh PostgreSQL
database (the multi-server case; the server of ``TEST_POSTGRESQL_URL``, as in the tests),
otherwise it is a SQLite file.

    PYTHONPATH=tests .venv/bin/python bench/reload.py --postgresql --repeat 4

``PYTHONPATH=tests``: it reuses the test suite's helpers (servers, models, databases).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from test_reload import wait_for_version

from corpus import train_tiny_model
from databases import create_postgresql_database, drop_postgresql_database
from movieclassifier import db, lifetime, model_store
from movieclassifier.schema import PROMOTED
from servers import gunicorn_server, subprocess_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true", help="a fresh PostgreSQL database")
    parser.add_argument("--reload-seconds", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    url = create_postgresql_database() if args.postgresql else f"sqlite:///{work / 'r.sqlite'}"
    try:
        measure(url, work, args)
    finally:
        if args.postgresql:
            drop_postgresql_database(url)


def measure(url: str, work: Path, args: argparse.Namespace) -> None:
    engine = db.make_engine(url)
    db.init_db(engine)
    sessions = db.make_session_factory(engine)
    model_dir = work / "publisher"
    versions = []
    for seed in (0, 1):
        model = train_tiny_model(seed)
        written = model_store.write(model, model_dir)
        with sessions.begin() as session:
            versions.append(
                model_store.register(
                    session, written, model, status=PROMOTED, source="test"
                ).version
            )
    envs = [
        subprocess_env(
            {
                "DATABASE_URL": url,
                "MODEL_DIR": str(work / f"server-{n}"),
                "APP_ENV": "testing",
                "MODEL_RELOAD_SECONDS": str(args.reload_seconds),
                "RATELIMIT_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
            }
        )
        for n in (1, 2)
    ]
    with (
        gunicorn_server(envs[0], work / "a.log", workers=2) as url_a,
        gunicorn_server(envs[1], work / "b.log", workers=2) as url_b,
    ):
        for server in (url_a, url_b):
            wait_for_version(server, versions[-1])
        times = []
        for attempt in range(args.repeat):
            target = versions[attempt % 2]
            promoted = time.monotonic()
            lifetime.rollback(sessions, model_dir, target)
            for server in (url_a, url_b):
                wait_for_version(server, target)
            times.append(time.monotonic() - promoted)
    print(
        f"{engine.dialect.name}, MODEL_RELOAD_SECONDS={args.reload_seconds:g}: every worker of "
        f"both servers on the new version after "
        + ", ".join(f"{t:.2f}" for t in times)
        + " s (includes the 20-answers-in-a-row check)"
    )


if __name__ == "__main__":
    main()
