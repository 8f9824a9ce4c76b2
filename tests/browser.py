"""Debian's Chromium for the browser tests: where it is, how to start it, where shots go."""

from __future__ import annotations

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
