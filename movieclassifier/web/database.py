"""The request-scoped database session of the web layer (flaskr's ``get_db``/``close_db``).

The engine and session factory come from the core ``db`` module; one ``Session`` per
request is opened on first use and closed when the app context ends.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from movieclassifier import db
from movieclassifier.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Create the engine for ``app`` and close the request's session when it ends."""
    engine = db.make_engine(settings.database_url)
    app.extensions["movieclassifier.engine"] = engine
    app.extensions["movieclassifier.sessions"] = db.make_session_factory(engine)
    app.teardown_appcontext(close_session)


def get_engine() -> Engine:
    return current_app.extensions["movieclassifier.engine"]


def get_session() -> Session:
    """The session of this request, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["movieclassifier.sessions"]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
