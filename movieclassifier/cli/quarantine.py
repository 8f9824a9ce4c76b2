"""``flask --app movieclassifier quarantine list|approve|discard``: triage what was held back.

``list`` ranks the answers the screen quarantined alone and those of batches the gate
rejected, most suspect first, with why each is there and who gave it; ``approve`` and
``discard`` settle them by id, version or source.
The queries are ``feedback.triage``, ``feedback.approve`` and ``feedback.discard``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from movieclassifier import feedback
from movieclassifier.cli.common import database, explain_database_errors
from movieclassifier.model import LABELS
from movieclassifier.schema import as_utc, iso_utc

REVIEW_CHARS = 60
SOURCE_SHOWN = 8  # hex digits of a source hash in the table
HEADER = ("id", "score", "answer", "model said", "why", "source", "answered", "review")
RIGHT_ALIGNED = {HEADER.index("id")}
LIST_HINT = 'see "flask --app movieclassifier quarantine list"'
RANKING = (
    "Most suspect first: by the screen's score for an answer it quarantined alone, else by "
    "how sure the model was of the label the answer rejects, so a confident prediction "
    'answered "incorrect" comes first. Ties: oldest first.'
)


@click.group("quarantine")
def quarantine_group() -> None:
    """Inspect, approve or discard feedback the screen or the gate held back."""


@quarantine_group.command("list", help=f"List quarantined feedback. {RANKING}")
@click.option("--version", type=int, default=None, help="Only what this rejected version took.")
@click.option(
    "--source", default=None, metavar="PREFIX", help="Only answers whose source hash starts so."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def quarantine_list(version: int | None, source: str | None, limit: int, as_json: bool) -> None:
    with database() as (_settings, _engine, sessions), sessions() as session:
        try:
            found = feedback.triage(session, version, source, limit)
        except feedback.BadSource as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        rows = [suspect_json(row) for row in found.rows]
        click.echo(json.dumps({"total": found.total, "rows": rows}, indent=2))
        return
    if not found.rows:
        click.echo("no quarantined feedback")
        return
    click.echo(format_suspects(found.rows))
    more = found.total - len(found.rows)
    if more > 0:
        click.echo(f"… and {more} more; use --limit {found.total} to list them all")


def _settle(
    ids: tuple[int, ...], version: int | None, source: str | None, take_all: bool, action: str
) -> int:
    if not ids and version is None and source is None and not take_all:
        raise click.UsageError("name feedback IDS, or --version V, or --source PREFIX, or --all")
    settle = feedback.approve if action == "approve" else feedback.discard
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                return settle(session, ids, version, source)
        except (feedback.NotQuarantined, feedback.BadSource) as exc:
            raise click.ClickException(f"{exc}; {LIST_HINT}") from exc


_SETTLE_OPTIONS = [
    click.argument("ids", nargs=-1, type=int),
    click.option("--version", type=int, default=None, help="All that this version took."),
    click.option(
        "--source",
        default=None,
        metavar="PREFIX",
        help="All from the one source whose hash starts so (at least "
        f"{feedback.SOURCE_PREFIX_MIN_CHARS} hex digits, as list shows).",
    ),
    click.option("--all", "take_all", is_flag=True, help="Every quarantined row."),
]


def _with_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_SETTLE_OPTIONS):
        command = option(command)
    return command


@quarantine_group.command("approve")
@_with_options
def quarantine_approve(
    ids: tuple[int, ...], version: int | None, source: str | None, take_all: bool
) -> None:
    """Approve quarantined feedback: the next retrain learns it, bypassing the gate once."""
    count = _settle(ids, version, source, take_all, "approve")
    click.echo(f"approved {count} feedback rows; the next retrain learns them")


@quarantine_group.command("discard")
@_with_options
def quarantine_discard(
    ids: tuple[int, ...], version: int | None, source: str | None, take_all: bool
) -> None:
    """Discard quarantined feedback for good: no version will learn it."""
    count = _settle(ids, version, source, take_all, "discard")
    click.echo(f"discarded {count} feedback rows")


def suspect_cells(row: feedback.Suspect) -> tuple[str, ...]:
    """The table's cells for one quarantined answer.

    >>> from datetime import datetime
    >>> suspect_cells(feedback.Suspect(7, "Great\\nfilm", False, 0, "positive", 0.975, 3,
    ...     0.88, 0.74, "05dbb8acbbcf71a7438c1e0979612e91", datetime(2026, 12, 3, 8, 40)))
    ... # doctest: +NORMALIZE_WHITESPACE
    ('7', '0.975', 'incorrect → negative', 'positive 97.5%', 'v3: held-out 0.8800 → 0.7400',
     '05dbb8ac', '2026-12-03 08:40 UTC', 'Great film')
    """
    answered = as_utc(row.answered_at)
    return (
        str(row.id),
        f"{row.score:.3f}",
        f"{'correct' if row.correct else 'incorrect'} → {LABELS[row.label]}",
        f"{row.predicted} {row.probability:.1%}",
        _reason(row),
        row.source[:SOURCE_SHOWN] if row.source else "-",
        answered.strftime("%Y-%m-%d %H:%M UTC") if answered is not None else "-",
        excerpt(row.review),
    )


def format_suspects(rows: list[feedback.Suspect]) -> str:
    """A plain-text table, each column as wide as its widest cell; the review last."""
    lines = [HEADER] + [suspect_cells(row) for row in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADER))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def suspect_json(row: feedback.Suspect) -> dict[str, Any]:
    """One quarantined answer for ``list --json``: the whole review and source hash."""
    return {
        "id": row.id,
        "score": row.score,
        "correct": row.correct,
        "label": LABELS[row.label],
        "predicted": {"label": row.predicted, "probability": row.probability},
        "rejected_version": row.version,
        "reason": row.reason,
        "holdout_accuracy_before": row.holdout_before,
        "holdout_accuracy_after": row.holdout_after,
        "source": row.source,
        "answered_at": iso_utc(row.answered_at),
        "review": row.review,
    }


def excerpt(review: str) -> str:
    """The review on one line (runs of whitespace made one space), cut to ``REVIEW_CHARS``.

    >>> excerpt("A  fine\\r\\nfilm"), len(excerpt("word " * 40))
    ('A fine film', 60)
    """
    flat = " ".join(review.split())
    return flat if len(flat) <= REVIEW_CHARS else flat[: REVIEW_CHARS - 1].rstrip() + "…"


def _reason(row: feedback.Suspect) -> str:
    """Why it is quarantined: the screen's reason, or the rejected version's figures.

    >>> from datetime import datetime
    >>> _reason(feedback.Suspect(7, "", False, 0, "positive", 0.9, 3, None, None, None,
    ...     datetime(2026, 12, 3), 2.5, "disagrees with the model and the other answers"))
    'screen: disagrees with the model and the other answers'
    """
    if row.reason:
        return f"screen: {row.reason}"
    if row.version is None:
        return "-"
    if row.holdout_before is None or row.holdout_after is None:
        return f"v{row.version}"
    return f"v{row.version}: held-out {row.holdout_before:.4f} → {row.holdout_after:.4f}"


COMMANDS: list[click.Command] = [explain_database_errors(quarantine_group)]
