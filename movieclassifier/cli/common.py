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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import configure_logging, db
from movieclassifier.config import ConfigError, Settings
from movieclassifier.db import DATABASE_DOWN, database_unavailable


def load_settings() -> Settings:
    """The settings from the environment, with logging to stderr at their ``LOG_LEVEL``.

    A setting ``config.py`` refuses is one line naming it and what is accepted, exit 1.
    """
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level)
    return settings


def app_settings() -> Settings:
    """The settings ``create_app()`` reads when it is given none.

    Under a command line (``flask --app movieclassifier versions`` builds the app to find
    its commands) a refused setting is one line and exit 1, as in ``load_settings``. Anywhere
    else (gunicorn) the ``ConfigError`` propagates with its traceback: a server with a bad
    setting refuses to start, loudly.

    The exit is a ``SystemExit``, not a ``ClickException``: ``flask --help`` builds the app
    while listing the commands, and Flask prints any ``Exception`` raised there as a
    traceback.
    """
    try:
        return Settings.from_env()
    except ConfigError as exc:
        if click.get_current_context(silent=True) is None:
            raise
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from exc


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


def create_missing_database(database_url: str) -> bool:
    """Create the PostgreSQL database ``database_url`` names when the server lacks it.

    Connects to the server's ``postgres`` maintenance database, as ``createdb`` does, with
    the same user. True when it created one; a SQLite file is created by its first
    connection instead. A role that may not create databases is one line naming the
    ``createdb`` command to run, exit 1.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    probe = db.make_engine(database_url)
    try:
        with probe.connect():
            return False
    except OperationalError as exc:
        if f'database "{url.database}" does not exist' not in str(exc.orig):
            raise
    finally:
        probe.dispose()
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = admin.dialect.identifier_preparer.quote(url.database)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except DBAPIError as exc:
        if "already exists" in str(exc.orig):  # another init-db made it meanwhile
            return False
        reason = str(exc.orig).strip().splitlines()[0]
        raise click.ClickException(
            f"the database {url.database} does not exist and could not be created ({reason}); "
            f'create it with "createdb {url.database}" and run init-db again'
        ) from exc
    finally:
        admin.dispose()
    return True
