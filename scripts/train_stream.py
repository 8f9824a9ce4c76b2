#!/usr/bin/env python
"""Stream a review,sentiment CSV into a new model version: see ``--help``."""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if __name__ == "__main__":
    # Imported here, not at the top: the hashing worker processes import this file as
    # their main module, and they need none of the CLI (Flask, SQLAlchemy, scikit-learn).
    from movieclassifier.cli import train_command

    train_command(prog_name="train_stream.py")
