#!/usr/bin/env python
"""Stream a review,sentiment CSV into a new model version: see ``--help``."""

from __future__ import annotations

if __name__ == "__main__":
    # Imported here, not at the top: the hashing worker processes import this file as
    # their main module, and they need none of the CLI (Flask, SQLAlchemy, scikit-learn).
    from movieclassifier.cli.train import train_command

    train_command(prog_name="train_stream.py")
