"""Commands and settings are documented from one source; these tests fail when one is not."""

from __future__ import annotations

import click

from bot.cli import cli
from bot.config import SETTINGS, Settings, load_settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "watchbot"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def test_every_command_has_help_and_is_in_the_readme():
    """Each CLI command and subcommand has help text and is named in README.md."""
    missing = [path for path, command in _commands(cli)
               if not (command.help or "").strip() or f"`{path}" not in README]
    assert missing == []


def test_every_option_has_help():
    """Each option of each command explains itself in --help."""
    bare = [f"{path} {param.name}" for path, command in _commands(cli) for param in command.params
            if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert bare == []


def test_every_setting_has_help_and_is_in_the_readme():
    """Each setting has help text and a row in README.md's settings table."""
    missing = [s.name for s in SETTINGS if not s.help.strip() or f"`{s.name}`" not in README]
    assert missing == []


def test_every_setting_is_a_field_of_settings():
    """The settings table and the Settings object name the same settings."""
    fields = set(Settings.__dataclass_fields__) - {"config_path"}
    assert {s.name.lower() for s in SETTINGS} == fields


def test_shipped_watchbot_toml_loads_without_problems():
    """The shipped watchbot.toml is valid against the settings table."""
    settings = load_settings(REPO / "watchbot.toml", environ={})
    assert settings.watchbot_feeds == (REPO / "feeds.opml").resolve()
