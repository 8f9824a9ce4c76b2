#!/usr/bin/env python
"""Run the retraining job once (cron, Heroku Scheduler) or as a clock process: see ``--help``."""

from __future__ import annotations

from movieclassifier import configure_logging
from movieclassifier.cli.operate import retrain_command
from movieclassifier.config import ConfigError, Settings

if __name__ == "__main__":
    try:
        configure_logging(Settings.from_env().log_level)
    except ConfigError:
        pass  # the command reports the bad setting itself, with its hint
    retrain_command(prog_name="retrain.py")
