"""The public dashboard: ``GET /dashboard`` (versions, feedback counts, live accuracy)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
