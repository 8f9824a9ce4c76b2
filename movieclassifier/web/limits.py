"""Rate limits on predicting and on feedback (Flask-Limiter), per client address.

In-memory by default (each worker counts on its own); ``RATELIMIT_STORAGE_URI=redis://...``
shares the counts between workers and servers; while Redis is unreachable each worker
counts on its own again. ``RATELIMIT_ENABLED=false`` turns them off.
Breaches answer 429 with ``Retry-After`` in the usual error shape.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from movieclassifier.config import Settings

# Endpoint -> the name of the setting with its limit.
LIMITED_ENDPOINTS = {
    "api.predict": "ratelimit_predict",
    "api.feedback": "ratelimit_feedback",
    "web.predict": "ratelimit_predict",
    "web.feedback": "ratelimit_feedback",
}


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Build this app's limiter and wrap the limited views (call after the blueprints).

    One limiter per app, not a module global, so that apps with other settings (tests, a
    second app in one process) never share counters or storage.
    """
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_uri,
        key_prefix=settings.ratelimit_key_prefix,
        headers_enabled=True,
        enabled=settings.ratelimit_enabled,
        strategy="fixed-window",
        # Redis down must not take predictions down with it: each worker then counts in its
        # own memory (logged), and Flask-Limiter goes back to Redis once it answers again.
        in_memory_fallback_enabled=True,
    )
    if not settings.ratelimit_enabled:
        # Even a disabled limiter evaluates (empty) limits in its wrapper: skip it entirely.
        app.extensions["movieclassifier.limiter"] = limiter
        return limiter
    for endpoint, setting in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            rate = getattr(settings, setting)
            app.view_functions[endpoint] = limiter.limit(rate)(view)  # type: ignore[assignment]
    app.extensions["movieclassifier.limiter"] = limiter
    return limiter
