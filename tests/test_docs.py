"""The README documents every command and setting, and CI runs exactly the README's test command."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from geo_app.cli import COMMANDS
from geo_app.config import SECTIONS, Config, _known_keys

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_gives_exactly_two_commands_run_and_test():
    commands = readme_commands()
    assert len(commands) == 2
    run, test = commands
    assert run.endswith("geo_app serve") and test.endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_every_cli_command_is_documented():
    for command in COMMANDS:
        assert f"`{command}" in README, command


def test_every_setting_and_its_environment_variable_is_documented():
    for env_name, dotted in _known_keys().items():
        assert env_name in README, env_name
        assert dotted.split(".")[-1] in README, dotted
    assert {f.name for f in dataclasses.fields(Config)} >= set(SECTIONS)
