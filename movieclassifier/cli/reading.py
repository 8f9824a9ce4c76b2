"""The options that say how to read data files, shared by ``train`` and ``evaluate``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from movieclassifier import datafiles

F = TypeVar("F", bound=Callable[..., Any])


def reading_options(command: F) -> F:
    """The options that say how to read data files (``train``, ``evaluate``); the command
    gets them as one ``reading`` argument, a ``datafiles.ReadOptions``."""
    options = [
        click.option(
            "--format",
            "data_format",
            type=click.Choice(datafiles.FORMATS),
            default=None,
            help="Read every file as this format [default: by extension: .csv, .tsv, .jsonl, "
            "each plain or .gz; a .csv with tabs and no commas in its header is TSV].",
        ),
        click.option(
            "--text-column",
            metavar="NAME",
            help="The column (JSON key) holding the review [default: review or text].",
        ),
        click.option(
            "--label-column",
            metavar="NAME",
            help="The column (JSON key) holding the label [default: sentiment or label].",
        ),
        click.option(
            "--positive-label",
            "positive",
            metavar="VALUE",
            multiple=True,
            help="A label value meaning positive; repeat it or give a comma list (4,5). With "
            "--negative-label, replaces the default labels (0/1, negative/positive, neg/pos, "
            "false/true, in any case).",
        ),
        click.option(
            "--negative-label",
            "negative",
            metavar="VALUE",
            multiple=True,
            help="A label value meaning negative; repeat it or give a comma list (1,2).",
        ),
        click.option(
            "--ignore-label",
            "ignore",
            metavar="VALUE",
            multiple=True,
            help="A label value whose rows are skipped and counted (3, neutral); repeat it or "
            "give a comma list.",
        ),
    ]

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        data_format: str | None,
        text_column: str | None,
        label_column: str | None,
        positive: tuple[str, ...],
        negative: tuple[str, ...],
        ignore: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        try:
            labels = datafiles.LabelRule.of(positive, negative, ignore)
        except datafiles.LabelRuleError as exc:
            raise click.UsageError(str(exc)) from exc
        reading = datafiles.ReadOptions(data_format, text_column, label_column, labels)
        return command(*args, reading=reading, **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
