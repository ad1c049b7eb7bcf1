"""The docs cannot drift from the code: the command reference, the supported layers and the file format tables are
generated from the code and checked here; links lead somewhere; documented commands use real options; the README
stays short and its set-up commands are the ones CI runs."""

from __future__ import annotations

import re
import shlex
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


DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
#: Lines of a README's first screen.
FIRST_SCREEN = 50


def _script(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    return __import__(name)


@pytest.mark.parametrize("name", ["make_model_docs", "make_format_docs"])
def test_generated_sections_are_up_to_date(name):
    """The tables of docs/models.md and docs/formats.md are what their scripts render from the code."""
    script, sections = _script(name), _script("docs_sections")
    page = script.PAGE.read_text()
    assert sections.splice(page, script.SCRIPT, script.render()) == page, \
        f"{script.PAGE.name} is out of date: run python scripts/{name}.py"


def test_models_page_lists_every_supported_layer():
    from genolift.model.support import ACTIVATIONS, LAYERS, OPERATIONS

    page = (DOCS / "models.md").read_text()
    missing = [name for name in [*LAYERS, *OPERATIONS, *(a for a in ACTIVATIONS if a)] if f"`{name}`" not in page]
    assert not missing, f"docs/models.md does not name {missing}"


def test_formats_page_names_every_dataset_and_attribute():
    """Every dataset and attribute name of _constants.py (and the settings, the provenance) is on docs/formats.md."""
    page = (DOCS / "formats.md").read_text()
    missing = sorted(name for name in _script("make_format_docs").required_names() if f"`{name}`" not in page)
    assert not missing, f"docs/formats.md does not name {missing}"


def test_readme_is_short_and_its_first_screen_leads_on():
    lines = README.splitlines()
    assert len(lines) <= 200, f"the README has {len(lines)} lines; keep it under 200 and move the rest to docs/"
    screen = "\n".join(lines[:FIRST_SCREEN])
    for words in ("pip install", "genolift score test_data/", "(#your-own-model)", "(#gpu-and-backends)",
                  "(#variants)", "(#quick-start)"):
        assert words in screen, f"{words!r} is not in the README's first {FIRST_SCREEN} lines"
    assert "docs/example_logo.png" in README


def test_readme_lists_every_docs_page():
    listed = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", README))
    assert listed == {p.name for p in DOCS.glob("*.md")}, listed ^ {p.name for p in DOCS.glob("*.md")}


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path) -> set[str]:
    seen, anchors = {}, set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_somewhere(page):
    """Every relative link of the README and docs/ names a file that exists, and a heading of it."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        assert where.exists(), f"{page.name}: link to {target}: no such file"
        if anchor:
            assert anchor in _anchors(where), f"{page.name}: link to {target}: no such heading"


def _documented_commands(page) -> list[tuple[str, list[str]]]:
    """(command, words) of every `genolift COMMAND ...` line of the page's bash blocks (continuations joined)."""
    found = []
    for block in re.findall(r"^```bash\n(.*?)^```", page.read_text(), re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            words = []
            for token in [*lexer, ";"]:
                if set(token) <= set("();<>|&"):  # the end of one command
                    if len(words) >= 2 and words[0] == "genolift" and not words[1].startswith("-"):
                        found.append((words[1], words[2:]))
                    words = []
                else:
                    words.append(token)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documented_commands_use_real_options(page):
    """Every `genolift COMMAND --option` written in the docs is a command with that option."""
    for name, words in _documented_commands(page):
        assert name in cli.commands, f"{page.name}: genolift {name}: no such command"
        options = {opt for param in cli.commands[name].params if isinstance(param, click.Option)
                   for opt in param.opts + param.secondary_opts}
        for word in words:
            option = word.split("=")[0]
            if option.startswith("-") and len(option) > 1 and not re.fullmatch(r"-?\d.*", option):
                assert option in options, f"{page.name}: genolift {name} {option}: no such option"
