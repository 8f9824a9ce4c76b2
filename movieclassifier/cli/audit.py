"""``flask --app movieclassifier audit``: the audit log, newest first (``audit.recent``)."""

from __future__ import annotations

import json

import click

from movieclassifier import audit
from movieclassifier.cli.common import database, explain_database_errors
from movieclassifier.schema import iso_utc


@click.command("audit")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--action", type=click.Choice(audit.ACTIONS), default=None, help="Only this action.")
@click.option("--actor", default=None, help="Only what this user (or cli:USER) did.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def audit_command(limit: int, action: str | None, actor: str | None, as_json: bool) -> None:
    """Show the audit log: who did what to which ids, when and from where."""
    with database() as (_settings, _engine, sessions), sessions() as session:
        entries = audit.recent(session, limit, action, actor)
    if as_json:
        rows = [
            {
                "id": entry.id,
                "at": iso_utc(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "detail": entry.detail,
                "address": entry.address,
            }
            for entry in entries
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo("the audit log is empty")
        return
    for entry in entries:
        at = entry.at.strftime("%Y-%m-%d %H:%M:%S UTC") if entry.at else "-"
        parts = [at, entry.actor, entry.action, entry.target, entry.detail, entry.address]
        click.echo("  ".join(part for part in parts if part))


COMMANDS: list[click.Command] = [explain_database_errors(audit_command)]
