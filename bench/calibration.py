#!/usr/bin/env python
"""Are the probabilities calibrated? ECE, Brier, log-loss and accuracy, per version.

One run, on a scratch SQLite store under /dev/shm:

1. ``scripts/train_stream.py data/movie_data.csv.gz --holdout 5000`` trains the IMDb-only
   base (its calibration is fitted on the 5,000 held-out rows);
2. ``--rt-labels`` (1,000) Rotten Tomatoes answers with their true labels are given through
   the real code (``feedback.store_predictions`` with the served model's predictions, then
   ``feedback.add``) and learned by ``retrain.retrain`` with the default settings
   (``GATE_FEEDBACK_SLICE`` 0.1: a tenth is held out of learning, and the calibration is
   refitted on the held-out rows plus that slice).

Each version is scored on the 5,000 IMDb held-out rows and on 5,000 RT rows never answered
(rows 5,000 to 9,999 of ``data/rt_polarity.csv.gz`` after a seeded shuffle), and the base
also on all 10,662 RT rows (none answered yet, the issue's figure), both raw
(the classifier's own sigmoid) and as served (``model.predict``). The same-scores Platt
fit (scale and intercept, fitted on the same held-out rows) is shown for comparison: its
intercept moves the threshold, so it changes labels. Results: bench/results/calibration.md.

    PYTHONPATH=tests .venv/bin/python bench/calibration.py [--rt-labels 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from loop_helpers import add_labelled
from movieclassifier import db, holdout, model_store, reliability, retrain
from movieclassifier.config import Settings
from movieclassifier.model import Labelled, SentimentModel

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "calibration.md"


def read_rt(seed: int) -> tuple[list[tuple[str, int]], Labelled, Labelled]:
    """The answers to give, the 5,000 RT rows never answered, and all 10,662 rows."""
    with gzip.open(REPO / "data" / "rt_polarity.csv.gz", "rt", encoding="utf-8") as handle:
        rows = [(row["review"], int(row["sentiment"])) for row in csv.DictReader(handle)]
    every = Labelled.of(rows)
    random.Random(seed).shuffle(rows)
    return rows[:5000], Labelled.of(rows[5000:10000]), every


def figures(model: SentimentModel, rows: Labelled) -> dict[str, dict[str, float]]:
    raw = expit(model.scores(model.vectorize(rows.texts)))
    served = np.array([p.positive_probability for p in model.predict(rows.texts)])
    return {name: measure(p, rows.labels) for name, p in (("raw", raw), ("served", served))}


def measure(positive: np.ndarray, labels: list[int]) -> dict[str, float]:
    return {
        "ece": reliability.ece(positive, labels),
        "brier": reliability.brier(positive, labels),
        "log_loss": reliability.log_loss(positive, labels),
        "accuracy": reliability.accuracy(positive, labels),
    }


def platt(model: SentimentModel, fit_on: Labelled, rows: Labelled) -> dict[str, float]:
    fitted = LogisticRegression(C=1e6).fit(
        model.scores(model.vectorize(fit_on.texts)).reshape(-1, 1), fit_on.labels
    )
    scores = model.scores(model.vectorize(rows.texts)).reshape(-1, 1)
    return measure(fitted.predict_proba(scores)[:, 1], rows.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rt-labels", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    answers, rt_test, rt_all = read_rt(args.seed)
    with tempfile.TemporaryDirectory(dir="/dev/shm") as scratch:
        settings = Settings(database_url=f"sqlite:///{scratch}/db.sqlite", model_dir=Path(scratch))
        env = {**os.environ, "DATABASE_URL": settings.database_url, "MODEL_DIR": scratch}
        flask = [str(Path(sys.executable).parent / "flask"), "--app", "movieclassifier"]
        subprocess.run([*flask, "init-db"], env=env, check=True, capture_output=True)
        train = [sys.executable, str(REPO / "scripts" / "train_stream.py")]
        subprocess.run(
            [*train, str(REPO / "data" / "movie_data.csv.gz"), "--holdout", "5000"],
            env=env,
            check=True,
            capture_output=True,
        )
        engine = db.make_engine(settings.database_url)
        sessions = db.make_session_factory(engine)
        add_labelled(sessions, settings.model_dir, answers[: args.rt_labels])
        report = retrain.retrain(engine, settings)
        results = []
        with sessions() as session:
            imdb = holdout.load(session, holdout.set_of(session, 1))
            for version in (1, report.version):
                row = model_store.get_version(session, version)
                model = model_store.load(session, version, settings.model_dir)
                results.append(
                    {
                        "version": version,
                        "status": row.status,
                        "imdb_rows": len(imdb.texts),
                        "calibration": row.details["calibration"],
                        "imdb": figures(model, imdb),
                        "rt": figures(model, rt_test),
                        # Before any RT answer every RT row is unseen.
                        **({"rt_all": figures(model, rt_all)} if version == 1 else {}),
                        "rt_platt_fitted_on_imdb": platt(model, imdb, rt_test),
                    }
                )
        engine.dispose()
    print(json.dumps({"report": report.as_dict(), "versions": results}, indent=2, default=str))
    if not args.no_write:
        RESULTS.write_text(markdown(results, report, args))


def markdown(results: list[dict], report: retrain.RetrainReport, args: argparse.Namespace) -> str:
    lines = [
        "# Calibration: ECE, Brier, log-loss and accuracy per version",
        "",
        "`PYTHONPATH=tests .venv/bin/python bench/calibration.py"
        f" --rt-labels {args.rt_labels} --seed {args.seed}` (one run). ECE over 10",
        "equal-width bins of the confidence of the label shown. *raw*: the classifier's own",
        "sigmoid; *served*: what the pages, the API and the stored predictions show.",
        "",
        f"Version 2 learned {report.learned} of {args.rt_labels} RT answers, held "
        f"{report.held_out} out as the domain slice, quarantined {report.quarantined}; "
        f"status {report.status}.",
        "",
        "| version | rows | calibration | ECE raw | ECE served | Brier raw | Brier served "
        "| log-loss raw | log-loss served | accuracy raw | accuracy served |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        fitted = result["calibration"]
        about = f"T = {fitted['temperature']:.3f} on {fitted['fitted_on']}"
        sets = [("imdb", f"IMDb held-out {result['imdb_rows']:,}"), ("rt", "RT unseen 5,000")]
        if "rt_all" in result:
            sets.append(("rt_all", "RT all 10,662"))
        for domain, name in sets:
            raw, served = result[domain]["raw"], result[domain]["served"]
            lines.append(
                f"| {result['version']} | {name} | {about} | {raw['ece']:.4f} | "
                f"**{served['ece']:.4f}** | {raw['brier']:.4f} | {served['brier']:.4f} | "
                f"{raw['log_loss']:.4f} | {served['log_loss']:.4f} | {raw['accuracy']:.4f} | "
                f"{served['accuracy']:.4f} |"
            )
    lines += [
        "",
        "Platt scaling (scale and intercept, fitted on the IMDb held-out rows) on the RT rows:",
        "",
    ]
    for result in results:
        p = result["rt_platt_fitted_on_imdb"]
        lines.append(
            f"- version {result['version']}: ECE {p['ece']:.4f}, accuracy {p['accuracy']:.4f}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
