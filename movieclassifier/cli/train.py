"""Commands that make models from data: ``init-db`` and ``train`` (``scripts/train_stream.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import datafiles, db, features, model_store
from movieclassifier.cli.common import (
    create_missing_database,
    explain_database_errors,
    load_settings,
    open_engine,
    safe_url,
)
from movieclassifier.cli.reading import reading_options
from movieclassifier.holdout import NOT_GATED, NOTHING_LEFT, OVERRIDDEN, GateResult
from movieclassifier.model import LABELS
from movieclassifier.schema import REJECTED
from movieclassifier.training import (
    BATCH_SIZE,
    EPOCHS,
    EPOCHS_WHOLE_REVIEWS,
    FEWER_ROWS_THAN_BATCH,
    MIN_HOLDOUT,
    MIN_STEPS,
    ONE_CLASS_HOLDOUT,
    ONE_CLASS_TRAINING,
    SENTENCES,
    Finding,
    TrainReport,
)
from movieclassifier.training_run import TrainProgress


@click.command("init-db")
def init_db_command() -> None:
    """Create the database or upgrade it to the newest schema (keeps every row)."""
    settings = load_settings()
    if create_missing_database(settings.database_url):
        click.echo(f"created database {make_url(settings.database_url).database}")
    open_engine(settings).dispose()
    click.echo(f"database ready: {safe_url(settings.database_url)}")


@click.command("train")
@click.argument(
    "paths", metavar="FILE...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--batch-size",
    default=None,
    type=click.IntRange(min=1),
    help=f"Rows per partial_fit step [default: {BATCH_SIZE}; on a file of fewer training rows, "
    f"a size giving {MIN_STEPS} steps].",
)
@click.option(
    "--epochs",
    default=None,
    type=click.IntRange(min=1),
    help="Passes over the training rows (later passes reuse the hashed batches) "
    f"[default: {EPOCHS} with --sentences, {EPOCHS_WHOLE_REVIEWS} with --no-sentences].",
)
@click.option(
    "--holdout",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keep the LAST N rows (of the last file) out of training, evaluate on them, and store "
    "them as a new evaluation set, the one this version and its retrains are gated on.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Random seed of the classifier."
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=0),
    help="Hashing processes [default: one per core]; 0 hashes in this process.",
)
@click.option(
    "--continue",
    "continue_training",
    is_flag=True,
    help="Continue from the current version instead of starting from scratch.",
)
@click.option(
    "--sentences/--no-sentences",
    default=SENTENCES,
    show_default=True,
    help="Learn each training review's sentences (labelled with the review's label) "
    "instead of the whole review; held-out rows stay whole. Predicting is the same.",
)
@click.option(
    "--promote",
    is_flag=True,
    help="Publish the new version as current even if it does worse than the current one "
    "on the current one's evaluation set (GATE_MAX_DROP).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to publish (exit 1) when the file draws a warning: one class in the "
    "training or held-out rows, fewer rows than --batch-size, a held-out part under "
    f"{MIN_HOLDOUT} rows.",
)
@click.option(
    "--without-feedback",
    is_flag=True,
    help="Do not carry the labels the current version learned from feedback onto the new "
    "base (by default they are learned onto it, as a retrain would).",
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
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a learning curve (hold-out accuracy against reviews seen), .png or .svg.",
)
@reading_options
def train_command(
    paths: tuple[Path, ...],
    batch_size: int,
    epochs: int | None,
    holdout: int,
    seed: int,
    workers: int | None,
    continue_training: bool,
    sentences: bool,
    promote: bool,
    strict: bool,
    without_feedback: bool,
    quiet: bool,
    as_json: bool,
    if_missing: bool,
    plot: Path | None,
    reading: datafiles.ReadOptions,
) -> None:
    """Stream labelled reviews (CSV, TSV or JSON Lines, plain or .gz; several files are read
    one after another) into a new model version and publish it, unless it does worse than
    the current version on the current version's evaluation set (without the rows these
    files train on). Rows with empty text or an --ignore-label are skipped and counted."""
    from movieclassifier import training

    _check_plot_option(plot, holdout)
    settings = load_settings()
    features.warn_if_slow()
    engine = open_engine(settings)
    sessions = db.make_session_factory(engine)
    progress = None if quiet or as_json and not sys.stderr.isatty() else _Progress()
    try:
        if if_missing and _has_current_model(sessions):
            click.echo("a model is already published; not training (drop --if-missing to retrain)")
            return
        report = training.train_from_csv(
            list(paths),
            sessions,
            settings.model_dir,
            batch_size=batch_size,
            epochs=epochs,
            holdout=holdout,
            seed=seed,
            continue_training=continue_training,
            progress=progress,
            workers=workers,
            curve=plot is not None,
            sentences=sentences,
            gate_max_drop=settings.gate_max_drop,
            promote=promote,
            strict=strict,
            warn=_warn,
            carry_feedback=not without_feedback,
            reading=reading,
        )
        evaluation_set = _recorded_set(sessions, report.version)
    except training.CSVFormatError as exc:
        raise click.ClickException(f"{exc}; nothing was published") from exc
    except training.Refused as exc:
        count = len(exc.findings)
        raise click.ClickException(
            f"--strict: refusing to publish a model from {', '.join(map(str, paths))} "
            f"({count} warning{'s' if count != 1 else ''} above); nothing was published"
        ) from exc
    except model_store.ModelStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    if progress is not None:
        progress.close()
    if plot is not None:
        _write_learning_curve(report, plot)
    _print_train_report(report, as_json, plot, evaluation_set)
    if report.status == REJECTED and report.gate is not None:
        raise click.ClickException(_rejection(report.version, report.gate))


def _warn(finding: Finding) -> None:
    click.echo(f"warning: {_word_finding(finding)}", err=True)


def _word_finding(finding: Finding) -> str:
    """One line saying what is wrong with the training file."""
    label = LABELS.get(finding.label, "") if finding.label is not None else ""
    if finding.kind == ONE_CLASS_TRAINING:
        return f"all {finding.rows} training rows are {label}: the model learns one class"
    if finding.kind == ONE_CLASS_HOLDOUT:
        return (
            f"all {finding.rows} held-out rows are {label}: their accuracy says nothing "
            "about the other class"
        )
    if finding.kind == FEWER_ROWS_THAN_BATCH:
        fewer = f"{finding.rows} training rows, fewer than the batch size {finding.batch_size}"
        if finding.chosen is None:
            return f"{fewer}: they are learned in one partial_fit step"
        return f"{fewer}: using --batch-size {finding.chosen} instead (at least {MIN_STEPS} steps)"
    return (
        f"only {finding.rows} held-out rows, fewer than {MIN_HOLDOUT}: too few to evaluate "
        "the model on (use --holdout N with more rows)"
    )


def _rejection(version: int, gate: GateResult) -> str:
    assert gate.accuracy_current is not None and gate.accuracy_new is not None
    return (
        f"version {version} was rejected: its held-out accuracy {gate.accuracy_new:.4f} on "
        f"{_gate_rows(gate)} is more than GATE_MAX_DROP={gate.max_drop:g} "
        f"below current version {gate.current_version}'s {gate.accuracy_current:.4f}; "
        f"version {gate.current_version} stays current and keeps its held-out set "
        "(--promote publishes a new version anyway)"
    )


def _gate_rows(gate: GateResult) -> str:
    """The rows a gate scored on, e.g. "the 480 rows of evaluation set 2 (version 3's; 20
    more left out: this run trained on them)"."""
    left_out = f"; {gate.left_out} more left out: this run trained on them" if gate.left_out else ""
    return (
        f"the {gate.rows} rows of evaluation set {gate.holdout_set} "
        f"(version {gate.current_version}'s{left_out})"
    )


def _check_plot_option(plot: Path | None, holdout: int) -> None:
    if plot is None:
        return
    if plot.suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter(
            f"must end in .png or .svg, got {str(plot)!r}", param_hint="'--plot'"
        )
    if holdout == 0:
        raise click.BadParameter(
            "needs --holdout N: the curve is the accuracy on the held-out rows",
            param_hint="'--plot'",
        )


def _recorded_set(sessions: sessionmaker[Session], version: int) -> int | None:
    """The evaluation set ``version`` records (its retrains are gated on it)."""
    with sessions() as session:
        return model_store.get_version(session, version).holdout_set


def _has_current_model(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return model_store.current_version(session) is not None


class _Progress:
    """How training is getting on, on stderr: a pyprind bar on a terminal, else a line
    per epoch (a log file or a pipe gets no ``\\r`` redraws). ``close()`` ends it."""

    STEPS = 1000

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.done = 0
        self.last: TrainProgress | None = None

    def __call__(self, progress: TrainProgress) -> None:
        if self.last is not None and progress.epoch != self.last.epoch:
            self._epoch_done(self.last)
        self.last = progress
        if self.tty:
            self._advance(min(self.STEPS, int(progress.fraction * self.STEPS)))

    def close(self) -> None:
        """The last epoch is done (no later step says so)."""
        if self.last is not None:
            self._epoch_done(self.last)
            self.last = None
        if self.tty:
            self._advance(self.STEPS)

    def _advance(self, done: int) -> None:
        import pyprind

        if self.bar is None:
            self.bar = pyprind.ProgBar(self.STEPS, stream=sys.stderr, title="training", width=40)
        if done > self.done:
            self.bar.update(iterations=done - self.done)
            self.done = done

    def _epoch_done(self, progress: TrainProgress) -> None:
        if not self.tty:
            click.echo(
                f"training: epoch {progress.epoch}/{progress.epochs} done after "
                f"{progress.seconds:.1f} s ({progress.docs_per_second:,.0f} docs/s)",
                err=True,
            )


def _write_learning_curve(report: TrainReport, path: Path) -> None:
    """Hold-out accuracy against reviews seen, as PNG or SVG (by the file's suffix)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must come before pyplot
    from matplotlib import pyplot

    seen = [point[0] for point in report.curve]
    accuracy = [point[1] for point in report.curve]
    figure, axes = pyplot.subplots(figsize=(7, 4))
    axes.plot(seen, accuracy, marker="o")
    for epoch in range(1, report.epochs):
        axes.axvline(epoch * report.rows_trained, color="grey", linewidth=0.5)
    axes.set_xlabel("reviews seen (all epochs)")
    axes.set_ylabel(f"accuracy on {report.holdout_rows} held-out reviews")
    axes.set_title(f"learning curve of version {report.version}")
    axes.grid(True, alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=path.suffix.lower().lstrip("."), bbox_inches="tight")
    pyplot.close(figure)


def _learned_as(report: TrainReport) -> str:
    if report.sentences:
        return f"learned as {report.examples_trained} sentences"
    return "learned whole"


def _print_train_report(
    report: TrainReport, as_json: bool, plot: Path | None = None, evaluation_set: int | None = None
) -> None:
    accuracy = "n/a" if report.holdout_accuracy is None else f"{report.holdout_accuracy:.4f}"
    verb = "rejected" if report.status == REJECTED else "published"
    summary = (
        f"{verb} version {report.version}: {report.rows_trained} rows trained "
        f"({_learned_as(report)}, {report.epochs} epoch{'s' if report.epochs != 1 else ''}) "
        f"in {report.seconds:.1f} s "
        f"({report.docs_per_second:,.0f} docs/s); "
        f"hold-out accuracy {accuracy} on {report.holdout_rows} rows"
    )
    if report.holdout_rows and evaluation_set is not None:
        summary += f" (stored as evaluation set {evaluation_set})"
    gate = report.gate
    if gate is not None and gate.accuracy_new is not None and gate.accuracy_current is not None:
        summary += (
            f"; gated on {_gate_rows(gate)}: {gate.accuracy_new:.4f} against "
            f"{gate.accuracy_current:.4f} for version {gate.current_version}"
        )
        if gate.reason == OVERRIDDEN:
            summary += " (below the gate; published because of --promote)"
    elif gate is not None and gate.reason == NOT_GATED:
        summary += (
            f"; not gated: no held-out set is stored to compare version {gate.current_version} on"
        )
    elif gate is not None and gate.reason == NOTHING_LEFT:
        summary += (
            f"; not gated: this run trained on all {gate.left_out} rows of evaluation set "
            f"{gate.holdout_set} (version {gate.current_version}'s), so none is left to "
            "compare on"
        )
    if report.status != REJECTED and not report.holdout_rows and evaluation_set is not None:
        summary += f"; its retrains are gated on evaluation set {evaluation_set}"
    skipped = datafiles.describe_skipped(report.skipped)
    if skipped:
        summary += f"; {skipped}"
    if report.carried:
        summary += (
            f"; carried {report.carried} labels of version {report.carried_from} onto base "
            f"version {report.base_version}"
        )
    if plot is not None:
        summary += f"; learning curve written to {plot}"
    if as_json:
        click.echo(summary, err=True)
        fields = (
            "rows_trained",
            "holdout_rows",
            "holdout_accuracy",
            "seconds",
            "docs_per_second",
            "version",
            "examples_trained",
            "sentences",
            "status",
            "base_version",
            "carried",
            "carried_from",
            "skipped",
        )
        figures = {key: getattr(report, key) for key in fields}
        figures["gate"] = report.gate.as_dict() if report.gate is not None else None
        click.echo(json.dumps(figures))
    else:
        click.echo(summary)


COMMANDS = [explain_database_errors(command) for command in (init_db_command, train_command)]
