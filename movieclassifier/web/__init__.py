"""The HTTP layer: everything that imports Flask or its extensions.

``register(app, settings)`` wires the pages, the JSON API, health, the dashboard and
``/metrics`` into ``app``, with the request-scoped database session, the model cache,
error handlers, CSRF, rate limits and security headers. The core below knows none of it.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from movieclassifier import features
from movieclassifier.config import Settings
from movieclassifier.web import (
    admin,
    api,
    apidocs,
    dashboard,
    database,
    errors,
    health,
    limits,
    metrics,
    pages,
    security,
    serving,
    shortcuts,
)

__all__ = ["register"]


def register(app: Flask, settings: Settings) -> None:
    """Configure ``app`` from ``settings`` and register every blueprint and hook on it.

    Logs a warning when the features run in Python (the C extension is not built).
    """
    features.warn_if_slow()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MOVIECLASSIFIER=settings,
        # The session cookie carries the pages' CSRF secret and their random session id.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        # Behind TLS the cookie must never travel in plain HTTP (HTTPS_ONLY).
        SESSION_COOKIE_SECURE=settings.https_only,
    )
    app.extensions["movieclassifier.settings"] = settings
    if settings.trusted_proxies:
        # Behind a router (Heroku, nginx) the client's address is in X-Forwarded-For; rate
        # limits count per client, not per proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    database.init_app(app, settings)
    serving.init_app(app)
    errors.register_error_handlers(app)
    app.session_interface = shortcuts.PageSessionInterface()
    csrf = CSRFProtect(app)
    # The JSON API is not cookie-authenticated, so a forged cross-site request gains nothing.
    csrf.exempt(api.bp)
    for blueprint in (pages.bp, api.bp, apidocs.bp, health.bp, dashboard.bp, admin.bp):
        app.register_blueprint(blueprint)
    shortcuts.check_csrf_outside(app, exempt=(api.bp.name,))
    limiter = limits.init_app(app, settings)
    admin.init_app(app, limiter, settings)
    metrics.init_app(app)
    security.init_app(app, hsts=settings.https_only)
