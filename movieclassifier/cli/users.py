"""``flask --app movieclassifier users create|list|disable|set-password``: admin accounts.

A password comes from a hidden prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input; it is never an argument, so it stays out of the shell's
history and ``ps``. Every change is written to the audit log with the operating-system user.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from movieclassifier import accounts, audit
from movieclassifier.cli.common import database, explain_database_errors
from movieclassifier.schema import iso_utc

CLI_ADDRESS = "cli"


def cli_actor() -> str:
    """Who runs the command, for the audit log: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or a hidden prompt typed twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password"))


_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@click.group("users")
def users_group() -> None:
    """Create, list and disable the accounts of the admin pages, or set their passwords."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True, help="What they may do.")
@_PASSWORD_STDIN
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Add a user NAME: an operator (everything) or a reviewer (the review queue only)."""
    password = read_password(password_stdin)
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                user = accounts.create(session, name, role, password)
                audit.record(
                    session, cli_actor(), audit.USER_CREATE, f"user {user.name}", role, CLI_ADDRESS
                )
                created = user.name
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {created}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def users_list(as_json: bool) -> None:
    """List the users: name, role, whether disabled, last login. Never a password hash."""
    with database() as (_settings, _engine, sessions), sessions() as session:
        found = accounts.listed(session)
    rows: list[dict[str, Any]] = [
        {
            "name": account.name,
            "role": account.role,
            "disabled": account.disabled,
            "last_login_at": iso_utc(account.last_login_at),
        }
        for account in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo('no users yet; add one with "users create NAME --role operator"')
        return
    width = max(len(row["name"]) for row in rows)
    click.echo(f"{'name'.ljust(width)}  role      state     last login")
    for row in rows:
        state = "disabled" if row["disabled"] else "enabled"
        click.echo(
            f"{row['name'].ljust(width)}  {row['role'].ljust(8)}  {state.ljust(8)}  "
            f"{row['last_login_at'] or 'never'}"
        )


@users_group.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Refuse NAME from now on; the sessions it has end at their next request."""
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                user = accounts.disable(session, name)
                audit.record(
                    session, cli_actor(), audit.USER_DISABLE, f"user {user.name}", "", CLI_ADDRESS
                )
                disabled = user.name
        except accounts.UnknownUser as exc:
            raise click.ClickException(f'{exc}; see "users list"') from exc
    click.echo(f"disabled {disabled}; its sessions are ended")


@users_group.command("set-password")
@click.argument("name")
@_PASSWORD_STDIN
def users_set_password(name: str, password_stdin: bool) -> None:
    """Give NAME a new password; every session it had ends."""
    password = read_password(password_stdin)
    with database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                user = accounts.set_password(session, name, password)
                audit.record(
                    session,
                    cli_actor(),
                    audit.USER_SET_PASSWORD,
                    f"user {user.name}",
                    "",
                    CLI_ADDRESS,
                )
                changed = user.name
        except accounts.UnknownUser as exc:
            raise click.ClickException(f'{exc}; see "users list"') from exc
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"set the password of {changed}; its other sessions are ended")


COMMANDS: list[click.Command] = [explain_database_errors(users_group)]
