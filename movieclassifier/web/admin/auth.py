"""Logging in and out of the admin pages, who is logged in, and who may see what.

A session is Flask's signed cookie holding the user's id and session version
(``accounts.session_user``): logout, ``users set-password`` and ``users disable`` bump the
version, which ends every session of that user on every browser. Failed logins are
throttled per address and per account (``limit_logins``, Flask-Limiter with the storage of
the other limits).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from movieclassifier import accounts, audit
from movieclassifier.config import Settings
from movieclassifier.schema import OPERATOR, User
from movieclassifier.web.admin.forms import ActionForm, LoginForm
from movieclassifier.web.database import get_session
from movieclassifier.web.limits import retry_after, worker_rate

SESSION_USER = "admin_user"
SESSION_VERSION = "admin_session_version"
WRONG = "Wrong user name or password."
FAILED_STATUS = 401
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def address() -> str:
    """The client's address, as the audit log keeps it (after ProxyFix)."""
    return request.remote_addr or ""


def current_user() -> User | None:
    """The user this request's session names, while that session is valid; else None."""
    if "admin_user" not in g:
        g.admin_user = accounts.session_user(
            get_session(), session.get(SESSION_USER), session.get(SESSION_VERSION)
        )
    return cast(User | None, g.admin_user)


def requires(area: str) -> Callable[[View], View]:
    """Let only users whose role may use ``area`` in (``accounts.may``).

    A stranger is sent to the login page (and back here after it); a user of another
    role gets 403.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                return redirect(url_for("admin.login", next=request.path))
            if not accounts.may(user.role, area):
                abort(403, description=f"A {user.role} may not use this page.")
            return view(*args, **kwargs)

        return cast(View, guarded)

    return decorate


def home_of(user: User) -> str:
    return url_for("admin.overview" if user.role == OPERATOR else "admin.queue")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path of the admin pages (never another site), else None.

    >>> safe_next("/admin/queue"), safe_next("//evil.example/admin"), safe_next("/admin\\\\x")
    ('/admin/queue', None, None)
    """
    if target and target.startswith("/admin") and not target.startswith("//"):
        if "\\" not in target and "//" not in target:
            return target
    return None


def _login_page(form: LoginForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template("admin/login.html", form=form, **extra), status


def login() -> ResponseReturnValue:
    """``GET /login`` shows the form; ``POST /login`` logs in, or answers 401 the same way
    whether the name is unknown or the password wrong."""
    form = LoginForm()
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return redirect(home_of(user))
        form.next.data = safe_next(request.args.get("next")) or ""
        return _login_page(form, logged_out="out" in request.args)
    if not form.validate():
        return _login_page(form, 400)
    db = get_session()
    name = form.name.data or ""
    user = accounts.authenticate(db, name, form.password.data or "")
    if user is None:
        # Only a name that is an account is kept: a password typed into the name field
        # must not reach the audit log.
        actor = accounts.known_name(db, name) or audit.UNKNOWN_NAME
        audit.record(db, actor, audit.LOGIN_FAILED, address=address())
        db.commit()
        form.password.data = ""
        return _login_page(form, FAILED_STATUS, error=WRONG)
    accounts.logged_in(db, user)
    audit.record(db, user.name, audit.LOGIN, f"user {user.name}", user.role, address())
    db.commit()
    # A fresh cookie: nothing of the session before the login (its CSRF secret) survives.
    session.clear()
    session[SESSION_USER] = user.id
    session[SESSION_VERSION] = user.session_version
    return redirect(safe_next(form.next.data) or home_of(user))


def logout() -> ResponseReturnValue:
    """``POST /logout``: end this user's sessions everywhere, then show the login page."""
    user = current_user()
    if user is not None:
        db = get_session()
        accounts.end_sessions(db, user.id)
        audit.record(db, user.name, audit.LOGOUT, f"user {user.name}", address=address())
        db.commit()
    session.clear()
    return redirect(url_for("admin.login", out=1))


def register(bp: Blueprint) -> None:
    """Add the login and logout routes to ``bp`` (``/admin/login`` is the same page)."""
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/admin/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])
    bp.add_url_rule("/admin/logout", "logout", logout, methods=["POST"])

    @bp.context_processor
    def logged_in_user() -> dict[str, Any]:
        return {"admin_user": current_user(), "admin_logout_form": ActionForm}

    @bp.errorhandler(RateLimitExceeded)
    def throttled(error: RateLimitExceeded) -> ResponseReturnValue:
        limiter: Limiter = current_app.extensions["movieclassifier.limiter"]
        wait = retry_after(limiter, error)
        message = f"Too many failed logins. Wait {wait} seconds, then try again."
        body = render_template("admin/login.html", form=LoginForm(), error=message)
        return Response(body, 429, headers={"Retry-After": str(wait)}, mimetype="text/html")


def failed(response: Response) -> bool:
    """Whether a login answer counts against the throttle: a wrong name or password."""
    return response.status_code == FAILED_STATUS


def account_key() -> str:
    """The throttle's key for the account a login names."""
    return "account:" + (request.form.get("name") or "").strip().lower()[:200]


def limit_logins(app: Flask, limiter: Limiter, settings: Settings) -> None:
    """Throttle failed logins: ``RATELIMIT_LOGIN_ADDRESS`` per address and
    ``RATELIMIT_LOGIN_ACCOUNT`` per account name; a successful login costs nothing."""
    if not settings.ratelimit_enabled:
        return
    uri, workers = settings.ratelimit_storage_uri, settings.web_concurrency
    by_address = limiter.limit(
        worker_rate(settings.ratelimit_login_address, uri, workers),
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=failed,
    )
    by_account = limiter.limit(
        worker_rate(settings.ratelimit_login_account, uri, workers),
        key_func=account_key,
        methods=["POST"],
        deduct_when=failed,
    )
    view = app.view_functions["admin.login"]
    app.view_functions["admin.login"] = by_address(by_account(view))  # type: ignore[assignment]
