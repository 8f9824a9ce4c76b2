#!/usr/bin/env python
"""How much one BLAS thread saves ``learning.learn``: 1,000 Rotten Tomatoes labels learned
onto a pickled model, best of three, with ``learning``'s one-thread limit and without it,
side by side in one process; the weights must be the same.

    .venv/bin/python bench/learn_threads.py MODEL.pkl

MODEL.pkl: a pickled ``SentimentModel`` (``bench/screening.py`` caches the full IMDb model
in ``/dev/shm/movieclassifier-bench-screening-imdb.pkl``).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from movieclassifier import learning
from movieclassifier.model import Labelled, SentimentModel

RT = Path(__file__).resolve().parent.parent / "data" / "rt_polarity.csv.gz"


def best_of_three(model: SentimentModel, new: Labelled) -> tuple[float, np.ndarray]:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        learned = learning.learn(model, Labelled([], []), new)
        times.append(time.perf_counter() - started)
    return min(times), learned.classifier.coef_.copy()


def main(path: str) -> None:
    model = pickle.loads(Path(path).read_bytes())
    with gzip.open(RT, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:1001]
    new = Labelled([review for review, _ in rows], [int(label) for _, label in rows])
    one, limited = best_of_three(model, new)
    learning.threadpool_limits = lambda **_: contextlib.nullcontext()  # type: ignore[assignment]
    many, threaded = best_of_three(model, new)
    print(
        f"learn 1,000 RT labels: one BLAS thread {one:.2f} s, default threads {many:.2f} s, "
        f"ratio {many / one:.1f}x, max |weight difference| {np.abs(limited - threaded).max():.1e}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
