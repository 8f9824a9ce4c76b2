"""Operator commands for the feedback loop (versions, rollback, prune, quarantine, retrain).

Registered on ``app.cli`` next to the commands of ``cli``.
"""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
