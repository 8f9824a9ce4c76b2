"""movieclassifier: an online-learning sentiment service with a feedback loop.

``create_app(settings=None)`` builds the Flask app; nothing happens at import time.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

# Flask and the rest are imported in create_app, not here: the training's hashing workers
# import movieclassifier.text, and a light package import is a faster start for them.
if TYPE_CHECKING:
    from flask import Flask

    from movieclassifier.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (or from the environment when none is given)."""
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    from movieclassifier.config import Settings

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MOVIECLASSIFIER=settings,
        # The session cookie only carries the CSRF secret of the pages.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    app.extensions["movieclassifier.settings"] = settings

    from movieclassifier import (
        api,
        cli,
        dashboard,
        db,
        errors,
        health,
        limits,
        metrics,
        security,
        serving,
        web,
    )

    if settings.trusted_proxies:
        # Behind a router (Heroku, nginx) the client's address is in X-Forwarded-For; rate
        # limits count per client, not per proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    db.init_app(app, settings)
    serving.init_app(app)
    errors.register_error_handlers(app)
    app.session_interface = web.PageSessionInterface()
    csrf = CSRFProtect(app)
    # The JSON API is not cookie-authenticated, so a forged cross-site request gains nothing.
    csrf.exempt(api.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(dashboard.bp)
    check_csrf_outside(app, exempt=(api.bp.name,))
    limits.init_app(app, settings)
    metrics.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    return app


def check_csrf_outside(app: Flask, exempt: tuple[str, ...]) -> None:
    """Run Flask-WTF's CSRF check for the blueprints' requests only, not the ``exempt`` ones.

    ``CSRFProtect`` hooks every request and then skips exempt blueprints; on the predict
    hot path that hook alone cost about 3 µs (bench/results/serve.md). The same hook now runs
    first in every other blueprint. App-level routes (``/metrics``, ``/static``) only
    answer GET, which CSRF never checks; a test fails if a POST route escapes the check.
    ``forms.refuse_unnamed_fields`` runs just before it.
    """
    from movieclassifier.forms import refuse_unnamed_fields

    hooks = app.before_request_funcs[None]
    (csrf_protect,) = [hook for hook in hooks if hook.__name__ == "csrf_protect"]
    hooks.remove(csrf_protect)
    for name in app.blueprints:
        if name not in exempt:
            app.before_request_funcs.setdefault(name, [])[0:0] = [
                refuse_unnamed_fields,
                csrf_protect,
            ]


def configure_logging(level: str) -> None:
    """Log to stdout only (12-factor), once per process."""
    root = logging.getLogger()
    if not any(getattr(h, "_movieclassifier", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._movieclassifier = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Alembic narrates every migration step at INFO, on every command that checks the schema.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
