#!/usr/bin/env python
"""Score a stored model version on a labelled file: see ``--help``."""

from __future__ import annotations

if __name__ == "__main__":
    from movieclassifier.cli.evaluate import evaluate_command

    evaluate_command(prog_name="evaluate.py")
