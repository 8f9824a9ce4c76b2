#!/usr/bin/env python
"""The review queue's order against a random one: how many labels buy how much accuracy?

The IMDb model (the trainer's defaults on IMDb's first 45,000 rows, cached in /dev/shm and
shared with bench/screening.py) meets Rotten Tomatoes. Rows 0-4999 are the traffic whose
predictions wait to be answered (each seed draws 4,000 of them), rows 5000 on the test set.
Every 100 labels a retrain learns all labels so far on top of the base with the service's
recipe (``learning.learn(base, replay, new)``: the base plus a correction); the lift is the
test accuracy then minus the base's. Three orders of the same pool:

- ``random``: the answers people give in the order predictions happen to be shown;
- ``queue``: the queue's order (``review_queue.most_uncertain``: the stored probability
  closest to 50%), ranked by the version in service: after each retrain the rest of the pool
  is ranked again by the new version, as the queue of a new version holds what it served;
- ``queue, base ranking``: ranked once by the base and never again.

    .venv/bin/python bench/active.py                  # 5 seeds, to 1,000 labels
    .venv/bin/python bench/active.py --seeds 0 --quick

Writes bench/results/active.svg (the curves, mean and the range over seeds) and prints the
table of bench/results/active.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

# bench/screening.py's corpus reader and IMDb base (cached in /dev/shm), not a copy.
from screening import imdb_model, read_csv

from movieclassifier import learning, review_queue
from movieclassifier.model import Labelled, SentimentModel

REPO = Path(__file__).resolve().parent.parent
RT = REPO / "data" / "rt_polarity.csv.gz"
RESULTS = REPO / "bench" / "results"
RT_TEST_FROM = 5000
POOL_ROWS = 4000
NONE = Labelled([], [])
ORDERS = ("random", "queue", "queue, base ranking")


def labelled(texts: list[str], labels: np.ndarray, rows: list[int]) -> Labelled:
    return Labelled([texts[i] for i in rows], [int(labels[i]) for i in rows])


def curve(
    base: SentimentModel,
    order: str,
    pool: list[str],
    pool_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    points: list[int],
    rng: np.random.Generator,
) -> list[float]:
    """Test accuracy after each number of labels in ``points``, taken in ``order``."""
    base_accuracy = base.accuracy_of_features(test, test_labels)
    features = base.vectorize(pool)
    if order == "random":
        ranking = list(rng.permutation(len(pool)))
    else:
        ranking = list(review_queue.most_uncertain(base.positive_probabilities(features)))
    taken: list[int] = []
    model = base
    accuracies = [base_accuracy]
    for size in points[1:]:
        if order == "queue" and taken:
            # The queue of the new version: the rest of the pool ranked by it.
            rest = np.array(sorted(set(range(len(pool))) - set(taken)))
            ranking = list(
                rest[review_queue.most_uncertain(model.positive_probabilities(features[rest]))]
            )
        else:
            seen = set(taken)
            ranking = [i for i in ranking if i not in seen]
        taken += ranking[: size - len(taken)]
        model = learning.learn(base, NONE, labelled(pool, pool_labels, taken))
        accuracies.append(model.accuracy_of_features(test, test_labels))
    return accuracies


def run(seeds: list[int], points: list[int]) -> dict[str, np.ndarray]:
    base = imdb_model()
    texts, labels = read_csv(RT)
    test = base.vectorize(texts[RT_TEST_FROM:])
    test_labels = labels[RT_TEST_FROM:]
    lifts: dict[str, list[list[float]]] = {order: [] for order in ORDERS}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rows = sorted(rng.choice(RT_TEST_FROM, POOL_ROWS, replace=False))
        pool = [texts[i] for i in rows]
        pool_labels = labels[rows]
        for order in ORDERS:
            started = time.perf_counter()
            accuracies = curve(base, order, pool, pool_labels, test, test_labels, points, rng)
            lifts[order].append([a - accuracies[0] for a in accuracies])
            print(
                f"seed {seed} {order:>20}: base {accuracies[0]:.4f}, "
                f"{points[-1]} labels {accuracies[-1]:.4f} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return {order: np.array(found) for order, found in lifts.items()}


def labels_to_reach(lift: np.ndarray, points: list[int], target: float) -> int | None:
    """The fewest labels of ``points`` whose mean lift reaches ``target``."""
    for size, value in zip(points, lift, strict=True):
        if value >= target:
            return size
    return None


def plot(lifts: dict[str, np.ndarray], points: list[int], target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    for order, style in zip(ORDERS, ("-o", "-s", "--^"), strict=True):
        found = lifts[order] * 100
        axes.plot(points, found.mean(axis=0), style, label=order, markersize=4)
        axes.fill_between(points, found.min(axis=0), found.max(axis=0), alpha=0.15)
    axes.axhline(target * 100, color="grey", linewidth=0.8, linestyle=":")
    axes.annotate(
        "lift of 1,000 random labels",
        (points[1], target * 100),
        fontsize=8,
        xytext=(0, 3),
        textcoords="offset points",
        color="grey",
    )
    axes.set_xlabel("labels answered")
    axes.set_ylabel("Rotten Tomatoes test accuracy lift (points)")
    axes.set_title("IMDb model learning Rotten Tomatoes: queue order vs random order")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, metadata={"Date": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="To 400 labels, steps of 200.")
    parser.add_argument("--plot", type=Path, default=RESULTS / "active.svg")
    args = parser.parse_args()
    if args.quick:
        args.labels, args.step = 400, 200
    points = list(range(0, args.labels + 1, args.step))
    lifts = run(args.seeds, points)
    means = {order: found.mean(axis=0) for order, found in lifts.items()}
    target = float(means["random"][-1])
    print("\n| labels | " + " | ".join(ORDERS) + " |")
    print("| ---: | " + " | ".join("---:" for _ in ORDERS) + " |")
    for index, size in enumerate(points):
        cells = [
            f"{means[o][index] * 100:+.2f} ({lifts[o][:, index].min() * 100:+.2f} to "
            f"{lifts[o][:, index].max() * 100:+.2f})"
            for o in ORDERS
        ]
        print(f"| {size} | " + " | ".join(cells) + " |")
    for order in ORDERS[1:]:
        reached = labels_to_reach(means[order], points, target)
        print(
            f"{order}: reaches the lift of {points[-1]} random labels "
            f"({target * 100:+.2f} points) with {reached} labels"
        )
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot(lifts, points, target, args.plot)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
