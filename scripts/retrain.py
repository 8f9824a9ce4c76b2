#!/usr/bin/env python
"""Run the retraining job once (cron, Heroku Scheduler) or as a clock process: see ``--help``."""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from movieclassifier import configure_logging  # noqa: E402
from movieclassifier.cli_ops import retrain_command  # noqa: E402
from movieclassifier.config import ConfigError, Settings  # noqa: E402

if __name__ == "__main__":
    try:
        configure_logging(Settings.from_env().log_level)
    except ConfigError:
        pass  # the command reports the bad setting itself, with its hint
    retrain_command(prog_name="retrain.py")
