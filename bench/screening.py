#!/usr/bin/env python
"""Per-label screening (movieclassifier/screening.py): which answers of a batch are lies?

The IMDb model (the trainer's defaults on the first 45,000 IMDb rows, cached in /dev/shm),
answers drawn from a new domain, and a few recipes side by side. For each scenario and recipe:
honest answers kept, lies suspect, the domain's unseen accuracy before and after
``learning.learn(base, replay, kept)``, the share of the clean lift (learning only the
honest answers) that remains, and the seconds the screen took.

    .venv/bin/python bench/screening.py --domains rt --seeds 0 1 2 3 4   # about 2 minutes
    .venv/bin/python bench/screening.py --domains imdb1 --seeds 0 1 2
    .venv/bin/python bench/screening.py --quick         # seed 0, RT only
    .venv/bin/python bench/screening.py --sweep --domains rt --seeds 0 1 2 3 4   # thresholds

Recipes: ``model`` (the current model's probability against the answer >= ``CONFIDENT``),
``kfold`` (the same test by a model fitted on the other folds of the batch, first seed only),
``screen`` (the module, ``movieclassifier.screening.screen``, without sources: ``model`` plus
the batch surplus and the flood rule), ``screen+src`` (the module with sources: what the
module is meant to be called with), ``flood-agreeing-kept`` (the module, but a flood's
answers that agree with the model kept: the rule it replaced).

Domains: ``rt`` answers from Rotten Tomatoes rows 0-4999, tested on rows 5000 on (as
bench/feedback.py); ``imdb1`` the first sentence of IMDb's last 5,000 rows (never trained on),
answers from the first 2,500 of them, tested on the rest.

Scenarios: ``honest`` 600 true answers; ``mixed`` 50 targeted lies (true label positive, the
model's p(positive) >= 0.8, answered negative) among 550 honest ones; ``mixed-weak`` the same
with lies the model is less sure of (0.65 <= p < 0.8); ``flips`` 600 answers of which 10% are
inverted at random; ``lies500`` 500 inverted answers alone; ``flood`` 120 inverted answers
alone, six batches in succession, each screened by the model that learned what was kept
before. With ``+src`` a recipe also gets sources: honest answers from 200 senders, each
scenario's lies from one.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import pickle
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from movieclassifier import learning, screening
from movieclassifier.model import Labelled, SentimentModel

REPO = Path(__file__).resolve().parent.parent
RT = REPO / "data" / "rt_polarity.csv.gz"
IMDB = REPO / "data" / "movie_data.csv.gz"
CACHE = Path("/dev/shm/movieclassifier-bench-screening-imdb.pkl")
RT_TEST_FROM = 5000
IMDB_TRAIN_ROWS = 45_000
NONE = Labelled([], [])
FOLDS = 5
HONEST_SOURCES = 200

Recipe = Callable[
    [SentimentModel, SentimentModel, Labelled, Labelled, list[str | None] | None], list[bool]
]


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [r for r, _ in rows], np.array([int(y) for _, y in rows])


def imdb_model() -> SentimentModel:
    """The trainer's default model on IMDb's first 45,000 rows (last 5,000 held out)."""
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    from movieclassifier import db, model_store, training

    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{tmp}/bench.sqlite")
        db.init_db(engine)
        sessions = db.make_session_factory(engine)
        training.train_from_csv(IMDB, sessions, Path(tmp) / "pkl", holdout=5000)
        with sessions() as session:
            model = model_store.load_current(session, Path(tmp) / "pkl")
        engine.dispose()
    CACHE.write_bytes(pickle.dumps(model))
    return model


def first_sentence(review: str) -> str:
    return re.split(r"(?<=[.!?])\s+", review.replace("<br />", " "), maxsplit=1)[0]


@dataclass
class Domain:
    name: str
    pool: list[str]
    pool_labels: np.ndarray
    test: list[str]
    test_labels: list[int]


def domains(names: list[str]) -> list[Domain]:
    found = []
    if "rt" in names:
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
    if "imdb1" in names:
        texts, labels = read_csv(IMDB)
        short = [first_sentence(t) for t in texts[IMDB_TRAIN_ROWS:]]
        rest = labels[IMDB_TRAIN_ROWS:]
        found.append(Domain("imdb1", short[:2500], rest[:2500], short[2500:], rest[2500:].tolist()))
    return found


# The recipes: each answers, per row, whether it is suspect.


def by_model(current, base, replay, new, sources) -> list[bool]:
    """Suspect when the current model is confident against the answer (``CONFIDENT``)."""
    positive = current.positive_probabilities(current.vectorize(new.texts))
    against = np.where(np.asarray(new.labels) == 1, 1 - positive, positive)
    return list(against >= screening.CONFIDENT)


def by_kfold(current, base, replay, new, sources) -> list[bool]:
    """Suspect when a model fitted on the other folds of the batch (``learning.learn`` from
    ``base`` with the replay) is confident against the answer."""
    count = len(new.texts)
    folds = np.arange(count) % FOLDS
    labels = np.asarray(new.labels)
    against = np.zeros(count)
    for fold in range(FOLDS):
        train = np.flatnonzero(folds != fold)
        held = np.flatnonzero(folds == fold)
        model = learning.learn(
            base,
            replay,
            Labelled([new.texts[i] for i in train], [int(labels[i]) for i in train]),
        )
        positive = model.positive_probabilities(model.vectorize([new.texts[i] for i in held]))
        against[held] = np.where(labels[held] == 1, 1 - positive, positive)
    return list(against >= screening.CONFIDENT)


def by_screen(current, base, replay, new, sources) -> list[bool]:
    """The module: confident disagreement, plus the batch's surplus (no sources)."""
    return [v.suspect for v in screening.screen(current, base, replay, new)]


def by_screen_sources(current, base, replay, new, sources) -> list[bool]:
    """The module with sources."""
    return [v.suspect for v in screening.screen(current, base, replay, new, sources)]


def by_screen_flood_disagreeing(current, base, replay, new, sources) -> list[bool]:
    """The module, but a flood's answers that agree with the model are kept (the rule
    measured before the module quarantined a whole flood)."""
    verdicts = screening.screen(current, base, replay, new)
    return [v.suspect and not ("flood" in v.reason and v.score <= 0.5) for v in verdicts]


RECIPES: dict[str, Recipe] = {
    "model": by_model,
    "kfold": by_kfold,
    "screen": by_screen,
    "screen+src": by_screen_sources,
    "flood-agreeing-kept": by_screen_flood_disagreeing,
}


@dataclass
class Batch:
    texts: list[str]
    answers: list[int]
    lie: np.ndarray
    sources: list[str | None]


def batch(
    domain: Domain, rows: np.ndarray, answers: np.ndarray, lie: np.ndarray, rng, liar: bool = True
) -> Batch:
    """The rows in a random order; honest answers from random senders, lies from one
    sender (``liar``) or, when they are random mistakes, from random senders too."""
    sources: list[str | None] = [
        "liar" if is_lie and liar else f"user{rng.integers(HONEST_SOURCES)}" for is_lie in lie
    ]
    order = rng.permutation(len(rows))
    return Batch(
        [domain.pool[i] for i in rows[order]],
        answers[order].astype(int).tolist(),
        lie[order],
        [sources[i] for i in order],
    )


def scenario_batches(name: str, domain: Domain, base: SentimentModel, seed: int) -> list[Batch]:
    rng = np.random.default_rng(seed)
    pool = rng.permutation(len(domain.pool))
    truth = domain.pool_labels
    positive = base.positive_probabilities(base.vectorize(domain.pool))
    if name == "honest":
        rows = pool[:600]
        return [batch(domain, rows, truth[rows], np.zeros(600, bool), rng)]
    if name in ("mixed", "mixed-weak"):
        low, high = (0.8, 1.01) if name == "mixed" else (0.65, 0.8)
        liars = [i for i in pool if truth[i] == 1 and low <= positive[i] < high][:50]
        taken = set(liars)
        honest = np.array([i for i in pool if i not in taken][:550])
        rows = np.concatenate([np.array(liars), honest])
        answers = np.concatenate([np.zeros(len(liars), int), truth[honest]])
        lie = np.concatenate([np.ones(len(liars), bool), np.zeros(550, bool)])
        return [batch(domain, rows, answers, lie, rng)]
    if name == "flips":
        rows = pool[:600]
        lie = rng.random(600) < 0.10
        answers = np.where(lie, 1 - truth[rows], truth[rows])
        return [batch(domain, rows, answers, lie, rng, liar=False)]
    if name == "lies500":
        rows = pool[:500]
        return [batch(domain, rows, 1 - truth[rows], np.ones(500, bool), rng)]
    if name == "flood":
        return [
            batch(
                domain,
                pool[k * 120 : (k + 1) * 120],
                1 - truth[pool[k * 120 : (k + 1) * 120]],
                np.ones(120, bool),
                rng,
            )
            for k in range(6)
        ]
    raise ValueError(name)


SCENARIOS = ["honest", "mixed", "mixed-weak", "flips", "lies500", "flood"]


@dataclass
class Outcome:
    honest_kept: float
    lies_suspect: float
    before: float
    after: float
    clean: float
    seconds: float
    kept_per_batch: list[int]
    imdb_after: float = float("nan")

    def lift_ratio(self) -> float:
        clean = self.clean - self.before
        return (self.after - self.before) / clean if clean > 1e-9 else float("nan")


_CLEAN: dict[tuple[int, ...], float] = {}
_IMDB_TEST: list = []


def imdb_accuracy(model: SentimentModel) -> float:
    """Accuracy on IMDb's last 5,000 reviews (whole), the trainer's held-out rows: what the
    gate scores."""
    if not _IMDB_TEST:
        texts, labels = read_csv(IMDB)
        _IMDB_TEST.extend([model.vectorize(texts[IMDB_TRAIN_ROWS:]), labels[IMDB_TRAIN_ROWS:]])
    return model.accuracy_of_features(_IMDB_TEST[0], _IMDB_TEST[1])


def clean_accuracy(base: SentimentModel, clean: Labelled, domain: Domain) -> float:
    """Accuracy after learning only the honest answers (the same for every recipe: cached)."""
    key = (id(base), id(domain), hash(tuple(clean.texts)), hash(tuple(clean.labels)))
    if key not in _CLEAN:
        model = learning.learn(base, NONE, clean)
        _CLEAN[key] = model.accuracy(domain.test, domain.test_labels)
    return _CLEAN[key]


def run(recipe: Recipe, batches: list[Batch], base: SentimentModel, domain: Domain) -> Outcome:
    replay = Labelled([], [])
    current = base
    honest = honest_kept = lies = lies_suspect = 0
    seconds = 0.0
    kept_per_batch = []
    clean = Labelled([], [])
    for made in batches:
        new = Labelled(made.texts, made.answers)
        start = time.perf_counter()
        suspect = recipe(current, base, replay, new, made.sources)
        seconds += time.perf_counter() - start
        flags = np.asarray(suspect, bool)
        honest += int(np.sum(~made.lie))
        honest_kept += int(np.sum(~made.lie & ~flags))
        lies += int(np.sum(made.lie))
        lies_suspect += int(np.sum(made.lie & flags))
        keep = np.flatnonzero(~flags)
        kept_per_batch.append(len(keep))
        replay = Labelled(
            replay.texts + [made.texts[i] for i in keep],
            replay.labels + [made.answers[i] for i in keep],
        )
        clean = Labelled(
            clean.texts + [t for t, bad in zip(made.texts, made.lie, strict=True) if not bad],
            clean.labels + [a for a, bad in zip(made.answers, made.lie, strict=True) if not bad],
        )
        current = learning.learn(base, NONE, replay)
    before = base.accuracy(domain.test, domain.test_labels)
    after = current.accuracy(domain.test, domain.test_labels)
    clean_after = clean_accuracy(base, clean, domain)
    return Outcome(
        honest_kept / honest if honest else float("nan"),
        lies_suspect / lies if lies else float("nan"),
        before,
        after,
        clean_after,
        seconds,
        kept_per_batch,
        imdb_accuracy(current),
    )


def percent(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}"


def timing(base: SentimentModel, domain: Domain, recipes: list[str]) -> list[str]:
    """Seconds to screen 1,000 answers with a 5,000-label replay (the served model learned it):
    the fastest and slowest of 5 runs (kfold: 1)."""
    rng = np.random.default_rng(0)
    texts, labels = read_csv(RT)
    rows = rng.permutation(len(texts))
    replay = Labelled([texts[i] for i in rows[:5000]], labels[rows[:5000]].tolist())
    new = Labelled([texts[i] for i in rows[5000:6000]], labels[rows[5000:6000]].tolist())
    current = learning.learn(base, NONE, replay)
    sources: list[str | None] = [f"user{i % HONEST_SOURCES}" for i in range(1000)]
    lines = []
    for name in recipes:
        times = []
        for _ in range(1 if name == "kfold" else 5):
            start = time.perf_counter()
            RECIPES[name](current, base, replay, new, sources)
            times.append(time.perf_counter() - start)
        lines.append(f"| {name} | {min(times):.3f} | {max(times):.3f} | {len(times)} |")
    return lines


def sweep(args, base: SentimentModel) -> None:
    """The module's thresholds varied, without sources: mean (min) over seeds."""
    print(
        "| domain | CONFIDENT | SURPLUS_Z | scenario | honest kept % | lies suspect % | "
        "lift ratio |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    saved = screening.CONFIDENT, screening.SURPLUS_Z
    names = [name for name in args.scenarios if name in ("honest", "mixed", "mixed-weak", "flips")]
    for domain in domains(args.domains):
        made = {
            (name, seed): scenario_batches(name, domain, base, seed)
            for name in names
            for seed in args.seeds
        }
        for confident in args.confident:
            for z in args.surplus_z:
                screening.CONFIDENT, screening.SURPLUS_Z = confident, z
                for name in names:
                    got = [run(by_screen, made[name, seed], base, domain) for seed in args.seeds]
                    print(
                        f"| {domain.name} | {confident} | {z} | {name} | "
                        f"{_mean_min([o.honest_kept for o in got], percent)} | "
                        f"{_mean_min([o.lies_suspect for o in got], percent)} | "
                        f"{_mean_min([o.lift_ratio() for o in got], '{:.2f}'.format)} |",
                        flush=True,
                    )
    screening.CONFIDENT, screening.SURPLUS_Z = saved


def _mean_min(values: list[float], show: Callable[[float], str]) -> str:
    known = [v for v in values if v == v]
    if not known:
        return "n/a"
    return f"{show(float(np.mean(known)))} ({show(min(known))})"


def diagnostics(args, base: SentimentModel) -> str:
    """What the batch rules see in each scenario's first batch: the inverted share estimated
    for the reviews the model calls positive and negative, and the z of one sender of all."""
    lines = [
        "",
        "First batch of each scenario: estimated inverted share (model-positive group / "
        "model-negative group), and the z of the whole batch as one source.",
        "",
        "| domain | scenario | " + " | ".join(f"seed {seed}" for seed in args.seeds) + " |",
        "| --- | --- | " + " | ".join("---" for _ in args.seeds) + " |",
    ]
    for domain in domains(args.domains):
        for name in args.scenarios:
            cells = []
            for seed in args.seeds:
                made = scenario_batches(name, domain, base, seed)[0]
                positive = base.positive_probabilities(base.vectorize(made.texts))
                answers = np.asarray(made.answers)
                against = np.where(answers == 1, 1 - positive, positive)
                expect = np.minimum(positive, 1 - positive)
                shares = [
                    screening._inverted_share(against[group] > 0.5, expect[group])
                    for group in (positive >= 0.5, positive < 0.5)
                ]
                spread = float(np.sqrt(np.sum(expect * (1 - expect))))
                z = (np.sum(against > 0.5) - np.sum(expect)) / spread
                cells.append(f"{shares[0]:.2f} / {shares[1]:.2f}, z {z:.1f}")
            lines.append(f"| {domain.name} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(results: dict[tuple[str, str, str], list[Outcome]]) -> str:
    """Each domain, scenario and recipe over its seeds: mean (min), and the lift in points."""
    lines = [
        "",
        "Over seeds: mean (min); lift in points of unseen accuracy, kept rows against clean.",
        "",
        "| domain | scenario | recipe | seeds | honest kept % | lies suspect % | "
        "acc after | lift | clean lift | lift ratio | ratio of mean lifts | IMDb after |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (domain, name, recipe), outs in results.items():
        lift = float(np.mean([o.after - o.before for o in outs]))
        clean = float(np.mean([o.clean - o.before for o in outs]))
        ratio = f"{lift / clean:.2f}" if clean > 1e-9 else "n/a"
        lines.append(
            f"| {domain} | {name} | {recipe} | {len(outs)} | "
            f"{_mean_min([o.honest_kept for o in outs], percent)} | "
            f"{_mean_min([o.lies_suspect for o in outs], percent)} | "
            f"{np.mean([o.after for o in outs]):.4f} | {100 * lift:+.2f} | {100 * clean:+.2f} | "
            f"{_mean_min([o.lift_ratio() for o in outs], '{:.2f}'.format)} | {ratio} | "
            f"{np.mean([o.imdb_after for o in outs]):.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--domains", nargs="+", default=["rt", "imdb1"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS)
    parser.add_argument("--quick", action="store_true", help="seed 0, RT only")
    parser.add_argument(
        "--kfold-all-seeds", action="store_true", help="run kfold on every seed (slow)"
    )
    parser.add_argument("--sweep", action="store_true", help="vary CONFIDENT and SURPLUS_Z")
    parser.add_argument("--confident", type=float, nargs="+", default=[0.75, 0.8, 0.85, 0.9])
    parser.add_argument("--surplus-z", type=float, nargs="+", default=[2.0, 3.0])
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.domains = [0], ["rt"]
    started = time.perf_counter()
    base = imdb_model()
    if args.sweep:
        sweep(args, base)
        print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return
    print(f"IMDb model: held-out IMDb accuracy {imdb_accuracy(base):.4f} before any feedback.\n")
    print(
        "| domain | scenario | seed | recipe | honest kept % | lies suspect % | "
        "acc before | acc after | clean after | lift ratio | kept per batch | IMDb after | "
        "screen s |"
    )
    print(
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    )
    results: dict[tuple[str, str, str], list[Outcome]] = {}
    for domain in domains(args.domains):
        for name in args.scenarios:
            for seed in args.seeds:
                batches = scenario_batches(name, domain, base, seed)
                for recipe in args.recipes:
                    if recipe == "kfold" and seed != args.seeds[0] and not args.kfold_all_seeds:
                        continue  # k fits per batch: the first seed only, to keep the run short
                    out = run(RECIPES[recipe], batches, base, domain)
                    results.setdefault((domain.name, name, recipe), []).append(out)
                    ratio = out.lift_ratio()
                    kept = ",".join(map(str, out.kept_per_batch))
                    print(
                        f"| {domain.name} | {name} | {seed} | {recipe} | "
                        f"{percent(out.honest_kept)} | {percent(out.lies_suspect)} | "
                        f"{out.before:.4f} | {out.after:.4f} | {out.clean:.4f} | "
                        f"{'n/a' if ratio != ratio else f'{ratio:.2f}'} | {kept} | "
                        f"{out.imdb_after:.4f} | "
                        f"{out.seconds:.2f} |",
                        flush=True,
                    )
    print(summary(results))
    print(diagnostics(args, base))
    print(
        "\n1,000 answers, 5,000-label replay:\n\n"
        "| recipe | fastest s | slowest s | runs |\n| --- | ---: | ---: | ---: |"
    )
    print("\n".join(timing(base, domains(["rt"])[0], args.recipes)))
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
