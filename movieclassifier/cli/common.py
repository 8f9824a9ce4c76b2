"""What every command shares: settings, the database, and database errors in one line.

Commands build their own ``Settings`` from the environment, so they run the same way
from the Flask CLI, from ``scripts/`` and from cron. Domain errors become
``click.ClickException`` with a hint; tracebacks are for bugs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import db
from movieclassifier.config import ConfigError, Settings
from movieclassifier.db import DATABASE_DOWN, database_unavailable


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def explain_database_errors(command: click.Command) -> click.Command:
    """Make ``command`` (and a group's subcommands) report a database it cannot use in one
    line naming that database, rather than with a traceback. Changes it in place."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            explain_database_errors(subcommand)
    callback = command.callback
    if callback is None:
        return command

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except DATABASE_DOWN as exc:
            # Database down (``db.database_unavailable``): one line naming it and exit 1, as
            # the operator can act on that; any other database error is a bug: a traceback.
            if not database_unavailable(exc):
                raise
            reason = str(exc.orig or exc).strip().splitlines()[0]
            url = safe_url(load_settings().database_url)
            raise click.ClickException(f"the database {url} is unavailable: {reason}") from exc

    command.callback = run
    return command


def open_engine(settings: Settings, migrate: bool = True) -> Engine:
    """An engine for the configured database, migrated to the newest schema."""
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.init_db(engine)
    return engine


@contextmanager
def database() -> Iterator[tuple[Settings, Engine, sessionmaker[Session]]]:
    """The settings, a migrated database's engine and its sessions; the engine is closed at
    the end."""
    settings = load_settings()
    engine = open_engine(settings)
    try:
        yield settings, engine, db.make_session_factory(engine)
    finally:
        engine.dispose()


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
