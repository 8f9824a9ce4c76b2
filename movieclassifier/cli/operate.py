"""Operator commands for the feedback loop (versions, rollback, prune, retrain).

Registered on ``app.cli`` by ``cli.init_app``; ``scripts/retrain.py`` runs
``retrain_command``. Domain errors become ``click.ClickException`` with a hint.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from types import FrameType
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from movieclassifier import lifetime, locking, model_store, retention, retrain, stats
from movieclassifier.cli.common import database, explain_database_errors
from movieclassifier.config import ConfigError, Settings, parse_duration
from movieclassifier.schema import iso_utc

log = logging.getLogger(__name__)

BUSY_EXIT_CODE = 75  # EX_TEMPFAIL: "try again later"
TABLE_HEADER = ("version", "status", "source", "held-out", "learned", "live (answers)")
RIGHT_ALIGNED = {TABLE_HEADER.index("learned")}


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration("--every", value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("retrain")
@click.option(
    "--every",
    callback=_duration,
    default=None,
    help='Keep running as a clock process, one run per interval ("10m", "1h"). '
    "A failed run is logged and the next one still happens; SIGTERM stops it.",
)
@click.option(
    "--clock",
    is_flag=True,
    help="Keep running as a clock process, one run every RETRAIN_EVERY (default 10m).",
)
@click.option("--wait", is_flag=True, help="Wait for a running retrain instead of exiting busy.")
@click.option(
    "--fail-if-busy",
    is_flag=True,
    help=f"Exit {BUSY_EXIT_CODE} instead of 0 when another retrain is running.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Most feedback rows learned in one run [default: RETRAIN_BATCH_SIZE].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run, last.")
def retrain_command(
    every: float | None,
    clock: bool,
    wait: bool,
    fail_if_busy: bool,
    batch_size: int | None,
    as_json: bool,
) -> None:
    """Learn the feedback no version has learned yet; publish the result or reject it."""
    with database() as (settings, engine, _sessions):
        if every is None and clock:
            every = settings.retrain_every
        if every is None:
            report = _run_once(engine, settings, wait, batch_size, as_json)
            if report.status == retrain.BUSY and fail_if_busy:
                raise SystemExit(BUSY_EXIT_CODE)
            return
        _clock(engine, settings, every, batch_size, as_json)


def _run_once(
    engine: Engine,
    settings: Settings,
    wait: bool,
    batch_size: int | None,
    as_json: bool,
) -> retrain.RetrainReport:
    try:
        report = retrain.retrain(engine, settings, wait=wait, batch_size=batch_size)
    except model_store.ModelStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(report.message, err=True)
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(report.message)
    return report


def _clock(
    engine: Engine,
    settings: Settings,
    every: float,
    batch_size: int | None,
    as_json: bool,
) -> None:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("retrain clock: signal %d, stopping after the current run", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    click.echo(f"retrain clock: one run every {every:g} s", err=True)
    while not stop.is_set():
        try:
            _run_once(engine, settings, False, batch_size, as_json)
        except Exception:
            # The scheduler's job is to keep going; the failed run is in the log and in
            # retrain_runs, and its feedback went back to pending.
            log.exception("retrain run failed; the next one is in %g s", every)
        stop.wait(every)
    click.echo("retrain clock: stopped", err=True)


@click.command("versions")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def versions_command(limit: int, as_json: bool) -> None:
    """List model versions: status, held-out accuracy, labels learned, live accuracy."""
    with database() as (_settings, _engine, sessions), sessions() as session:
        rows = version_table(session, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        raise click.ClickException(f"no model versions yet; {model_store.TRAIN_HINT}")
    click.echo(format_table(rows))


@click.command("rollback")
@click.argument("version", type=int)
@click.option(
    "--drop-labels",
    is_flag=True,
    help="Discard the labels the rolled-back versions learned, instead of learning them "
    "again on top of VERSION at the next retrain.",
)
def rollback_command(version: int, drop_labels: bool) -> None:
    """Make an earlier VERSION current; newer versions are marked rolled_back.

    Every worker of every server moves to it at its next reload check. The labels the
    rolled-back versions had learned are learned again on top of VERSION by the next
    retrain, unless --drop-labels discards them.
    """
    with database() as (settings, engine, sessions):
        try:
            with locking.retrain_lock(engine):
                done = lifetime.rollback(sessions, settings.model_dir, version, drop_labels)
        except locking.Busy as exc:
            raise click.ClickException(f"{exc}; try again when it has finished") from exc
        except (model_store.ModelStoreError, lifetime.LabelError) as exc:
            raise click.ClickException(str(exc)) from exc
    listed = ", ".join(str(v) for v in done.rolled_back) or "none"
    click.echo(f"version {version} is current; rolled back: {listed}")
    if done.requeued:
        click.echo(
            f"{len(done.requeued)} labels they had learned wait to be learned again on top of "
            f"version {version} (the next retrain)"
        )
    if done.dropped:
        click.echo(f"dropped {len(done.dropped)} labels: feedback {_ids(done.dropped)}")


def _ids(ids: list[int]) -> str:
    """
    >>> _ids([1, 2, 3])
    '1, 2, 3'
    """
    return ", ".join(str(i) for i in ids)


@click.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=None,
    help="Versions whose bytes are kept [default: KEEP_MODEL_VERSIONS].",
)
def prune_command(keep: int | None) -> None:
    """Drop the bytes and files of old versions, and orphan files; never the current one.

    Then delete the tracked predictions nobody answered that are older than
    PREDICTION_RETENTION_DAYS (0 keeps them); answered ones stay, whatever their age.
    """
    with database() as (settings, engine, sessions):
        days = settings.prediction_retention_days
        try:
            with locking.retrain_lock(engine):
                with sessions.begin() as session:
                    report = model_store.prune(
                        session, settings.model_dir, keep or settings.keep_model_versions
                    )
                with sessions() as session:
                    expired = retention.expire_unanswered(session, days)
        except locking.Busy as exc:
            raise click.ClickException(f"{exc}; try again when it has finished") from exc
    versions = ", ".join(str(v) for v in report.pruned_versions) or "none"
    click.echo(f"pruned versions: {versions}; removed {len(report.removed_files)} files")
    if days:
        noun = "prediction" if expired == 1 else "predictions"
        unit = "day" if days == 1 else "days"
        click.echo(f"expired {expired} unanswered {noun} older than {days} {unit}")
    else:
        click.echo("PREDICTION_RETENTION_DAYS is 0: unanswered predictions are kept")


def version_table(session: Session, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` versions as rows for ``flask versions``; live accuracy is the
    dashboard's (``stats.versions``), so the two never disagree."""
    return [
        {
            "version": row.version,
            "current": row.is_current,
            "status": row.status,
            "created_at": iso_utc(row.created_at),
            "source": row.source,
            "holdout_accuracy": row.holdout_accuracy,
            "learned": row.learned,
            "live_feedback": row.answers,
            "live_accuracy": row.live_accuracy,
            "pruned": row.pruned,
        }
        for row in stats.versions(session)[:limit]
    ]


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table; ``*`` marks the current version. Each column is as wide as its
    widest cell, so every line has its columns at the same offsets.

    >>> print(format_table([{"version": 2, "current": True, "status": "promoted",
    ...     "source": "feedback", "holdout_accuracy": 0.9, "learned": 3,
    ...     "live_feedback": 0, "live_accuracy": None, "pruned": False},
    ...     {"version": 1, "current": False, "status": "promoted", "source": "csv",
    ...     "holdout_accuracy": 0.85, "learned": 0, "live_feedback": 12,
    ...     "live_accuracy": 0.75, "pruned": True}]))
    version  status             source    held-out  learned  live (answers)
    *2       promoted           feedback  0.9000          3  n/a (0)
     1       promoted (pruned)  csv       0.8500          0  0.7500 (12)
    """
    lines = [TABLE_HEADER] + [
        (
            ("*" if row["current"] else " ") + str(row["version"]),
            row["status"] + (" (pruned)" if row["pruned"] else ""),
            row["source"],
            _number(row["holdout_accuracy"]),
            str(row["learned"]),
            f"{_number(row['live_accuracy'])} ({row['live_feedback']})",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(len(TABLE_HEADER))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


COMMANDS: list[click.Command] = [
    explain_database_errors(command)
    for command in (
        retrain_command,
        versions_command,
        rollback_command,
        prune_command,
    )
]
