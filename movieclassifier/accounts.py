"""Accounts of the admin pages: users, their roles, password hashes and session versions.

Passwords are hashed with scrypt from the standard library (``hashlib.scrypt``, OpenSSL's),
a random 16-character salt each, in werkzeug's format (``scrypt:32768:8:1$salt$hex``), so
``werkzeug.security.check_password_hash`` reads the same hashes. The core may not import
werkzeug (docs/DESIGN.md, invariant 13), and scrypt is memory-hard with no new dependency.
Functions take a ``Session`` and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from movieclassifier.schema import OPERATOR, REVIEWER, USER_NAME_CHARS, User

ROLES = (OPERATOR, REVIEWER)
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # scrypt reads every byte: bound the work a login may ask for
NAME_PATTERN = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{USER_NAME_CHARS - 1}}}")
# werkzeug's defaults (3.x): N=2**15, r=8, p=1, a 64-byte key; about 32 MB and 0.1 s a hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_CHARS = 16
_SALT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says what is accepted."""


class UnknownUser(LookupError):
    """No account has that name."""


@dataclass(frozen=True)
class Account:
    """What ``users list`` and the pages show of a user: never the hash."""

    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime | None
    last_login_at: datetime | None


def hash_password(password: str, salt: str | None = None) -> str:
    """The scrypt hash of ``password`` in werkzeug's format, with a fresh random salt.

    >>> hash_password("correct horse battery", salt="abcdefghijklmnop")[:40]
    'scrypt:32768:8:1$abcdefghijklmnop$9850ef'
    """
    salt = salt or "".join(secrets.choice(_SALT_ALPHABET) for _ in range(SALT_CHARS))
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}${salt}${digest}"


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p, dklen=64
    ).hex()


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time).

    >>> stored = hash_password("correct horse battery")
    >>> check_password(stored, "correct horse battery"), check_password(stored, "wrong")
    (True, False)
    """
    try:
        method, salt, digest = stored.split("$", 2)
        name, n, r, p = method.split(":")
        if name != "scrypt" or len(password) > MAX_PASSWORD_CHARS:
            return False
        computed = _scrypt(password, salt, int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(computed, digest)


# Checked against when the name is unknown, so that a wrong name costs what a wrong
# password does, one scrypt (a dummy hashed on first use would cost the first unknown name
# two), and the two cannot be told apart by time. The hash of a password nobody kept.
DUMMY_HASH = (
    "scrypt:32768:8:1$GMScm2OjYN44xRnG$9e51c3fba166dd980f62376171849968c1ce7be9b391ae57d0588"
    "899c258dca6f1ce2a1d5c8b3d0c9050b04736dedf29c41220742c1f454bc53903e60e31ab7d"
)


def check_name(name: str) -> str:
    """``name`` as stored: lower case, letters, digits, ``.``, ``_`` and ``-``.

    >>> check_name(" Alice ")
    'alice'

    Raises:
        AccountError: it is empty, too long, or has other characters.
    """
    cleaned = name.strip().lower()
    if not NAME_PATTERN.fullmatch(cleaned):
        raise AccountError(
            f"a user name is 1 to {USER_NAME_CHARS} letters, digits, '.', '_' or '-' "
            f"(starting with a letter or digit), got {name!r}"
        )
    return cleaned


def check_new_password(password: str) -> None:
    """Refuse a password shorter than ``MIN_PASSWORD_CHARS`` (or absurdly long).

    Raises:
        AccountError: it is too short or too long; the message never repeats it.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_CHARS} characters, "
            f"this one has {len(password)}"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_CHARS} characters")


def create(session: Session, name: str, role: str, password: str) -> User:
    """Add a user.

    Raises:
        AccountError: a bad name, role or password, or the name is taken.
    """
    cleaned = check_name(name)
    if role not in ROLES:
        raise AccountError(f"a role is one of {', '.join(ROLES)}, got {role!r}")
    check_new_password(password)
    if session.scalar(select(User.id).where(User.name == cleaned)) is not None:
        raise AccountError(f"there is already a user named {cleaned}")
    user = User(name=cleaned, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def get(session: Session, name: str, for_update: bool = False) -> User:
    """The user named ``name``.

    Raises:
        UnknownUser: there is none.
    """
    query = select(User).where(User.name == name.strip().lower())
    user = session.scalar(query.with_for_update() if for_update else query)
    if user is None:
        raise UnknownUser(f"there is no user named {name.strip().lower()}")
    return user


def listed(session: Session) -> list[Account]:
    """Every user, by name, without hashes."""
    users: Sequence[User] = session.scalars(select(User).order_by(User.name)).all()
    return [
        Account(user.id, user.name, user.role, user.disabled, user.created_at, user.last_login_at)
        for user in users
    ]


def set_password(session: Session, name: str, password: str) -> User:
    """Give ``name`` a new password; every session it had ends.

    Raises:
        UnknownUser: there is no such user.
        AccountError: the password is too short.
    """
    check_new_password(password)
    user = get(session, name, for_update=True)
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.flush()
    return user


def disable(session: Session, name: str) -> User:
    """Refuse ``name`` from now on; every session it had ends.

    Raises:
        UnknownUser: there is no such user.
    """
    user = get(session, name, for_update=True)
    user.disabled = True
    user.session_version += 1
    session.flush()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The enabled user ``name`` whose password is ``password``, else None.

    The work is the same whether or not the name exists: an unknown name is checked
    against a dummy hash.
    """
    try:
        cleaned = check_name(name)
        user = session.scalar(select(User).where(User.name == cleaned))
    except AccountError:
        user = None
    matches = check_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not matches or user.disabled:
        return None
    return user


def known_name(session: Session, name: str) -> str | None:
    """``name`` as stored when it is an account's (enabled or not), else None."""
    try:
        cleaned = check_name(name)
    except AccountError:
        return None
    return session.scalar(select(User.name).where(User.name == cleaned))


def logged_in(session: Session, user: User) -> None:
    """Record a successful login's time."""
    user.last_login_at = datetime.now(UTC)
    session.flush()


def end_sessions(session: Session, user_id: int) -> None:
    """End every session of the user ``user_id`` (logout ends them on every browser)."""
    user = session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.session_version += 1
        session.flush()


def session_user(session: Session, user_id: object, version: object) -> User | None:
    """The user a signed session names, if that session is still valid: the user exists,
    is enabled, and its session version is the one the session carries."""
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = session.get(User, user_id)
    if user is None or user.disabled or user.session_version != version:
        return None
    return user


def may(role: str, area: str) -> bool:
    """Whether ``role`` may use ``area`` of the admin pages: reviewers the queue only.

    >>> may("reviewer", "queue"), may("reviewer", "versions"), may("operator", "audit")
    (True, False, True)
    """
    return role == OPERATOR or (role == REVIEWER and area == "queue")
