#!/usr/bin/env python
"""Is the cost of a retrain flat in the history? 1,000 new labels after N labels learned.

One base model is trained once on IMDb (``train_stream.py --holdout 5000 --workers 1``)
into a scratch SQLite store under /dev/shm; each step starts from a copy of it. For a step
of N labels, N honest answers are inserted directly into ``predictions`` and ``feedback``
(bulk SQL; the prediction's label and probability are the base model's, ``correct`` is
whether it matched the true label), then drained through the real code,
``retrain.retrain(engine, settings, batch_size=...)`` in this process (the warm-up, timed
too). The first 1,000 labels of the history are Rotten Tomatoes snippets (rows 0-999 of
``data/rt_polarity.csv.gz``): the oldest labels, whose domain must not be forgotten; the
rest are 250-character windows of IMDb training reviews with their true labels.

Then the measured run: 1,000 new pending honest answers (the same 1,000 IMDb windows at
every step, never part of any history) and ``scripts/retrain.py --json`` as a subprocess;
its wall seconds and its peak RSS (``os.wait4`` in a small launcher, ``LAUNCHER``) are
compared with the fresh service's (N = 0), over ``--repeat`` interleaved rounds, each from
a copy of the step's state. After each step the served version is scored on RT rows
5000-6999 (never answered) and on the 5,000 IMDb held-out rows.

Two extra rows (``--no-tail``, ``--no-e2e`` skip them): "tail" adds, after the warm-up of
the largest step no bigger than ``--e2e-at`` (50,000), 5,000 more labels drained at the
default batch size, so the measured run replays about the most a run can (just under
``lifetime.CONSOLIDATE_AFTER``); "via API" takes the 50k state and sends the 1,000 new
answers through gunicorn (``/api/v1/predict`` with ``"track": true``, then
``/api/v1/feedback``) before the timed retrain. Results: bench/results/loop_scale.md.

    PYTHONPATH=tests .venv/bin/python bench/loop_scale.py --profile --json /tmp/loop_scale.json
    PYTHONPATH=tests .venv/bin/python bench/loop_scale.py --quick    # about a minute or two

``PYTHONPATH=tests``: the API run starts gunicorn with the test suite's helpers (``servers``).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gzip
import io
import json
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import func, insert, select

from movieclassifier import db, model_store, retrain
from movieclassifier.config import Settings
from movieclassifier.model import LABEL_IDS
from movieclassifier.schema import (
    PENDING,
    REJECTED,
    Feedback,
    ModelVersion,
    StoredPrediction,
    new_reference,
)
from servers import gunicorn_server, subprocess_env

REPO = Path(__file__).resolve().parent.parent
RT = REPO / "data" / "rt_polarity.csv.gz"
IMDB = REPO / "data" / "movie_data.csv.gz"
OLDEST = 1000  # RT rows 0-999: the oldest labels of every history
RT_TEST = (5000, 7000)  # RT rows never answered
IMDB_TRAIN_ROWS = 45000  # the base trains on these; the last 5,000 are the gate's held-out set
MEASURED_REVIEWS = (43000, 44000)  # their first window is the measured batch, never history
WINDOW = 250
VARIANTS = 5
SECRET = "bench-loop-scale-secret-key-not-for-production"
TAIL = 5000
# ``--child-env NAME=VALUE``: extra environment of the processes started (retrain, gunicorn).
CHILD_ENV: dict[str, str] = {}


def read_csv(path: Path) -> tuple[list[str], list[int]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [r for r, _ in rows], [int(y) for _, y in rows]


def window(review: str, variant: int) -> str:
    """The ``variant``-th ~250-character window of a review, cut at spaces.

    A review too short for that window gives its first window with a marker, so that
    every text of the history is distinct.
    """
    start = variant * WINDOW
    if len(review) < start + 100:
        return f"{review[:WINDOW]} (again {variant})"
    if start:
        space = review.find(" ", start)
        start = space + 1 if 0 <= space < start + 40 else start
    end = review.rfind(" ", start, start + WINDOW)
    return review[start : end if end > start + 100 else start + WINDOW]


@dataclass
class Corpus:
    rt: tuple[list[str], list[int]]
    rt_test: tuple[list[str], list[int]]
    filler: tuple[list[str], list[int]]  # history after the oldest 1,000, in order
    measured: tuple[list[str], list[int]]

    @classmethod
    def load(cls) -> Corpus:
        rt_texts, rt_labels = read_csv(RT)
        imdb_texts, imdb_labels = read_csv(IMDB)
        skip = range(*MEASURED_REVIEWS)
        filler_texts: list[str] = []
        filler_labels: list[int] = []
        for variant in range(VARIANTS):
            for i in range(IMDB_TRAIN_ROWS):
                if i in skip:
                    continue
                filler_texts.append(window(imdb_texts[i], variant))
                filler_labels.append(imdb_labels[i])
        measured = (
            [window(imdb_texts[i], 0) for i in skip],
            [imdb_labels[i] for i in skip],
        )
        return cls(
            (rt_texts[:OLDEST], rt_labels[:OLDEST]),
            (rt_texts[slice(*RT_TEST)], rt_labels[slice(*RT_TEST)]),
            (filler_texts, filler_labels),
            measured,
        )

    def history(self, count: int) -> tuple[list[str], list[int]]:
        oldest = min(count, OLDEST)
        rest = count - oldest
        if rest > len(self.filler[0]):
            raise SystemExit(f"only {len(self.filler[0]) + OLDEST} distinct history texts")
        return (
            self.rt[0][:oldest] + self.filler[0][:rest],
            self.rt[1][:oldest] + self.filler[1][:rest],
        )


@dataclass
class Store:
    """One scratch service: a SQLite file and a model folder, with the settings for both."""

    root: Path

    @property
    def settings(self) -> Settings:
        return Settings(
            database_url=f"sqlite:///{self.root / 'reviews.sqlite'}",
            model_dir=self.root / "pkl_objects",
            app_env="testing",
            secret_key=SECRET,
            model_reload_seconds=0,
            ratelimit_enabled=False,
        )

    def env(self, **extra: str) -> dict[str, str]:
        settings = self.settings
        env = {
            **CHILD_ENV,
            "DATABASE_URL": settings.database_url,
            "MODEL_DIR": str(settings.model_dir),
            "APP_ENV": "testing",
            "SECRET_KEY": SECRET,
            "MODEL_RELOAD_SECONDS": "0",
            "RATELIMIT_ENABLED": "false",
            "GATE_FEEDBACK_SLICE": str(settings.gate_feedback_slice),
            "LOG_LEVEL": "WARNING",
        }
        env.update(extra)
        return subprocess_env(env)

    def copy(self, root: Path) -> Store:
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(self.root, root)
        return Store(root)


def train_base(store: Store) -> dict:
    store.root.mkdir(parents=True)
    command = [
        sys.executable,
        "scripts/train_stream.py",
        str(IMDB),
        "--holdout",
        "5000",
        "--workers",
        "1",
        "--quiet",
        "--json",
    ]
    done = subprocess.run(
        command, env=store.env(), cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"train_stream.py failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def insert_answers(store: Store, texts: list[str], labels: list[int]) -> float:
    """Honest pending answers to predictions of the current model, by bulk SQL; seconds."""
    started = time.perf_counter()
    engine = db.make_engine(store.settings.database_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session:
        model = model_store.load_current(session, store.settings.model_dir)
    with sessions.begin() as session:
        next_prediction = (session.scalar(select(func.max(StoredPrediction.id))) or 0) + 1
        next_feedback = (session.scalar(select(func.max(Feedback.id))) or 0) + 1
        for start in range(0, len(texts), 10000):
            chunk = texts[start : start + 10000]
            predicted = model.predict(chunk)
            predictions, answers = [], []
            for offset, (text, prediction) in enumerate(zip(chunk, predicted, strict=True)):
                label = labels[start + offset]
                predictions.append(
                    {
                        "id": next_prediction + start + offset,
                        "reference": new_reference(),
                        "review": text,
                        "label": prediction.label,
                        "probability": prediction.probability,
                        "model_version": prediction.model_version,
                        "channel": "api",
                        "source": None,
                    }
                )
                answers.append(
                    {
                        "id": next_feedback + start + offset,
                        "prediction_id": next_prediction + start + offset,
                        "correct": LABEL_IDS[prediction.label] == label,
                        "label": label,
                        "status": PENDING,
                        "source": None,
                    }
                )
            session.execute(insert(StoredPrediction), predictions)
            session.execute(insert(Feedback), answers)
    engine.dispose()
    return time.perf_counter() - started


def drain(store: Store, batch_size: int) -> tuple[float, retrain.RetrainReport]:
    """Learn every waiting answer in this process (the warm-up); seconds and the report."""
    engine = db.make_engine(store.settings.database_url)
    started = time.perf_counter()
    report = retrain.retrain(engine, store.settings, batch_size=batch_size)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, report


@dataclass
class Measured:
    wall: float
    peak_mb: float
    report: dict
    details: dict = field(default_factory=dict)
    consolidated: bool = False


# The measured child is started by this small launcher, not by the benchmark itself: on
# Linux a child spawned by a large process (subprocess uses vfork) reports that process's
# peak RSS as its own ``ru_maxrss``, since exec records the old address space's high-water
# mark. The launcher is small, so its child's ``ru_maxrss`` is the retrain's own.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen([sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall": wall,
               "maxrss_kb": usage.ru_maxrss}, out)
"""


def timed_retrain(store: Store) -> Measured:
    """``scripts/retrain.py --json`` in a child of the launcher: wall seconds, peak RSS."""
    out = store.root / "retrain.out"
    err = store.root / "retrain.err"
    figures = store.root / "launcher.json"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(figures), "scripts/retrain.py", "--json"],
            env=store.env(),
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
            check=False,
        )
    launched = json.loads(figures.read_text())
    if launched["rc"] != 0:
        raise SystemExit(f"retrain.py failed ({launched['rc']}):\n{err.read_text()[-3000:]}")
    report = json.loads(out.read_text().strip().splitlines()[-1])
    measured = Measured(launched["wall"], launched["maxrss_kb"] / 1024, report)
    if report.get("version") is not None:
        engine = db.make_engine(store.settings.database_url)
        with db.make_session_factory(engine)() as session:
            row = session.get(ModelVersion, report["version"])
            measured.details = dict(row.details or {})
            measured.consolidated = bool(row.consolidated)
        engine.dispose()
    return measured


def profiled_retrain(store: Store, top: int) -> str:
    """The same retrain in this process under cProfile: where its time goes."""
    engine = db.make_engine(store.settings.database_url)
    profile = cProfile.Profile()
    profile.enable()
    retrain.retrain(engine, store.settings)
    profile.disable()
    engine.dispose()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def rt_accuracy(store: Store, corpus: Corpus) -> tuple[int, float]:
    engine = db.make_engine(store.settings.database_url)
    with db.make_session_factory(engine)() as session:
        model = model_store.load_current(session, store.settings.model_dir)
    engine.dispose()
    return model.version, model.accuracy(*corpus.rt_test)


def send_through_api(store: Store, texts: list[str], labels: list[int], log: Path) -> float:
    """Predict (tracked) and answer each text honestly through gunicorn; seconds."""
    started = time.perf_counter()
    with gunicorn_server(store.env(), log, workers=2) as url:
        http = requests.Session()
        for start in range(0, len(texts), 100):
            batch = texts[start : start + 100]
            answer = http.post(f"{url}/api/v1/predict", json={"reviews": batch, "track": True})
            answer.raise_for_status()
            for item, label in zip(
                answer.json()["predictions"], labels[start : start + 100], strict=True
            ):
                correct = LABEL_IDS[item["label"]] == label
                posted = http.post(
                    f"{url}/api/v1/feedback",
                    json={"prediction_id": item["prediction_id"], "correct": correct},
                )
                posted.raise_for_status()
    return time.perf_counter() - started


@dataclass
class Row:
    """One state measured: how it was reached, and the measured runs from a copy of it."""

    name: str
    labels: int
    snapshot: Store
    needs_batch: bool = True  # insert the 1,000 new answers before each run
    warm_seconds: float = 0.0
    warm_versions: int = 0
    warm_rejected: int = 0
    warm_learned: int = 0
    warm_quarantined: int = 0
    warm_held_out: int = 0
    warm_batches: list[dict] = field(default_factory=list)
    insert_seconds: float = 0.0
    api_seconds: float | None = None
    rt_before: float | None = None
    runs: list[Measured] = field(default_factory=list)
    rt_after: float | None = None
    version: int | None = None

    def median(self, figure: str) -> float:
        return statistics.median(getattr(m, figure) for m in self.runs)

    def median_inside(self) -> float:
        return statistics.median(m.report["seconds"] for m in self.runs)


def summary(row: Row) -> dict:
    first = row.runs[0]
    return {
        "step": row.name,
        "labels": row.labels,
        "insert_s": round(row.insert_seconds, 2),
        "api_s": row.api_seconds,
        "warm_s": round(row.warm_seconds, 2),
        "warm_versions": row.warm_versions,
        "warm_rejected": row.warm_rejected,
        "warm_learned": row.warm_learned,
        "warm_quarantined": row.warm_quarantined,
        "warm_held_out": row.warm_held_out,
        "warm_batches": row.warm_batches,
        "rt_before": row.rt_before,
        "wall_s": [round(m.wall, 3) for m in row.runs],
        "retrain_s": [round(m.report["seconds"], 3) for m in row.runs],
        "peak_mb": [round(m.peak_mb, 1) for m in row.runs],
        "status": [m.report["status"] for m in row.runs],
        "learned": first.report["learned"],
        "quarantined": first.report["quarantined"],
        "held_out": first.report["held_out"],
        "replayed": first.details.get("replayed"),
        "started_from": first.details.get("started_from_version"),
        "consolidated": first.consolidated,
        "domain_rows": first.report["domain_rows"],
        "imdb_after": first.report["holdout_accuracy_after"],
        "rt_after": row.rt_after,
        "version": row.version,
    }


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def table(rows: list[Row], base: Row) -> str:
    head = [
        "| step | labels learned before | warm-up s (versions, rejected) | wall s median (min) "
        "| ratio | retrain s inside, median | peak RSS MB median | ratio "
        "| learned / quarantined / held out | replayed | domain slice rows "
        "| RT test acc before | RT test acc after | IMDb held-out acc after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    lines = []
    for row in rows:
        m = row.runs[0]
        r = m.report
        wall = row.median("wall")
        peak = row.median("peak_mb")
        least = min(x.wall for x in row.runs)
        lines.append(
            f"| {row.name} | {row.labels:,} "
            f"| {row.warm_seconds:.1f} ({row.warm_versions}, {row.warm_rejected}) "
            f"| {wall:.2f} ({least:.2f}) | {wall / base.median('wall'):.2f} "
            f"| {row.median_inside():.2f} | {peak:.0f} | {peak / base.median('peak_mb'):.2f} "
            f"| {r['learned']} / {r['quarantined']} / {r['held_out']} "
            f"| {m.details.get('replayed', '-')}{' (c)' if m.consolidated else ''} "
            f"| {r['domain_rows']:,} | {pct(row.rt_before)} | {pct(row.rt_after)} "
            f"| {pct(r['holdout_accuracy_after'])} |"
        )
    return "\n".join(head + lines)


def runs_table(rows: list[Row]) -> str:
    lines = [
        "| step | wall s, each round | inside s, each round | peak RSS MB, each round |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        inside = ", ".join(f"{m.report['seconds']:.2f}" for m in row.runs)
        lines.append(
            f"| {row.name} | {', '.join(f'{m.wall:.2f}' for m in row.runs)} | {inside} "
            f"| {', '.join(f'{m.peak_mb:.0f}' for m in row.runs)} |"
        )
    return "\n".join(lines)


def batches_of(store: Store) -> list[dict]:
    """Each version the warm-up made: status, replay, quarantined alone, domain rows."""
    engine = db.make_engine(store.settings.database_url)
    with db.make_session_factory(engine)() as session:
        rows = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.source == model_store.RETRAIN_SOURCE)
            .order_by(ModelVersion.version)
        )
        found = [
            {
                "version": row.version,
                "status": row.status,
                "learned": row.learned,
                "replayed": (row.details or {}).get("replayed"),
                "quarantined_alone": (row.details or {}).get("quarantined_alone"),
                "domain_rows": (row.details or {}).get("domain_rows"),
                "holdout_after": row.holdout_accuracy,
                "domain_before": (row.details or {}).get("domain_accuracy_before"),
                "domain_after": (row.details or {}).get("domain_accuracy_after"),
                "domain_anchor": (row.details or {}).get("domain_accuracy_anchor"),
                "holdout_before": (row.details or {}).get("holdout_accuracy_before"),
                "holdout_anchor": (row.details or {}).get("holdout_accuracy_anchor"),
                "consolidated": bool(row.consolidated),
                "created_at": str(row.created_at),
            }
            for row in rows
        ]
    engine.dispose()
    return found


def warm(store: Store, corpus: Corpus, labels: int, warm_batch: int, name: str = "") -> Row:
    """Put ``labels`` honest answers in ``store`` and learn them all (the warm-up)."""
    row = Row(name or (f"{labels:,}" if labels else "fresh"), labels, store)
    if labels:
        row.insert_seconds = insert_answers(store, *corpus.history(labels))
        row.warm_seconds, report = drain(store, warm_batch)
        row.warm_versions = len(report.versions)
        row.warm_learned = report.learned
        row.warm_quarantined = report.quarantined
        row.warm_held_out = report.held_out
        row.warm_batches = batches_of(store)
        row.warm_rejected = sum(b["status"] == REJECTED for b in row.warm_batches)
        note(
            f"  warm-up {labels:,}: {report.status} in {row.warm_seconds:.1f} s, "
            f"{len(report.versions)} versions ({row.warm_rejected} rejected), learned "
            f"{report.learned}, quarantined {report.quarantined}, held out {report.held_out}"
        )
    _, row.rt_before = rt_accuracy(store, corpus)
    return row


def measure(row: Row, corpus: Corpus, scratch: Path, first: bool) -> None:
    """One measured run from a copy of the row's state."""
    store = row.snapshot.copy(scratch)
    if row.needs_batch:
        insert_answers(store, *corpus.measured)
    measured = timed_retrain(store)
    row.runs.append(measured)
    if first:
        row.version, row.rt_after = rt_accuracy(store, corpus)
    note(
        f"  {row.name}: {measured.wall:.2f} s wall ({measured.report['seconds']:.2f} inside), "
        f"{measured.peak_mb:.0f} MB, {measured.report['status']}, replayed "
        f"{measured.details.get('replayed')}"
    )
    shutil.rmtree(store.root)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="steps 0, 1k, 10k, 2 rounds; no tail, no API"
    )
    parser.add_argument(
        "--steps", default="0,1000,10000,50000,200000", help="labels learned before each run"
    )
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds, interleaved")
    parser.add_argument("--warm-batch", type=int, default=10000, help="warm-up batch size")
    parser.add_argument("--no-tail", action="store_true", help="skip the worst-phase row")
    parser.add_argument("--no-e2e", action="store_true", help="skip the run through the API")
    parser.add_argument("--e2e-at", type=int, default=50000, help="labels before the API run")
    parser.add_argument("--profile", action="store_true", help="cProfile fresh and largest")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (/dev/shm)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    parser.add_argument(
        "--child-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set in the measured processes' environment (e.g. OPENBLAS_NUM_THREADS=1)",
    )
    args = parser.parse_args()
    CHILD_ENV.update(item.split("=", 1) for item in args.child_env)
    if args.quick:
        args.steps, args.no_tail, args.no_e2e = "0,1000,10000", True, True
        args.repeat = min(args.repeat, 2)
    steps = sorted({int(s) for s in args.steps.split(",")})
    root = Path(tempfile.mkdtemp(prefix="loop-scale-", dir=args.work or "/dev/shm"))
    started = time.perf_counter()
    note(f"scratch: {root}")
    corpus = Corpus.load()
    base = Store(root / "base")
    trained = train_base(base)
    note(f"base: {trained['rows_trained']} rows, held-out {trained['holdout_accuracy']}")
    rows: list[Row] = []
    tail_at = max((s for s in steps if 0 < s <= args.e2e_at), default=None)
    for labels in steps:
        note(f"step {labels:,}")
        rows.append(warm(base.copy(root / f"step-{labels}"), corpus, labels, args.warm_batch))
        if not args.no_tail and labels == tail_at:
            note(f"tail of {TAIL:,} after {labels:,} (batches of the default 1,000)")
            tail = rows[-1].snapshot.copy(root / "tail")
            row = Row(f"{labels:,} + tail", labels + TAIL, tail)
            texts, answers = corpus.history(labels + TAIL)
            row.insert_seconds = insert_answers(tail, texts[labels:], answers[labels:])
            row.warm_seconds, report = drain(tail, 1000)
            row.warm_versions = len(report.versions)
            row.warm_batches = batches_of(tail)[-row.warm_versions :]
            row.warm_rejected = sum(b["status"] == REJECTED for b in row.warm_batches)
            _, row.rt_before = rt_accuracy(tail, corpus)
            note(f"  {report.status} in {row.warm_seconds:.1f} s: {report.message[:300]}")
            tail_row = row
        if not args.no_e2e and labels == args.e2e_at:
            note(f"API run after {labels:,}")
            e2e = rows[-1].snapshot.copy(root / "e2e")
            row = Row(f"{labels:,} via API", labels, e2e, needs_batch=False)
            row.rt_before = rows[-1].rt_before
            row.api_seconds = send_through_api(e2e, *corpus.measured, root / "gunicorn.log")
            note(
                f"  1,000 tracked predictions + answers through gunicorn in {row.api_seconds:.1f} s"
            )
            e2e_row = row
    if not args.no_tail and tail_at is not None:
        rows.append(tail_row)
    if not args.no_e2e and args.e2e_at in steps:
        rows.append(e2e_row)
    warmed = time.perf_counter() - started
    profiles: dict[str, str] = {}
    if args.profile:
        for row in (rows[0], next(r for r in rows if r.labels == steps[-1])):
            probe = row.snapshot.copy(root / "profile")
            insert_answers(probe, *corpus.measured)
            profiles[row.name] = profiled_retrain(probe, 30)
            shutil.rmtree(probe.root)
    for round_ in range(args.repeat):
        note(f"round {round_ + 1} of {args.repeat}")
        for row in rows:
            measure(row, corpus, root / "run", first=round_ == 0)
    total = time.perf_counter() - started
    print(
        f"base: IMDb rows 0-44,999 trained, held-out {trained['holdout_accuracy']} on 5,000 "
        f"(trained in {trained['seconds']:.1f} s); warm-up batches of {args.warm_batch:,}; "
        f"{args.repeat} measured rounds, interleaved; set-up {warmed:.0f} s, total {total:.0f} s"
        f"{'; child environment ' + ' '.join(args.child_env) if args.child_env else ''}\n"
    )
    print(table(rows, rows[0]))
    print()
    print(runs_table(rows))
    for name, text in profiles.items():
        print(f"\ncProfile, {name} (in-process, cumulative, top 30):\n")
        print(text)
    if args.json:
        args.json.write_text(json.dumps([summary(r) for r in rows], indent=1))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
