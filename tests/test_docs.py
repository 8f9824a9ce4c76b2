"""The README documents every setting and every command; every command has help."""

import re
from pathlib import Path

import click
import pytest

from movieclassifier.cli import COMMANDS
from movieclassifier.config import ENV_VARS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("variable", ENV_VARS)
def test_every_setting_is_in_the_readme(variable):
    assert re.search(rf"`{variable}`", README), f"{variable} is not documented in README.md"


def _all_commands():
    for command in COMMANDS:
        yield command.name, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield f"{command.name} {name}", sub


@pytest.mark.parametrize("name,command", list(_all_commands()))
def test_every_command_has_help_and_is_in_the_readme(name, command):
    assert command.help and len(command.help.strip()) > 10, f"{name} has no help text"
    assert name in README, f"command {name!r} is not in README.md"


def test_readme_shows_the_two_commands():
    assert "make run" in README
    assert "make test" in README
