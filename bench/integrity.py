#!/usr/bin/env python
"""The integrity targets, end to end: lies and honest answers through the real feedback path.

The full IMDb model (``scripts/train_stream.py data/movie_data.csv.gz --holdout 5000``,
trained once into a scratch store under /dev/shm and cached there), copied for each
scenario into a real database. Answers go the way the API sends them: the served model
predicts each review, ``feedback.store_predictions`` keeps what it showed, and
``feedback.add`` records "correct" or "incorrect" from a source (a keyed hash of a client
address, as the API stores it), so the label is the model's if "correct", else the other
one. Then ``retrain.retrain(engine, settings)`` with the product's settings (gate 0.01,
domain slice 10%, batches of 1,000), and the feedback statuses are counted.

    PYTHONPATH=tests .venv/bin/python bench/integrity.py                 # RT + IMDb sentences
    PYTHONPATH=tests .venv/bin/python bench/integrity.py --quick         # RT, SQLite, ~2 min
    PYTHONPATH=tests .venv/bin/python bench/integrity.py --postgresql    # PostgreSQL too

``PYTHONPATH=tests``: PostgreSQL databases are made and dropped with the test suite's
helpers (``databases``, ``corpus``).

Scenarios (each on a fresh copy of the store; honest answers each from a source of their
own, lies all from one attacker source):

- ``clean``: 600 honest answers; its lift is the reference.
- ``mixed``: 550 honest answers and 50 targeted lies (true label positive, the model's
  P(positive) >= 0.8, answered "incorrect"), shuffled together, one retrain.
- ``mixed-spread``: the same, but each lie from a source of its own (no source stands out).
- ``floods``: an honest round of 600 (so the domain slice exists), then six floods of 120
  lies (true labels inverted on random rows), one retrain each.
- ``lies500``: 500 inverted answers alone.
- ``floods-spread``, ``lies500-spread``: the same with
  each lie from a source of its own, as an attacker with many page sessions would send them.
- ``flips``: 600 answers of which 10% are inverted at random (from their own sources).

Domains: ``rt`` answers from Rotten Tomatoes rows 0-4999 (file order), tested on rows 5000
on; ``imdb1`` the first sentence of IMDb's last 5,000 rows (held out of the base's
training, whole reviews of them are its evaluation set), answers from the first 2,500,
tested on the rest.

"Accepted" honest answers are ``learned`` + ``held_out``: the domain slice holds 10% of the
trusted answers out of learning by design. ``learned`` alone is reported too.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from movieclassifier import db, feedback, gate, holdout, model_store, retrain
from movieclassifier.config import Settings
from movieclassifier.model import SentimentModel
from movieclassifier.schema import HELD_OUT, LEARNED, PROMOTED, QUARANTINED, Feedback

REPO = Path(__file__).resolve().parent.parent
RT = REPO / "data" / "rt_polarity.csv.gz"
IMDB = REPO / "data" / "movie_data.csv.gz"
BASE = Path("/dev/shm/movieclassifier-bench-integrity")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RT_TEST_FROM = 5000
IMDB_TRAIN_ROWS = 45_000
CONFIDENT_LIE = 0.8  # targeted lies: the model's P(positive) at least this
SECRET = "bench-integrity"
ATTACKER = feedback.source_hash(SECRET, "api:203.0.113.66")

# The targets.
HONEST_KEPT = 0.95
LIES_QUARANTINED = 0.80
LIFT_RATIO = 0.80


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [r for r, _ in rows], np.array([int(y) for _, y in rows])


def first_sentence(review: str) -> str:
    return re.split(r"(?<=[.!?])\s+", review.replace("<br />", " "), maxsplit=1)[0]


@dataclass
class Domain:
    name: str
    pool: list[str]
    truth: np.ndarray
    test: list[str]
    test_labels: list[int]
    positive: np.ndarray = field(default_factory=lambda: np.zeros(0))  # base P(positive)


def load_domains(names: list[str]) -> list[Domain]:
    found = []
    for name in names:
        if name == "rt":
            texts, labels = read_csv(RT)
            found.append(
                Domain(
                    "rt",
                    texts[:RT_TEST_FROM],
                    labels[:RT_TEST_FROM],
                    texts[RT_TEST_FROM:],
                    labels[RT_TEST_FROM:].tolist(),
                )
            )
        elif name == "imdb1":
            texts, labels = read_csv(IMDB)
            short = [first_sentence(t) for t in texts[IMDB_TRAIN_ROWS:]]
            rest = labels[IMDB_TRAIN_ROWS:]
            found.append(
                Domain("imdb1", short[:2500], rest[:2500], short[2500:], rest[2500:].tolist())
            )
        else:
            raise SystemExit(f"unknown domain {name!r}: rt or imdb1")
    return found


# --- The stores: the base trained once, a copy per scenario. ---


def base_store() -> Path:
    """The full IMDb model's store (SQLite + model files), trained once and kept in /dev/shm."""
    done = BASE / "train.json"
    if done.exists():
        return BASE
    shutil.rmtree(BASE, ignore_errors=True)
    BASE.mkdir(parents=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{BASE / 'reviews.sqlite'}",
        "MODEL_DIR": str(BASE / "pkl_objects"),
        "APP_ENV": "testing",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "scripts/train_stream.py", str(IMDB), "--holdout", "5000"]
    done_run = subprocess.run(
        [*command, "--quiet", "--json"], env=env, cwd=REPO, capture_output=True, text=True
    )
    if done_run.returncode != 0:
        raise SystemExit(f"training failed:\n{done_run.stderr[-3000:]}")
    done.write_text(done_run.stdout.strip().splitlines()[-1])
    return BASE


@dataclass
class Store:
    settings: Settings
    engine: object
    sessions: object
    drop: str | None = None  # a PostgreSQL database to drop at the end

    def close(self) -> None:
        self.engine.dispose()
        if self.drop:
            import databases

            databases.drop_postgresql_database(self.drop)


def settings_for(url: str, model_dir: Path) -> Settings:
    # The product's defaults for the gate, the slice and the batch size.
    return Settings(
        database_url=url,
        model_dir=model_dir,
        app_env="testing",
        secret_key=SECRET,
        model_reload_seconds=0,
        ratelimit_enabled=False,
        log_level="WARNING",
    )


def new_store(backend: str, work: Path, name: str) -> Store:
    base = base_store()
    where = work / name
    if backend == "sqlite":
        shutil.copytree(base, where)
        settings = settings_for(f"sqlite:///{where / 'reviews.sqlite'}", where / "pkl_objects")
        engine = db.make_engine(settings.database_url)
        return Store(settings, engine, db.make_session_factory(engine))
    import corpus
    import databases

    databases.POSTGRESQL_ADMIN_URL = PG_ADMIN
    url = databases.create_postgresql_database(prefix="mc_integrity")
    settings = settings_for(url, where / "pkl_objects")
    engine = db.make_engine(url)
    db.init_db(engine)
    sessions = db.make_session_factory(engine)
    # The same version the trainer published, with its evaluation set, as corpus.publish does.
    source_engine = db.make_engine(f"sqlite:///{base / 'reviews.sqlite'}")
    with db.make_session_factory(source_engine)() as session:
        row = model_store.get_version(session, 1)
        model = model_store.load(session, 1, base / "pkl_objects")
        held = holdout.load(session, row.holdout_set)
        register = {
            "source": row.source,
            "source_detail": row.source_detail,
            "source_sha256": row.source_sha256,
            "holdout_accuracy": row.holdout_accuracy,
            "holdout_rows": row.holdout_rows,
            "details": row.details,
        }
    source_engine.dispose()
    model_file = where / "base.pkl"
    where.mkdir(parents=True, exist_ok=True)
    model_file.write_bytes(pickle.dumps(model))
    trained = corpus.TrainedModel(model_file, (tuple(held.texts), tuple(held.labels)), register)
    corpus.publish(trained, sessions, settings.model_dir)
    return Store(settings, engine, sessions, drop=url)


# --- Answers through the real path. ---


def honest_source(index: int) -> str:
    return feedback.source_hash(SECRET, f"api:10.{index // 250}.{index % 250}.1")


def answer(store: Store, texts: list[str], labels: list[int], sources: list[str]) -> list[int]:
    """The served model predicts each review, the prediction is stored, and the answer says
    whether it was right for ``label``; the feedback ids."""
    with store.sessions.begin() as session:
        model = model_store.load_current(session, store.settings.model_dir)
        ids = []
        for text, label, source, prediction in zip(
            texts, labels, sources, model.predict(texts), strict=True
        ):
            (row,) = feedback.store_predictions(session, [text], [prediction], "api", source)
            correct = (prediction.label == "positive") == bool(label)
            ids.append(feedback.add(session, row.id, correct, source).id)
        return ids


def statuses(store: Store, ids: list[int]) -> Counter:
    if not ids:
        return Counter()
    with store.sessions() as session:
        found = Counter()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(session.scalars(select(Feedback.status).where(Feedback.id.in_(chunk))))
        return found


def reason_kind(reason: str | None) -> str:
    if reason is None:
        return "gate"
    if reason.startswith("source sent"):
        return "source"
    if "in a flood" in reason:
        return "flood"
    if "too many" in reason:
        return "surplus"
    return "confident"


def quarantine_kinds(store: Store, ids: list[int]) -> dict:
    found: Counter = Counter()
    with store.sessions() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(
                reason_kind(reason)
                for reason in session.scalars(
                    select(Feedback.quarantine_reason).where(
                        Feedback.id.in_(chunk), Feedback.status == QUARANTINED
                    )
                )
            )
    return dict(found)


@dataclass
class Figures:
    version: int
    domain_test: float  # the served model on the domain's unseen rows
    domain_probability: float  # its mean probability of the true label on them
    imdb_held: float | None  # the served version's held-out IMDb accuracy (5,000 rows)
    slice_rows: int
    slice_current: float | None
    slice_anchor: float | None


def figures(store: Store, domain: Domain, anchor: SentimentModel) -> Figures:
    with store.sessions() as session:
        model = model_store.load_current(session, store.settings.model_dir)
        row = model_store.get_version(session, model.version)
        held = feedback.domain_slice(session)
    slice_current = slice_anchor = None
    if held.texts:
        slice_current = model.accuracy(held.texts, held.labels)
        slice_anchor = anchor.accuracy(held.texts, held.labels)
    positive = model.positive_probabilities(model.vectorize(domain.test))
    truth = np.asarray(domain.test_labels)
    return Figures(
        model.version,
        model.accuracy(domain.test, domain.test_labels),
        float(np.mean(np.where(truth == 1, positive, 1 - positive))),
        row.holdout_accuracy,
        len(held.texts),
        slice_current,
        slice_anchor,
    )


@dataclass
class Result:
    domain: str
    backend: str
    scenario: str
    status: list[str]
    honest: int
    lies: int
    honest_counts: dict
    lie_counts: dict
    before: Figures
    after: Figures
    seconds: float
    steps: list[dict] = field(default_factory=list)
    lift_ratio: float | None = None
    probability_ratio: float | None = None
    honest_kinds: dict = field(default_factory=dict)
    lie_kinds: dict = field(default_factory=dict)

    @property
    def lift(self) -> float:
        return self.after.domain_test - self.before.domain_test

    @property
    def probability_lift(self) -> float:
        return self.after.domain_probability - self.before.domain_probability

    seed: int = 0

    def share(self, counts: dict, total: int, *keys: str) -> float | None:
        return sum(counts.get(k, 0) for k in keys) / total if total else None


def retrain_once(store: Store) -> retrain.RetrainReport:
    return retrain.retrain(store.engine, store.settings)


def run_scenario(
    scenario: str, domain: Domain, backend: str, work: Path, seed: int, anchor: SentimentModel
) -> Result:
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(domain.pool))
    targeted = [i for i in order if domain.truth[i] == 1 and domain.positive[i] >= CONFIDENT_LIE]
    store = new_store(backend, work, f"{domain.name}-{scenario}-{backend}-{seed}")
    began = time.perf_counter()
    try:
        before = figures(store, domain, anchor)
        honest_ids: list[int] = []
        lie_ids: list[int] = []
        reports: list[retrain.RetrainReport] = []
        steps: list[dict] = []

        # Lies from one attacker source, or (``-spread``, and random flips) each from its own.
        spread = scenario.endswith("-spread") or scenario == "flips"

        def send(rows: list[int], lie: np.ndarray, first_source: int) -> None:
            labels = np.where(lie, 1 - domain.truth[rows], domain.truth[rows])
            sources = [
                ATTACKER if is_lie and not spread else honest_source(first_source + k)
                for k, is_lie in enumerate(lie)
            ]
            ids = answer(store, [domain.pool[i] for i in rows], labels.tolist(), sources)
            honest_ids.extend(i for i, is_lie in zip(ids, lie, strict=True) if not is_lie)
            lie_ids.extend(i for i, is_lie in zip(ids, lie, strict=True) if is_lie)

        if scenario in ("clean", "flips"):
            rows = list(order[:600])
            lie = np.zeros(600, bool)
            if scenario == "flips":
                lie[rng.choice(600, 60, replace=False)] = True
            send(rows, lie, 0)
            reports.append(retrain_once(store))
        elif scenario in ("mixed", "mixed-spread"):
            lies = targeted[:50]
            honest = [i for i in order if i not in set(lies)][:550]
            rows = np.array(honest + lies)
            lie = np.array([False] * 550 + [True] * 50)
            shuffle = rng.permutation(600)
            send(list(rows[shuffle]), lie[shuffle], 0)
            reports.append(retrain_once(store))
        elif scenario in ("lies500", "lies500-spread"):
            send(list(order[:500]), np.ones(500, bool), 0)
            reports.append(retrain_once(store))
        elif scenario in ("floods", "floods-spread"):
            send(list(order[:600]), np.zeros(600, bool), 0)
            reports.append(retrain_once(store))
            steps.append(step_row("honest 600", reports[-1], store, domain, anchor, [], []))
            for flood in range(6):
                rows = list(order[600 + 120 * flood : 600 + 120 * (flood + 1)])
                start = len(lie_ids)
                send(rows, np.ones(120, bool), 1000 + 120 * flood)
                reports.append(retrain_once(store))
                steps.append(
                    step_row(
                        f"flood {flood + 1}",
                        reports[-1],
                        store,
                        domain,
                        anchor,
                        lie_ids[start:],
                        lie_ids,
                    )
                )
        else:
            raise SystemExit(f"unknown scenario {scenario}")
        after = figures(store, domain, anchor)
        return Result(
            domain.name,
            backend,
            scenario,
            [r.status for r in reports],
            len(honest_ids),
            len(lie_ids),
            dict(statuses(store, honest_ids)),
            dict(statuses(store, lie_ids)),
            before,
            after,
            time.perf_counter() - began,
            steps,
            honest_kinds=quarantine_kinds(store, honest_ids),
            lie_kinds=quarantine_kinds(store, lie_ids),
        )
    finally:
        store.close()


def step_row(name, report, store, domain, anchor, new_lies, all_lies) -> dict:
    shown = figures(store, domain, anchor)
    new = statuses(store, new_lies)
    every = statuses(store, all_lies)
    bound = store.settings.gate_max_drop
    if shown.slice_rows:
        bound = max(bound, gate.SLICE_MIN_ROWS / shown.slice_rows)
    return {
        "step": name,
        "status": report.status,
        "lies": len(new_lies),
        "quarantined": new.get(QUARANTINED, 0),
        "learned": new.get(LEARNED, 0),
        "held_out": new.get(HELD_OUT, 0),
        "learned_so_far": every.get(LEARNED, 0),
        "version": shown.version,
        "domain_test": shown.domain_test,
        "imdb_held": shown.imdb_held,
        "slice_rows": shown.slice_rows,
        "slice_current": shown.slice_current,
        "slice_anchor": shown.slice_anchor,
        "slice_bound": bound,
        "reason_sample": None,
    }


# --- Reporting. ---


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def result_line(r: Result) -> str:
    accepted = r.share(r.honest_counts, r.honest, LEARNED, HELD_OUT)
    learned = r.share(r.honest_counts, r.honest, LEARNED)
    quarantined = r.share(r.lie_counts, r.lies, QUARANTINED)
    ratio = "-" if r.lift_ratio is None else f"{r.lift_ratio:.2f}"
    pratio = "-" if r.probability_ratio is None else f"{r.probability_ratio:.2f}"
    kinds = lambda found: ", ".join(f"{k} {n}" for k, n in sorted(found.items())) or "-"  # noqa: E731
    slice_figures = (
        "-"
        if r.after.slice_current is None
        else f"{r.after.slice_current:.3f} / {r.after.slice_anchor:.3f} ({r.after.slice_rows})"
    )
    status = ", ".join(f"{s}x{n}" if n > 1 else s for s, n in Counter(r.status).items())
    return (
        f"| {r.domain} | {r.backend} | {r.seed} | {r.scenario} | {status} | {r.honest} "
        f"| {pct(accepted)} "
        f"| {pct(learned)} | {r.lies} | {pct(quarantined)} | {r.lie_counts.get(LEARNED, 0)} "
        f"| {r.lie_counts.get(HELD_OUT, 0)} | {acc(r.before.domain_test)} "
        f"| {acc(r.after.domain_test)} | {r.lift * 100:+.2f} | {ratio} "
        f"| {r.probability_lift * 100:+.2f} | {pratio} | {acc(r.after.imdb_held)} "
        f"| {slice_figures} | {kinds(r.honest_kinds)} | {kinds(r.lie_kinds)} | {r.seconds:.0f} |"
    )


HEADER = [
    "| domain | db | seed | scenario | status | honest | honest accepted % | honest learned % "
    "| lies | lies quarantined % | lies learned | lies held out | test acc before | after "
    "| lift (points) | lift / clean | P(true) lift (points) | P lift / clean | IMDb held-out "
    "| slice: current / anchor (rows) | honest quarantined by | lies quarantined by | s |",
    "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
]


def flood_lines(r: Result) -> list[str]:
    lines = [
        f"Floods ({r.scenario}), {r.domain} on {r.backend}, seed {r.seed}, one retrain each:",
        "",
        "| step | status | lies | quarantined | learned | held out | learned so far | version "
        "| test acc | IMDb held-out | slice rows | slice current | slice anchor | anchor - current "
        "| bound |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for s in r.steps:
        gap = (
            "-"
            if s["slice_current"] is None
            else f"{(s['slice_anchor'] - s['slice_current']) * 100:+.2f}"
        )
        lines.append(
            f"| {s['step']} | {s['status']} | {s['lies']} | {s['quarantined']} | {s['learned']} "
            f"| {s['held_out']} | {s['learned_so_far']} | {s['version']} | {acc(s['domain_test'])} "
            f"| {acc(s['imdb_held'])} | {s['slice_rows']} | {acc(s['slice_current'])} "
            f"| {acc(s['slice_anchor'])} | {gap} | {s['slice_bound'] * 100:.2f} |"
        )
    return lines


def verdicts(results: list[Result]) -> list[str]:
    lines = [
        "| domain | db | seed | target | measured | verdict |",
        "| --- | --- | ---: | --- | --- | --- |",
    ]

    def add(r: Result, target: str, measured: str, ok: bool) -> None:
        lines.append(
            f"| {r.domain} | {r.backend} | {r.seed} | {target} | {measured} "
            f"| {'PASS' if ok else 'FAIL'} |"
        )

    for r in results:
        if r.scenario in ("mixed", "mixed-spread"):
            accepted = r.share(r.honest_counts, r.honest, LEARNED, HELD_OUT)
            learned = r.share(r.honest_counts, r.honest, LEARNED)
            quarantined = r.share(r.lie_counts, r.lies, QUARANTINED)
            m = r.scenario
            add(r, f"{m}: promoted", ", ".join(r.status), r.status == [PROMOTED])
            add(
                r,
                f"{m}: >= 95% of honest accepted (learned + held out)",
                f"{pct(accepted)}% (learned alone {pct(learned)}%)",
                accepted >= HONEST_KEPT,
            )
            add(
                r,
                f"{m}: >= 80% of lies quarantined",
                f"{pct(quarantined)}% ({r.lie_counts.get(LEARNED, 0)} learned, "
                f"{r.lie_counts.get(HELD_OUT, 0)} held out)",
                quarantined >= LIES_QUARANTINED,
            )
            add(
                r,
                f"{m}: lift >= 80% of clean lift",
                ("-" if r.lift_ratio is None else f"{r.lift_ratio:.2f}")
                + f" (clean {r.lift / r.lift_ratio * 100 if r.lift_ratio else 0:+.2f} points; "
                + ("-" if r.probability_ratio is None else f"P(true) {r.probability_ratio:.2f}")
                + ")",
                r.lift_ratio is not None and r.lift_ratio >= LIFT_RATIO,
            )
        elif r.scenario in ("floods", "floods-spread"):
            floods = [s for s in r.steps if s["step"].startswith("flood")]
            learned = sum(s["learned"] for s in floods)
            held = sum(s["held_out"] for s in floods)
            add(
                r,
                f"{r.scenario}: none learned",
                f"{learned} learned ({held} held out)",
                learned == 0,
            )
            worst = max(
                (
                    (s["slice_anchor"] - s["slice_current"]) - s["slice_bound"]
                    for s in floods
                    if s["slice_current"] is not None
                ),
                default=None,
            )
            gaps = ", ".join(
                f"{(s['slice_anchor'] - s['slice_current']) * 100:+.1f}"
                for s in floods
                if s["slice_current"] is not None
            )
            add(
                r,
                f"{r.scenario}: slice accuracy within the bound of the anchor's",
                f"anchor - current per flood (points): {gaps}",
                worst is not None and worst <= 1e-9,
            )
        elif r.scenario in ("lies500", "lies500-spread"):
            learned = r.lie_counts.get(LEARNED, 0)
            add(
                r,
                f"{r.scenario}: 500 lies alone, none learned",
                f"{learned} learned, {r.lie_counts.get(QUARANTINED, 0)} quarantined",
                learned == 0,
            )
        elif r.scenario == "flips":
            add(r, "10% flips: promoted", ", ".join(r.status), r.status == [PROMOTED])
            add(
                r,
                "10% flips: a lift (test accuracy)",
                f"{r.lift * 100:+.2f} points (P(true) {r.probability_lift * 100:+.2f})",
                r.lift > 0,
            )
    return lines


SCENARIOS = (
    "clean",
    "mixed",
    "mixed-spread",
    "floods",
    "floods-spread",
    "lies500",
    "lies500-spread",
    "flips",
)
EXTRA: tuple[str, ...] = ()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=["rt", "imdb1"])
    parser.add_argument(
        "--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS + EXTRA
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="draws of rows and flips")
    parser.add_argument("--postgresql", action="store_true", help="PostgreSQL too (127.0.0.1)")
    parser.add_argument("--only-postgresql", action="store_true")
    parser.add_argument("--quick", action="store_true", help="RT on SQLite only")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.domains = ["rt"]
    backends = ["sqlite"]
    if args.postgresql:
        backends.append("postgresql")
    if args.only_postgresql:
        backends = ["postgresql"]
    started = time.perf_counter()
    base_store()
    trained = json.loads((BASE / "train.json").read_text())
    print(
        f"base: {trained['rows_trained']} IMDb rows, held-out {trained['holdout_accuracy']}",
        file=sys.stderr,
    )
    engine = db.make_engine(f"sqlite:///{BASE / 'reviews.sqlite'}")
    with db.make_session_factory(engine)() as session:
        anchor = model_store.load_current(session, BASE / "pkl_objects")
    engine.dispose()
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="bench-integrity-", dir="/dev/shm"))
    try:
        for domain in load_domains(args.domains):
            domain.positive = anchor.positive_probabilities(anchor.vectorize(domain.pool))
            for backend, seed in [(b, s) for b in backends for s in args.seeds]:
                clean = None
                for scenario in args.scenarios:
                    result = run_scenario(scenario, domain, backend, work, seed, anchor)
                    result.seed = seed
                    if scenario == "clean":
                        clean = result
                    if clean is not None:
                        if clean.lift:
                            result.lift_ratio = result.lift / clean.lift
                        if clean.probability_lift:
                            result.probability_ratio = (
                                result.probability_lift / clean.probability_lift
                            )
                    results.append(result)
                    print(f"seed {seed}: " + result_line(result), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    out = [
        f"Seeds {' '.join(map(str, args.seeds))}; base: the full IMDb model "
        f"({trained['rows_trained']} rows, held-out "
        f"accuracy {trained['holdout_accuracy']} on 5,000 rows); product settings (gate 0.01, "
        f"slice 10%, batch 1,000). Total {seconds:.0f} s.",
        "",
        *HEADER,
        *[result_line(r) for r in results],
        "",
    ]
    for r in results:
        if r.steps:
            out += flood_lines(r) + [""]
    out += ["Targets:", "", *verdicts(results)]
    print("\n".join(out))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    r.__dict__ | {"before": r.before.__dict__, "after": r.after.__dict__}
                    for r in results
                ],
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
