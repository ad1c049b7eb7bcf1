"""The docs cannot drift from the command line: the command reference is generated from the commands' help
and checked here; the README's set-up commands are the ones CI runs."""

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


def test_command_reference_is_generated_from_the_commands():
    """docs/commands.md is exactly what scripts/make_command_docs.py renders from every command's --help."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_command_docs import PAGE, render

    text = render()
    assert PAGE.read_text() == text, "docs/commands.md is out of date: run python scripts/make_command_docs.py"
    for name, command in cli.commands.items():
        assert f"## genolift {name}" in text
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts + param.secondary_opts:
                    assert re.search(rf"{re.escape(opt)}\b", text), f"{name} {opt} is not in docs/commands.md"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and len(cli.commands[name].help or "") > 40
    assert "Usage: genolift " + name in result.output


def test_group_options_and_version():
    page = (ROOT / "docs" / "commands.md").read_text()
    for words in ("--version", "--debug", "python -m genolift"):
        assert words in page
    assert CliRunner().invoke(cli, ["--version"]).output.strip() == f"genolift, version {__version__}"
    out = subprocess.run([sys.executable, "-m", "genolift", "--help"], capture_output=True, text=True, check=True)
    assert "Usage: genolift" in out.stdout


def test_ci_runs_the_readme_test_command():
    block = re.search(r"Install the test extra.*?```bash\n(.+?)\n```", README, re.S).group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == block  # its last command: the README's decides CI's result
    run = re.search(r"Run the main job.*?```bash\n(.+?)\n```", README, re.S).group(1)
    assert "genolift score test_data/" in run and "pip install ." in run
