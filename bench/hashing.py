"""The C hashing of movieclassifier.features against scikit-learn's HashingVectorizer
computing the same features (its Python analyzer feeding its murmurhash): equal matrices,
different speeds.

    .venv/bin/python bench/hashing.py [--reviews 5000]

Prints docs/s of each on one core, features per review, whether the two matrices are
equal, and the time of one review of typical length (1,393 characters).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import time
from pathlib import Path

import numpy as np

from movieclassifier import features

DATA = Path(__file__).resolve().parent.parent / "data" / "movie_data.csv.gz"


def per_second(function, texts: list[str]) -> float:
    started = time.perf_counter()
    function(texts)
    return len(texts) / (time.perf_counter() - started)


def one_review_microseconds(function, review: str, repeat: int = 2000) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            function([review])
        best = min(best, (time.perf_counter() - started) / repeat * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000)
    args = parser.parse_args()
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        texts = [row["review"] for row in itertools.islice(csv.DictReader(handle), args.reviews)]
    if features.C_BACKEND is None:
        raise SystemExit("the C extension is not built: run `make build` first")
    reference = features.make_hashing_vectorizer()
    typical = min(texts, key=lambda review: abs(len(review) - 1393))
    rates = {}
    for name, function in (
        ("scikit-learn HashingVectorizer", reference.transform),
        ("movieclassifier features.transform (C)", features.transform),
    ):
        rates[name] = rate = per_second(function, texts)
        nnz = function(texts).nnz / len(texts)
        single = one_review_microseconds(function, typical)
        print(f"{name:36s} {rate:9,.0f} docs/s  {nnz:6.1f} features/review", end="  ")
        print(f"{single:6.0f} µs for one review")
    ours, theirs = features.transform(texts).sorted_indices(), reference.transform(texts)
    theirs.sort_indices()
    same = np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(
        ours.indices, theirs.indices
    )
    close = np.allclose(ours.data, theirs.data, rtol=1e-6)
    print(f"same columns in every row: {same}; values equal within 1e-6: {close}")
    first, second = rates.values()
    print(f"speed-up: {second / first:.1f}x")


if __name__ == "__main__":
    main()
