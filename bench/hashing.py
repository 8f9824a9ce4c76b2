"""Why text.py hashes in numpy: the same tokens and 1-3-grams through scikit-learn's
HashingVectorizer (a Python analyzer feeding its murmurhash) against text.transform.

    .venv/bin/python bench/hashing.py [--reviews 5000]

Prints docs/s of each on one core, features per review (equal up to hash collisions),
and the time of one review of typical length.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from movieclassifier import text  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data" / "movie_data.csv.gz"


def analyze(review: str) -> list[str]:
    """The project's tokens and their 1-3-grams, as strings for scikit-learn to hash."""
    tokens = text.tokenize(review)
    bigrams = [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    trigrams = [f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)]
    return tokens + bigrams + trigrams


def per_second(function, texts: list[str]) -> float:
    started = time.perf_counter()
    function(texts)
    return len(texts) / (time.perf_counter() - started)


def one_review_microseconds(function, review: str, repeat: int = 2000) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        function([review])
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000)
    args = parser.parse_args()
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        texts = [row[0] for _, row in zip(range(args.reviews), reader, strict=False)]
    sklearn_vectorizer = HashingVectorizer(
        analyzer=analyze,
        n_features=text.N_FEATURES,
        alternate_sign=False,
        binary=True,
        norm="l2",
        dtype=np.float32,
    )
    typical = min(texts, key=lambda review: abs(len(review) - 1393))
    for name, function in (
        ("scikit-learn HashingVectorizer", sklearn_vectorizer.transform),
        ("movieclassifier text.transform", text.transform),
    ):
        rate = per_second(function, texts)
        nnz = function(texts).nnz / len(texts)
        single = one_review_microseconds(function, typical)
        print(f"{name:32s} {rate:9,.0f} docs/s  {nnz:6.1f} features/review", end="  ")
        print(f"{single:6.0f} µs for one review (transform only)")


if __name__ == "__main__":
    main()
