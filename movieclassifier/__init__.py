"""movieclassifier: an online-learning sentiment service with a feedback loop.

``create_app(settings=None)`` builds the Flask app; nothing happens at import time. The
core modules sit here; ``features/`` turns text into features, ``web/`` holds everything
that imports Flask, ``cli/`` the click commands (docs/DESIGN.md).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

# Flask and the rest are imported in create_app, not here: the training's hashing workers
# import movieclassifier.features, and a light package import is a faster start for them.
if TYPE_CHECKING:
    from flask import Flask

    from movieclassifier.config import Settings

__all__ = ["configure_logging", "create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (or from the environment when none is given)."""
    from flask import Flask

    from movieclassifier import cli, web

    settings = settings or cli.app_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    web.register(app, settings)
    cli.init_app(app)
    return app


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, through one handler per process however often it is called.

    stderr, so that a command's stdout holds only its result (``retrain.py --json | jq``);
    gunicorn writes its own log there too, and Heroku and systemd collect both streams.
    """
    root = logging.getLogger()
    if not any(getattr(h, "_movieclassifier", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._movieclassifier = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Alembic narrates every migration step at INFO, on every command that checks the schema.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
