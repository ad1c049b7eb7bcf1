#!/usr/bin/env python
"""Write docs/commands.md, the command reference, from the commands' own ``--help``.

Every option is described once, in its help text in ``genolift/cli``; this page is that text, rendered
by click for each command in the order of :data:`ORDER`.  ``tests/test_docs.py`` fails when the page
differs from what this script writes (run it after changing an option).

Usage::

    python scripts/make_command_docs.py            # rewrite docs/commands.md
    python scripts/make_command_docs.py --check    # exit 1 if docs/commands.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "commands.md"
#: Commands in the order a user meets them; any other command follows, by name.
ORDER = ("score", "hypothetical", "variants", "ism", "occlusion", "info", "merge", "average", "export", "bigwig",
         "plot")
WIDTH = 100

INTRO = """# Command reference

Every `genolift` command with all its options, exactly as `genolift COMMAND --help` prints them.
This page is generated from the code (`python scripts/make_command_docs.py`); a test fails when it
is out of date, so what you read here is what the installed version does.

`genolift --version` prints the version; `genolift --debug COMMAND ...` shows the full traceback of
an error instead of its one line; `python -m genolift` is the same as `genolift`.  Exit codes: 0 success, 1 an error (one line on stderr naming the
file, line or region and what to do), 2 a usage error, 128 + N when stopped by signal N (rerun with
`--resume`).
"""


def render() -> str:
    """The page's text."""
    sys.path.insert(0, str(ROOT))
    import click

    from genolift.cli.main import cli

    names = [n for n in ORDER if n in cli.commands] + sorted(set(cli.commands) - set(ORDER))
    parts = [INTRO, "Commands: " + ", ".join(f"[`{n}`](#genolift-{n})" for n in names) + ".\n"]
    group = click.Context(cli, info_name="genolift", terminal_width=WIDTH, max_content_width=WIDTH,
                          **cli.context_settings)
    for name in names:
        command = cli.commands[name]
        ctx = click.Context(command, info_name=name, parent=group)  # -h and the width come from the group
        parts.append(f"## genolift {name}\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n")
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the page is out of date, write nothing")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    from docs_sections import write_or_check

    return write_or_check(PAGE, render(), "make_command_docs", args.check)


if __name__ == "__main__":
    sys.exit(main())
