"""Settings for every part of movieclassifier, read from environment variables.

This is the only module that reads ``os.environ``; everything else gets a ``Settings``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'db' / 'reviews.sqlite'}"
DEFAULT_MODEL_DIR = REPO_ROOT / "pkl_objects"
# Development keeps one fixed key so that CSRF tokens survive across gunicorn workers;
# production refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key"
ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names variable, value and rule."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service. ``Settings.from_env(os.environ)`` builds one."""

    database_url: str = DEFAULT_DATABASE_URL
    model_dir: Path = DEFAULT_MODEL_DIR
    app_env: str = "development"
    secret_key: str = DEV_SECRET_KEY
    model_reload_seconds: float = 60.0
    gate_max_drop: float = 0.01
    # The share of trusted answers held out of learning as the gate's domain slice.
    gate_feedback_slice: float = 0.1
    retrain_every: float = 600.0
    retrain_batch_size: int = 1000
    keep_model_versions: int = 5
    # Tracked predictions nobody answered are deleted this many days after; 0 keeps them.
    prediction_retention_days: int = 90
    min_review_chars: int = 10
    max_review_chars: int = 20000
    max_batch: int = 100
    # The phrases an explanation gives ("explain": true), strongest first.
    explain_top: int = 10
    # The result page says "not sure" when the probability is within this of 0.5.
    unsure_band: float = 0.1
    ratelimit_enabled: bool = True
    ratelimit_storage_uri: str = "memory://"
    ratelimit_predict: str = "120 per minute"
    ratelimit_feedback: str = "60 per minute"
    # Failed admin logins (a successful one costs nothing): per client address, per account.
    ratelimit_login_address: str = "10 per 15 minutes"
    ratelimit_login_account: str = "50 per 15 minutes"
    ratelimit_key_prefix: str = "movieclassifier"
    # gunicorn's worker count (gunicorn.conf.py reads it too, and sets it to the real count
    # in each worker): with memory:// each worker enforces its share of the limits above.
    web_concurrency: int = 1
    trusted_proxies: int = 0
    # Served to people only over HTTPS (TLS at a proxy): a Secure session cookie, and HSTS.
    https_only: bool = False
    log_level: str = "INFO"

    @property
    def max_content_length(self) -> int:
        """Largest request body accepted: a full batch of maximal reviews plus JSON overhead."""
        return self.max_review_chars * 4 * self.max_batch + 64 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` when none given).

        Raises:
            ConfigError: a variable has a value that is not accepted.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, parse in _PARSERS.items():
            raw = env.get(name.upper())
            if raw is not None and raw.strip() != "":
                values[name] = parse(name.upper(), raw.strip())
        # Production is served over HTTPS (TLS at a proxy) unless HTTPS_ONLY says otherwise.
        values.setdefault("https_only", values.get("app_env") == "production")
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that would fail later in a less clear way."""
        if self.app_env == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ConfigError(
                'SECRET_KEY must be set when APP_ENV is "production"; '
                "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        if self.min_review_chars > self.max_review_chars:
            raise ConfigError(
                f"MIN_REVIEW_CHARS ({self.min_review_chars}) must not exceed "
                f"MAX_REVIEW_CHARS ({self.max_review_chars})"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalize_database_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` form and pick the psycopg 3 driver.

    >>> normalize_database_url("postgres://u:p@h:5432/d")
    'postgresql+psycopg://u:p@h:5432/d'
    >>> normalize_database_url("sqlite:///x.sqlite")
    'sqlite:///x.sqlite'
    """
    # https://github.com/simonw/db-to-sqlite/issues/34: Heroku still hands out postgres://
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def parse_duration(name: str, raw: str) -> float:
    """Seconds from ``90``, ``30s``, ``10m``, ``2h`` or ``1d``.

    >>> parse_duration("RETRAIN_EVERY", "10m")
    600.0
    >>> parse_duration("RETRAIN_EVERY", "1.5h")
    5400.0
    """
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", raw.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(
            f'{name} must be a positive duration such as "90", "30s", "10m" or "2h", got "{raw}"'
        )
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f'{name} must be a positive integer, got "{raw}"')
    return value


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f'{name} must be an integer of at least 0, got "{raw}"')
    return value


def _non_negative_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f'{name} must be a number of at least 0, got "{raw}"')
    return value


def _fraction(name: str, raw: str) -> float:
    value = _non_negative_float(name, raw) if _is_number(raw) else -1.0
    if not 0 <= value <= 1:
        raise ConfigError(f'{name} must be a number from 0 to 1, got "{raw}"')
    return value


def _is_number(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def _boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f'{name} must be true or false, got "{raw}"')


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.lower() if name != "LOG_LEVEL" else raw.upper()
        if value not in choices:
            accepted = ", ".join(f'"{c}"' for c in choices)
            raise ConfigError(f'{name} must be one of {accepted}, got "{raw}"')
        return value

    return parse


def _database_url(name: str, raw: str) -> str:
    url = normalize_database_url(raw)
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        raise ConfigError(
            f'{name} must be a sqlite:/// or postgres:// URL, got "{hide_password(raw)}"'
        )
    return url


def hide_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``.

    >>> hide_password("mysql://mc:secret@db.example.com/reviews")
    'mysql://mc:***@db.example.com/reviews'
    """
    return re.sub(r"^([^:/?#]+://[^:@/]*):[^@/]*@", r"\1:***@", url)


def _directory(name: str, raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _text(name: str, raw: str) -> str:
    return raw


RATELIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+cluster", "redis+sentinel")


def _storage_uri(name: str, raw: str) -> str:
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in RATELIMIT_SCHEMES:
        accepted = ", ".join(f"{s}://" for s in RATELIMIT_SCHEMES)
        raise ConfigError(f'{name} must be a URI starting with one of {accepted}, got "{raw}"')
    return raw


def _half_band(name: str, raw: str) -> float:
    value = _fraction(name, raw)
    if value > 0.5:
        raise ConfigError(f'{name} must be between 0 and 0.5 (around 0.5), got "{raw}"')
    return value


def _rate(name: str, raw: str) -> str:
    if not re.fullmatch(r"\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?", raw.strip()):
        raise ConfigError(
            f'{name} must be a rate such as "120 per minute" or "10/second", got "{raw}"'
        )
    return raw


_PARSERS = {
    "database_url": _database_url,
    "model_dir": _directory,
    "app_env": _choice(*ENVIRONMENTS),
    "secret_key": _text,
    "model_reload_seconds": _non_negative_float,
    "gate_max_drop": _fraction,
    "gate_feedback_slice": _fraction,
    "retrain_every": parse_duration,
    "retrain_batch_size": _positive_int,
    "keep_model_versions": _positive_int,
    "prediction_retention_days": _non_negative_int,
    "min_review_chars": _positive_int,
    "max_review_chars": _positive_int,
    "max_batch": _positive_int,
    "explain_top": _positive_int,
    "unsure_band": _half_band,
    "ratelimit_enabled": _boolean,
    "ratelimit_storage_uri": _storage_uri,
    "ratelimit_predict": _rate,
    "ratelimit_feedback": _rate,
    "ratelimit_login_address": _rate,
    "ratelimit_login_account": _rate,
    "ratelimit_key_prefix": _text,
    "web_concurrency": _positive_int,
    "trusted_proxies": _non_negative_int,
    "https_only": _boolean,
    "log_level": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
}

ENV_VARS = tuple(name.upper() for name in _PARSERS)
assert {f.name for f in fields(Settings)} == set(_PARSERS)


def environ_of(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting of ``settings`` in it, for a child
    process (the admin pages' "retrain now") to run with the same settings."""
    values = {}
    for field in fields(settings):
        value = getattr(settings, field.name)
        values[field.name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return {**os.environ, **values}
