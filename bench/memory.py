#!/usr/bin/env python
"""Is training memory flat in the file's size? train_stream.py on movie_data and on 10x it.

Builds, in a temporary directory (never committed), a plain CSV (or, with ``--format
jsonl``, a JSON Lines file) of movie_data.csv.gz and one with its rows repeated ``--times``
times; runs ``scripts/train_stream.py`` on each as
a real process and samples the RSS of its whole process tree (parent plus hashing
workers) every 20 ms. The target: peak on the big file at most 1.2x the peak on the
original.

    .venv/bin/python bench/memory.py [--times 10] [--epochs N] [--format csv|jsonl]

Needs psutil (requirements-bench.txt).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from movieclassifier.training import EPOCHS

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "movie_data.csv.gz"


def build(directory: Path, times: int, fmt: str = "csv") -> Path:
    """movie_data as plain CSV (one header) or JSON Lines with its rows ``times`` times."""
    path = directory / f"movie_data_x{times}.{fmt}"
    with gzip.open(DATA, "rb") as source:
        header = source.readline()
        body = source.read()
    if fmt == "jsonl":
        header = b""
        rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
        body = "".join(
            json.dumps({"review": review, "sentiment": int(label)}) + "\n" for review, label in rows
        ).encode("utf-8")
    with open(path, "wb") as out:
        out.write(header)
        for _ in range(times):
            out.write(body)
    return path


def train(csv_path: Path, work: Path, epochs: int | None) -> dict:
    """Run train_stream.py; its JSON figures plus the peak RSS of the tree and of one process."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MODEL_DIR")}
    env["DATABASE_URL"] = f"sqlite:///{work}/{csv_path.stem}.sqlite"
    env["MODEL_DIR"] = str(work / f"pkl-{csv_path.stem}")
    command = [sys.executable, str(REPO / "scripts" / "train_stream.py"), str(csv_path)]
    command += ["--holdout", "5000", "--quiet", "--json"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    root = psutil.Process(child.pid)
    tree_peak = process_peak = 0
    while child.poll() is None:
        try:
            sizes = [p.memory_info().rss for p in [root, *root.children(recursive=True)]]
        except psutil.Error:
            sizes = []
        if sizes:
            tree_peak, process_peak = max(tree_peak, sum(sizes)), max(process_peak, max(sizes))
        time.sleep(0.02)
    output = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"train_stream.py failed on {csv_path} ({child.returncode})")
    figures = json.loads(output.strip().splitlines()[-1])
    figures.update(tree_peak_mb=tree_peak / 2**20, process_peak_mb=process_peak / 2**20)
    figures["file_mb"] = csv_path.stat().st_size / 2**20
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--epochs", type=int, help="default: the trainer's")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", dest="fmt")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="movieclassifier-memory-"))
    try:
        rows = {}
        for times in (1, args.times):
            rows[times] = train(build(work, times, args.fmt), work, args.epochs)
            (work / f"movie_data_x{times}.{args.fmt}").unlink()
            print(f"x{times}: {rows[times]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        "| file | MB | rows trained | epochs | seconds | peak RSS, all processes MB "
        "| peak RSS, largest process MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for times, r in rows.items():
        print(
            f"| movie_data x{times} ({args.fmt}) | {r['file_mb']:.0f} | {r['rows_trained']:,} "
            f"| {args.epochs or EPOCHS} "
            f"| {r['seconds']:.1f} | {r['tree_peak_mb']:.0f} | {r['process_peak_mb']:.0f} |"
        )
    small, big = rows[1], rows[args.times]
    print(
        f"\npeak RSS x{args.times} / x1: all processes "
        f"{big['tree_peak_mb'] / small['tree_peak_mb']:.2f}, "
        f"largest process {big['process_peak_mb'] / small['process_peak_mb']:.2f} (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
