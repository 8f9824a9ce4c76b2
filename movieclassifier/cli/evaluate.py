"""``evaluate`` (``scripts/evaluate.py``): score a stored version on a labelled file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from movieclassifier import datafiles, evaluating, model_store
from movieclassifier.cli.common import database, explain_database_errors
from movieclassifier.cli.reading import reading_options
from movieclassifier.csvdata import CSVFormatError
from movieclassifier.model import SentimentModel


@click.command("evaluate")
@click.argument(
    "paths", metavar="FILE...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    default=None,
    help="The version to score [default: the current one].",
)
@click.option(
    "--compare",
    type=click.IntRange(min=1),
    default=None,
    metavar="V2",
    help="Also score version V2 on the same rows, side by side.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with the figures last."
)
@reading_options
def evaluate_command(
    paths: tuple[Path, ...],
    version: int | None,
    compare: int | None,
    as_json: bool,
    reading: datafiles.ReadOptions,
) -> None:
    """Score a stored model version on labelled reviews (CSV, TSV or JSON Lines, plain or
    .gz; the same column and label options as train): rows, accuracy with its 95% interval,
    the confusion matrix, ECE, Brier and log-loss, from the probabilities predict gives."""
    try:
        files = datafiles.ReviewFiles(list(paths), reading)
        with database() as (settings, _engine, sessions), sessions() as session:
            models = [_load(session, version, settings.model_dir)]
            if compare is not None:
                models.append(model_store.load(session, compare, settings.model_dir))
        scored = evaluating.score(models, files)
    except CSVFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    except model_store.ModelStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    _print(scored, files, as_json)


def _load(session, version: int | None, model_dir: Path) -> SentimentModel:
    if version is None:
        return model_store.load_current(session, model_dir)
    return model_store.load(session, version, model_dir)


def _print(scored: evaluating.Scored, files: datafiles.ReviewFiles, as_json: bool) -> None:
    lines = [_describe(e, files.name) for e in scored.evaluations]
    first = scored.evaluations[0]
    if len(scored.evaluations) == 2:
        second = scored.evaluations[1]
        lines.append(
            f"version {second.version} against version {first.version}: accuracy "
            f"{second.accuracy - first.accuracy:+.4f}, ECE {second.ece - first.ece:+.4f}, "
            f"Brier {second.brier - first.brier:+.4f}, "
            f"log-loss {second.log_loss - first.log_loss:+.4f}; "
            f"their labels differ on {scored.disagreements:,} of {first.rows:,} rows"
        )
    skipped = datafiles.describe_skipped(scored.skipped)
    if skipped:
        lines.append(skipped)
    text = "\n\n".join(lines)
    if not as_json:
        click.echo(text)
        return
    click.echo(text, err=True)
    figures = first.as_dict()
    figures["files"] = [str(path) for path in files.paths]
    figures["skipped"] = scored.skipped
    if len(scored.evaluations) == 2:
        figures["compare"] = scored.evaluations[1].as_dict()
        figures["disagreements"] = scored.disagreements
    click.echo(json.dumps(figures))


def _describe(e: evaluating.Evaluation, name: str) -> str:
    low, high = e.accuracy_interval
    c = e.confusion
    width = max(
        10,
        len(f"{max(c.true_negative, c.false_positive, c.false_negative, c.true_positive):,}") + 2,
    )
    return "\n".join(
        [
            f"version {e.version} on {e.rows:,} rows of {name}: accuracy {e.accuracy:.4f} "
            f"(95% interval {low:.4f}-{high:.4f})",
            f"ECE {e.ece:.4f}, Brier {e.brier:.4f}, log-loss {e.log_loss:.4f}",
            "confusion (rows: the label, columns: predicted):",
            f"  {'':<10}{'negative':>{width}}{'positive':>{width}}",
            f"  {'negative':<10}{c.true_negative:>{width},}{c.false_positive:>{width},}",
            f"  {'positive':<10}{c.false_negative:>{width},}{c.true_positive:>{width},}",
        ]
    )


COMMANDS = [explain_database_errors(evaluate_command)]
