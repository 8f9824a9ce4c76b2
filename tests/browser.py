"""Debian's Chromium for the browser tests: where it is, how to start it, where shots go."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from movieclassifier import db
from movieclassifier.config import Settings
from servers import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this closed network
# refuses; a test tool's own browser download fails here, so Debian's binary is used.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# A generous bound for a busy machine: it waits for a state, it times nothing.
TIMEOUT_MS = 30_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed at the end."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def site_database(tmp: Path, secret_key: str) -> tuple[Settings, Engine, sessionmaker[Session]]:
    """Settings for a served test site in ``tmp`` (SQLite, no rate limits), migrated."""
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'reviews.sqlite'}",
        model_dir=tmp / "pkl_objects",
        app_env="testing",
        secret_key=secret_key,
        ratelimit_enabled=False,
    )
    engine = db.make_engine(settings.database_url)
    db.init_db(engine)
    return settings, engine, db.make_session_factory(engine)
