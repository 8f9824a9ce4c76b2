"""Rate limits on predicting and on feedback (Flask-Limiter), per client address.

The figure a client meets is the one the settings state, on any number of gunicorn workers:

- ``memory://`` (the default, no Redis): each worker counts on its own, so each enforces
  its share, ``RATELIMIT_PREDICT // WEB_CONCURRENCY`` (at least 1). A client whose requests
  spread over the workers gets at most the stated figure; one whose requests all land on one
  worker gets that worker's share. ``gunicorn.conf.py`` sets ``WEB_CONCURRENCY`` to the real
  worker count in each worker.
- ``redis://...``: one count shared by every worker and server: the stated figure itself.
  While Redis is unreachable each worker counts in its own memory, at the stated figure.

``RATELIMIT_ENABLED=false`` turns them off. A breach answers 429 with ``Retry-After`` (and
no other answer carries it): the usual JSON error for the API, and for the review form the
form again with the review kept, how long to wait and the stated limit.
"""

from __future__ import annotations

import logging
import time

import limits as limits_lib
from flask import Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from movieclassifier.config import Settings
from movieclassifier.web.errors import error_response, wants_json
from movieclassifier.web.forms import ReviewForm

log = logging.getLogger(__name__)

# Endpoint -> the name of the setting with its limit, and what one request is to a person.
LIMITED_ENDPOINTS = {
    "api.predict": ("ratelimit_predict", "review"),
    "api.feedback": ("ratelimit_feedback", "answer"),
    "web.predict": ("ratelimit_predict", "review"),
    "web.feedback": ("ratelimit_feedback", "answer"),
}
PER_WORKER_SCHEMES = ("memory",)


def worker_rate(rate: str, storage_uri: str, workers: int) -> str:
    """The limit one worker enforces so that all ``workers`` together keep to ``rate``.

    Rounded down, so the workers together never exceed ``rate``; at least 1 per worker.

    >>> worker_rate("120 per minute", "memory://", 2)
    '60 per 1 minute'
    >>> worker_rate("120 per minute", "redis://127.0.0.1:6379/0", 2)
    '120 per 1 minute'
    """
    item = limits_lib.parse(rate)
    if storage_uri.split("://", 1)[0].lower() not in PER_WORKER_SCHEMES or workers <= 1:
        return str(item)
    share = max(1, item.amount // workers)
    if share * workers > item.amount:
        log.warning(
            "rate limit %s is below one per worker for %d workers on %s: each worker allows 1",
            rate,
            workers,
            storage_uri,
        )
    return f"{share} per {item.multiples} {item.GRANULARITY.name}"


def limit_words(rate: str, thing: str) -> str:
    """``rate`` for people: "at most 30 reviews a minute", "... every 5 minutes"."""
    item = limits_lib.parse(rate)
    things = thing if item.amount == 1 else f"{thing}s"
    unit = item.GRANULARITY.name
    period = f"a {unit}" if item.multiples == 1 else f"every {item.multiples} {unit}s"
    return f"at most {item.amount} {things} {period}"


def _seconds(count: int) -> str:
    return f"{count} second" if count == 1 else f"{count} seconds"


def retry_after(limiter: Limiter, error: RateLimitExceeded) -> int:
    """Whole seconds until the breached window ends (at least 1)."""
    current = limiter.current_limit
    try:
        reset_at = current.reset_at if current is not None else None
    except Exception:  # the storage failed just now: the window's length is an upper bound
        log.warning("rate limit storage unreachable while computing Retry-After", exc_info=True)
        reset_at = None
    if reset_at is None:
        return int(error.limit.limit.get_expiry())
    return max(1, int(reset_at - time.time()))


def _breach_response(limiter: Limiter, error: RateLimitExceeded) -> ResponseReturnValue:
    settings: Settings = current_app.extensions["movieclassifier.settings"]
    setting, thing = LIMITED_ENDPOINTS.get(request.endpoint or "", ("", "request"))
    stated = getattr(settings, setting, None) or str(error.limit.limit)
    wait = retry_after(limiter, error)
    headers = {"Retry-After": str(wait)}
    if wants_json():
        message = (
            f"Too many requests: the limit is {limits_lib.parse(stated)}; retry in {_seconds(wait)}"
        )
        response, status = error_response(message, 429)
        response.headers.update(headers)
        return response, status
    message = (
        f"Too many {thing}s from your address: {limit_words(stated, thing)}. "
        f"Wait {_seconds(wait)}, then send it again."
    )
    if request.endpoint == "web.predict":
        # The form again, the typed review kept, the reason where a bad review's would be.
        form = ReviewForm(settings)
        form.review.errors = [f"{message} Your review is kept below."]
        body = render_template(
            "index.html",
            form=form,
            min_chars=settings.min_review_chars,
            max_chars=settings.max_review_chars,
        )
    else:
        body = render_template("error.html", status=429, title="Too many requests", message=message)
    return Response(body, status=429, mimetype="text/html", headers=headers)


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
        # No X-RateLimit-* headers and no Retry-After on every answer: the breach handler
        # adds Retry-After to the 429 alone (a per-worker share would mislead in them anyway).
        headers_enabled=False,
        enabled=settings.ratelimit_enabled,
        strategy="fixed-window",
        # Redis down must not take predictions down with it: each worker then counts in its
        # own memory (logged), and Flask-Limiter goes back to Redis once it answers again.
        in_memory_fallback_enabled=True,
    )
    app.extensions["movieclassifier.limiter"] = limiter
    if not settings.ratelimit_enabled:
        # Even a disabled limiter evaluates (empty) limits in its wrapper: skip it entirely.
        return limiter
    for endpoint, (setting, _) in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            rate = worker_rate(
                getattr(settings, setting), settings.ratelimit_storage_uri, settings.web_concurrency
            )
            app.view_functions[endpoint] = limiter.limit(rate)(view)  # type: ignore[assignment]

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limit(error: RateLimitExceeded) -> ResponseReturnValue:
        return _breach_response(limiter, error)

    return limiter
