#!/usr/bin/env python
"""Stream a review,sentiment CSV into a new model version: see ``--help``."""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from movieclassifier.cli import train_command  # noqa: E402

if __name__ == "__main__":
    train_command(prog_name="train_stream.py")
