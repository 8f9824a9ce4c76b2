"""The click commands: ``flask --app movieclassifier ...`` and the scripts in ``scripts/``.

``train`` makes models from data, ``operate`` runs the loop and its operator commands,
``quarantine`` triages what the screen and the gate held back, ``take_back`` retracts
answers and forgets reviews, ``users`` manages the admin pages' accounts, ``audit``
prints the audit log, ``common`` holds what they share.
``init_app(app)`` registers them all; ``app_settings()`` is how ``create_app`` reads the
environment (one line for a bad setting under a command).
"""

from __future__ import annotations

from flask import Flask

from movieclassifier.cli import (
    audit,
    evaluate,
    export,
    operate,
    quarantine,
    take_back,
    train,
    users,
)
from movieclassifier.cli.common import app_settings

__all__ = ["COMMANDS", "app_settings", "init_app"]

COMMANDS = (
    train.COMMANDS
    + evaluate.COMMANDS
    + export.COMMANDS
    + operate.COMMANDS
    + quarantine.COMMANDS
    + take_back.COMMANDS
    + users.COMMANDS
    + audit.COMMANDS
)


def init_app(app: Flask) -> None:
    """Register every command on ``app.cli``."""
    for command in COMMANDS:
        app.cli.add_command(command)
