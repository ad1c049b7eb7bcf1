"""The README cannot drift from the command line: every command and option is documented."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from genolift import __version__
from genolift.cli.main import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_and_its_options_are_in_the_readme(name):
    assert f"genolift {name}" in README
    command = cli.commands[name]
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts + param.secondary_opts:
                assert re.search(rf"`[^`]*{re.escape(opt)}\b", README), f"{name} {opt} is not in the README"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and len(cli.commands[name].help or "") > 40
    assert "Usage: genolift " + name in result.output


def test_group_options_and_version():
    for opt in ("--version", "--debug"):
        assert opt in README
    assert CliRunner().invoke(cli, ["--version"]).output.strip() == f"genolift, version {__version__}"
    out = subprocess.run([sys.executable, "-m", "genolift", "--help"], capture_output=True, text=True, check=True)
    assert "Usage: genolift" in out.stdout and "python -m genolift" in README


def test_ci_runs_the_readme_test_command():
    block = re.search(r"Install the test extra.*?```bash\n(.+?)\n```", README, re.S).group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == block  # its last command: the README's decides CI's result
    run = re.search(r"Run the main job.*?```bash\n(.+?)\n```", README, re.S).group(1)
    assert "genolift score test_data/" in run and "pip install ." in run
