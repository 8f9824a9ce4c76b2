#!/usr/bin/env python
"""Does feedback adapt the model to a new domain? IMDb-trained model, Rotten Tomatoes feedback.

Trains on IMDb (``train_stream.py --holdout 5000``), starts gunicorn, then streams Rotten
Tomatoes snippets through the real API in rounds: ``POST /api/v1/predict`` with
``"track": true``, ``POST /api/v1/feedback`` with the true answer, ``scripts/retrain.py``.
After each round it scores the served version on RT snippets never streamed and on the
5,000 IMDb test rows, and draws both curves.

    PYTHONPATH=tests .venv/bin/python bench/feedback.py --labels 1000 --round 200 \
        --plot docs/feedback-curve.svg

``PYTHONPATH=tests``: it starts gunicorn with the test suite's helpers (``servers``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from movieclassifier import db, holdout, model_store
from movieclassifier.config import Settings
from servers import gunicorn_server, subprocess_env

REPO = Path(__file__).resolve().parent.parent

RT = REPO / "data" / "rt_polarity.csv.gz"
IMDB = REPO / "data" / "movie_data.csv.gz"
RT_TEST_FROM = 5000  # RT rows from here on are never streamed: the "unseen" test set


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [r for r, _ in rows], np.array([int(y) for _, y in rows])


def run(command: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def score(sessions, settings, rt, imdb) -> tuple[int, float, float]:
    with sessions() as session:
        model = model_store.load_current(session, settings.model_dir)
    return model.version, model.accuracy(*rt), model.accuracy(*imdb)


def send_round(url: str, http: requests.Session, texts: list[str], labels: np.ndarray) -> None:
    for start in range(0, len(texts), 100):
        batch = texts[start : start + 100]
        answer = http.post(f"{url}/api/v1/predict", json={"reviews": batch, "track": True})
        answer.raise_for_status()
        for item, label in zip(
            answer.json()["predictions"], labels[start : start + 100], strict=True
        ):
            correct = (item["label"] == "positive") == bool(label)
            posted = http.post(
                f"{url}/api/v1/feedback",
                json={"prediction_id": item["prediction_id"], "correct": correct},
            )
            posted.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1000, help="RT labels to stream")
    parser.add_argument("--round", type=int, default=200, help="labels per retrain")
    parser.add_argument("--seed", type=int, default=0, help="shuffle of the RT rows")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "feedback-curve.svg")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    settings = Settings(
        database_url=f"sqlite:///{work / 'reviews.sqlite'}",
        model_dir=work / "pkl_objects",
        app_env="testing",
        model_reload_seconds=0,
        ratelimit_enabled=False,
        retrain_batch_size=args.round,
    )
    env = subprocess_env(
        {
            "DATABASE_URL": settings.database_url,
            "MODEL_DIR": str(settings.model_dir),
            "APP_ENV": "testing",
            "MODEL_RELOAD_SECONDS": "0",
            "RATELIMIT_ENABLED": "false",
            "RETRAIN_BATCH_SIZE": str(args.round),
            "LOG_LEVEL": "WARNING",
        }
    )
    started = time.perf_counter()
    trained = run(
        [
            sys.executable,
            "scripts/train_stream.py",
            str(IMDB),
            "--holdout",
            "5000",
            "--quiet",
            "--json",
        ],
        env,
    )
    print(f"trained on IMDb: {trained}", file=sys.stderr)
    engine = db.make_engine(settings.database_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session:
        imdb_test = holdout.load(session)
    rt_texts, rt_labels = read_csv(RT)
    order = np.random.RandomState(args.seed).permutation(len(rt_texts))
    rt_texts = [rt_texts[i] for i in order]
    rt_labels = rt_labels[order]
    rt_test = (rt_texts[RT_TEST_FROM:], rt_labels[RT_TEST_FROM:].tolist())
    rows = [(0, *score(sessions, settings, rt_test, imdb_test), 0.0)]
    with gunicorn_server(env, work / "gunicorn.log", workers=2) as url:
        http = requests.Session()
        for start in range(0, args.labels, args.round):
            end = min(start + args.round, args.labels)
            send_round(url, http, rt_texts[start:end], rt_labels[start:end])
            report = run([sys.executable, "scripts/retrain.py", "--json"], env)
            if report["status"] != "promoted":
                print(f"round ending at {end}: {report['status']}", file=sys.stderr)
            rows.append((end, *score(sessions, settings, rt_test, imdb_test), report["seconds"]))
            print(format_row(rows[0], rows[-1]), file=sys.stderr)
    print(table(rows, trained, time.perf_counter() - started, args))
    draw(rows, args.plot)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def format_row(base: tuple, row: tuple) -> str:
    labels, version, rt, imdb, seconds = row
    return (
        f"| {labels:>5} | {version:>3} | {rt:.4f} | {(rt - base[2]) * 100:+.1f} | "
        f"{imdb:.4f} | {(imdb - base[3]) * 100:+.1f} | {seconds:.1f} |"
    )


def table(rows: list[tuple], trained: dict, seconds: float, args: argparse.Namespace) -> str:
    head = [
        f"RT labels streamed in rounds of {args.round} (seed {args.seed}); unseen RT test set: "
        f"{10662 - RT_TEST_FROM} snippets; IMDb test: the 5,000 held-out rows. "
        f"Total {seconds:.0f} s.",
        "",
        "| RT labels | version | unseen RT acc | vs IMDb-only (points) | IMDb test acc "
        "| vs IMDb-only (points) | retrain s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return "\n".join(head + [format_row(rows[0], row) for row in rows])


def draw(rows: list[tuple], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(labels, [r[2] for r in rows], "o-", label="Rotten Tomatoes, unseen snippets")
    ax.plot(labels, [r[3] for r in rows], "s-", label="IMDb test (5,000 held-out rows)")
    ax.axhline(rows[0][2] + 0.04, color="grey", ls=":", lw=1, label="target: RT +4 points")
    ax.axhline(rows[0][3] - 0.01, color="grey", ls="--", lw=1, label="gate: IMDb -1 point")
    ax.set_xlabel("Rotten Tomatoes labels learned through the API")
    ax.set_ylabel("accuracy")
    ax.set_title("Feedback adapting an IMDb model to Rotten Tomatoes")
    ax.legend(fontsize=8, loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
