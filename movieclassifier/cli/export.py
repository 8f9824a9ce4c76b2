"""``export-labels``: the confirmed labels as a CSV or JSON Lines file ``train`` reads back."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from movieclassifier import exporting
from movieclassifier.cli.common import database, explain_database_errors


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"must be a date or a time such as 2026-12-01 or 2026-12-01T08:00:00+01:00, "
            f"got {value!r}",
            param_hint="'--since'",
        ) from exc


@click.command("export-labels")
@click.option(
    "--status",
    type=click.Choice(list(exporting.STATUSES)),
    default="learned",
    show_default=True,
    help="Which answers: learned; pending (waiting to be learned, approved or being learned); "
    "quarantined; or all of them. Retracted answers are never exported.",
)
@click.option(
    "--since",
    metavar="DATE",
    help="Only answers given at or after DATE (ISO 8601: 2026-12-01, or a time; UTC unless "
    "it names an offset).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE (.csv, or .jsonl for JSON Lines; .gz compresses) instead of stdout; "
    "it appears only once complete.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([exporting.CSV_FORMAT, exporting.JSONL_FORMAT]),
    default=None,
    help="The format [default: by the extension of --output; CSV on stdout].",
)
def export_labels_command(
    status: str, since: str | None, output: Path | None, fmt: str | None
) -> None:
    """Write the confirmed labels as review,sentiment (0/1), then prediction_id, model_version,
    predicted, probability, status and created_at, oldest first: CSV, or JSON Lines.
    train and evaluate read the file as it is."""
    moment = _since(since)
    fmt = exporting.format_of(output, fmt)
    with database() as (_settings, _engine, sessions), sessions() as session:
        rows = exporting.labels(session, status, moment)
        if output is None:
            count = exporting.write(rows, sys.stdout, fmt)
            sys.stdout.flush()
        else:
            with exporting.open_for_writing(output) as out:
                count = exporting.write(rows, out, fmt)
    where = "stdout" if output is None else str(output)
    click.echo(f"exported {count:,} {status} label{'s' if count != 1 else ''} to {where}", err=True)


COMMANDS = [explain_database_errors(export_labels_command)]
