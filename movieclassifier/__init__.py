"""movieclassifier: an online-learning sentiment service with a feedback loop.

``create_app(settings=None)`` builds the Flask app; nothing happens at import time.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

from movieclassifier.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (or from the environment when none is given)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MOVIECLASSIFIER=settings,
    )
    app.extensions["movieclassifier.settings"] = settings

    from movieclassifier import cli, dashboard, db, errors, health, metrics

    db.init_app(app, settings)
    errors.register_error_handlers(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(dashboard.bp)
    metrics.init_app(app)
    cli.init_app(app)
    return app


def configure_logging(level: str) -> None:
    """Log to stdout only (12-factor), once per process."""
    root = logging.getLogger()
    if not any(getattr(h, "_movieclassifier", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._movieclassifier = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
