"""Command-line interface: ``flask --app movieclassifier ...`` and the scripts in ``scripts/``.

Commands build their own ``Settings`` from the environment, so they run the same way
from the Flask CLI, from ``scripts/`` and from cron. Domain errors become
``click.ClickException`` with a hint; tracebacks are for bugs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask

from movieclassifier import db, model_store
from movieclassifier.config import ConfigError, Settings


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def open_database(settings: Settings, migrate: bool = True):  # type: ignore[no-untyped-def]
    """A session factory for the configured database, migrated to the newest schema."""
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.init_db(engine)
    return db.make_session_factory(engine)


@click.command("init-db")
def init_db_command() -> None:
    """Create the database or upgrade it to the newest schema (keeps every row)."""
    settings = load_settings()
    db.init_db(db.make_engine(settings.database_url))
    click.echo(f"database ready: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command("train")
@click.argument("csv_path", metavar="CSV", type=click.Path(path_type=Path))
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows per partial_fit step.",
)
@click.option(
    "--epochs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Passes over the training rows.",
)
@click.option(
    "--holdout",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keep the LAST N rows out of training, evaluate on them, store them for the gate.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Random seed of the classifier."
)
@click.option(
    "--continue",
    "continue_training",
    is_flag=True,
    help="Continue from the current version instead of starting from scratch.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with the figures last."
)
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when a version is already published (used by make run).",
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a learning curve (hold-out accuracy against reviews seen), .png or .svg.",
)
def train_command(
    csv_path: Path,
    batch_size: int,
    epochs: int,
    holdout: int,
    seed: int,
    continue_training: bool,
    quiet: bool,
    as_json: bool,
    if_missing: bool,
    plot: Path | None,
) -> None:
    """Stream a review,sentiment CSV (plain or .gz) into a new model version and publish it."""
    from movieclassifier import training

    settings = load_settings()
    sessions = open_database(settings)
    if if_missing and _has_current_model(sessions):
        click.echo("a model is already published; not training (drop --if-missing to retrain)")
        return
    progress = None if quiet or as_json and not sys.stderr.isatty() else _progress_bar()
    try:
        report = training.train_from_csv(
            csv_path,
            sessions,
            settings.model_dir,
            batch_size=batch_size,
            epochs=epochs,
            holdout=holdout,
            seed=seed,
            continue_training=continue_training,
            progress=progress,
        )
    except training.CSVFormatError as exc:
        raise click.ClickException(f"{exc}; nothing was published") from exc
    except model_store.ModelStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_train_report(report, as_json)


def _has_current_model(sessions) -> bool:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return model_store.current_version(session) is not None


def _progress_bar():  # type: ignore[no-untyped-def]
    """A pyprind bar over the bytes of the file, so it is right for any row length."""
    import pyprind

    state: dict[str, object] = {}

    def update(progress, rows: int) -> None:  # type: ignore[no-untyped-def]
        bar = state.get("bar")
        if bar is None:
            bar = pyprind.ProgBar(
                max(progress.total_bytes, 1), stream=sys.stderr, title="training", width=40
            )
            state["bar"], state["done"] = bar, 0
        done = min(progress.read_bytes, progress.total_bytes)
        delta = done - state["done"]  # type: ignore[operator]
        if delta > 0:
            bar.update(iterations=delta)  # type: ignore[attr-defined]
            state["done"] = done

    return update


def _print_train_report(report, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    accuracy = "n/a" if report.holdout_accuracy is None else f"{report.holdout_accuracy:.4f}"
    summary = (
        f"published version {report.version}: {report.rows_trained} rows trained in "
        f"{report.seconds:.1f} s ({report.docs_per_second:,.0f} docs/s); "
        f"hold-out accuracy {accuracy} on {report.holdout_rows} rows"
    )
    if as_json:
        click.echo(summary, err=True)
        fields = (
            "rows_trained",
            "holdout_rows",
            "holdout_accuracy",
            "seconds",
            "docs_per_second",
            "version",
        )
        click.echo(json.dumps({key: getattr(report, key) for key in fields}))
    else:
        click.echo(summary)


COMMANDS = [init_db_command, train_command]


def init_app(app: Flask) -> None:
    """Register every command on ``app.cli`` (``flask --app movieclassifier ...``)."""
    from movieclassifier import cli_ops

    for command in COMMANDS + cli_ops.COMMANDS:
        app.cli.add_command(command)
