"""Hashing batches of reviews in worker processes, spilled to files for every epoch.

Hashing is most of the work of training, so worker processes hash while the parent
reads the CSV and calls ``partial_fit``; each batch is written once to a spill
directory and read back for later epochs, so rows are never hashed twice and memory
does not grow with the file. Only this module and ``text`` are imported by workers.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import sparse

from movieclassifier import features


def hash_to_file(
    texts: Sequence[str], labels: Sequence[int], path: str, sentences: bool = False
) -> int:
    """Hash ``texts`` and write their feature columns and labels to ``path``; returns rows.

    With ``sentences``, the rows are the reviews' sentences, each with its review's label
    (``features.sentence_features``); splitting happens here, in the worker, with the hashing.
    Only the column indices are written: the values follow from them (``features.unit_rows``).
    """
    if sentences:
        matrix, review = features.sentence_features(texts)
        labels = np.asarray(labels)[review]
    else:
        matrix = features.transform(texts)
    # Three plain .npy arrays one after the other: no zip container, no checksum to compute
    # (np.savez's were a tenth of the parent's time), read back with one read each.
    with open(path, "wb") as handle:
        np.save(handle, matrix.indptr)
        np.save(handle, matrix.indices)
        np.save(handle, np.asarray(labels, dtype=np.int8))
    return len(labels)


def load(path: str | Path) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The features and labels that ``hash_to_file`` wrote."""
    with open(path, "rb") as handle:
        indptr, indices, labels = np.load(handle), np.load(handle), np.load(handle)
    matrix = sparse.csr_matrix(
        (np.empty(len(indices), features.DTYPE), indices, indptr),
        shape=(len(labels), features.N_FEATURES),
    )
    return features.unit_rows(matrix), labels.astype(np.int64)


def stack(matrices: Sequence[sparse.csr_matrix]) -> sparse.csr_matrix:
    """Rows of ``matrices`` one after the other, as ``sparse.vstack`` gives, without its checks.

    >>> a = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    >>> stack([a, a[1:]]).toarray().tolist()
    [[1.0, 0.0], [0.0, 2.0], [0.0, 2.0]]
    """
    if len(matrices) == 1:
        return matrices[0]
    offsets = np.cumsum([0] + [m.indptr[-1] for m in matrices[:-1]])
    shifted = [m.indptr[1:] + offset for m, offset in zip(matrices, offsets, strict=True)]
    indptr = np.concatenate([matrices[0].indptr[:1], *shifted])
    if indptr[-1] < 2**31:  # int32 like the indices, so scipy does not copy them to int64
        indptr = indptr.astype(np.int32)
    return sparse.csr_matrix(
        (
            np.concatenate([m.data for m in matrices]),
            np.concatenate([m.indices for m in matrices]),
            indptr,
        ),
        shape=(len(indptr) - 1, matrices[0].shape[1]),
    )


class InProcess(Executor):
    """An executor that runs each call at once; used when ``workers`` is 0."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller via the future
            future.set_exception(exc)
        return future


def default_workers() -> int:
    """One hashing process per core: the parent mostly waits on them or on partial_fit."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def make_executor(workers: int) -> Executor:
    """A pool of ``workers`` hashing processes, or in-process hashing for 0.

    The "forkserver" start method is used where there is one (Linux): workers never
    inherit the parent's database connections or threads, and they start from a server
    that has already imported numpy and scipy.
    """
    if workers <= 0:
        return InProcess()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["movieclassifier.features.pool"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    # Start the workers now, in the background: the first task would otherwise wait for the
    # fork server's start (about half a second) while the caller has rows to hand over.
    threading.Thread(target=_start_workers, args=(pool, workers), daemon=True).start()
    return pool


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    try:
        for _ in range(workers):
            pool.submit(int)
    except RuntimeError:  # the pool was shut down first: nothing to start
        pass
