"""Taking labels back: ``flask --app movieclassifier feedback retract ID...`` and
``flask --app movieclassifier forget PREDICTION...``.

Both change the store at once and leave the model to the next retrain, which publishes a
version without their effect first (``retrain``, ``lifetime.pending_drops``). The queries
are ``lifetime.retract`` and ``lifetime.forget``; each is all or nothing.
"""

from __future__ import annotations

import click

from movieclassifier import lifetime
from movieclassifier.cli.common import database

NEXT_RUN = 'the next retrain ("flask --app movieclassifier retrain") publishes a version without'


@click.group("feedback")
def feedback_group() -> None:
    """Take answers back."""


@feedback_group.command("retract")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1), required=True)
def retract_command(ids: tuple[int, ...]) -> None:
    """Take back the answers IDS (feedback ids), learned or not.

    No version learns them from now on; the next retrain drops the effect of those already
    learned, and records which version did.
    """
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                done = lifetime.retract(session, ids)
        except lifetime.LabelError as exc:
            raise click.ClickException(f"{exc}; nothing was retracted") from exc
    total = len(done.learned) + len(done.waiting)
    click.echo(f"retracted {total} answers")
    if done.learned:
        click.echo(f"{len(done.learned)} had been learned; {NEXT_RUN} them")


@click.command("forget")
@click.argument("predictions", nargs=-1, required=True)
def forget_command(predictions: tuple[str, ...]) -> None:
    """Delete the stored PREDICTIONS (ids or references), their review text and answers.

    For a person's request to delete their review. The text is gone at once; the next
    retrain drops the effect of an answer that was learned.
    """
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                done = lifetime.forget(session, predictions)
        except lifetime.LabelError as exc:
            raise click.ClickException(f"{exc}; nothing was deleted") from exc
    click.echo(
        f"deleted {len(done.predictions)} predictions, their review text and {done.answers} answers"
    )
    if done.learned:
        click.echo(f"{done.learned} answers had been learned; {NEXT_RUN} them")


COMMANDS = [feedback_group, forget_command]
