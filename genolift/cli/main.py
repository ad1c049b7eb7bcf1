"""Entry point: the ``genolift`` click group and error handling.

Library errors (:class:`~genolift.errors.GenoliftError`) become one line on
stderr and exit code 1; usage errors exit with 2 (click's convention).
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import gc
import sys

import click

from .. import __version__
from ..errors import GenoliftError
from .logs import log_to_files


class _Group(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Like click's, but a usage error is one line on stderr (exit code 2)."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f"; see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
            click.echo(f"genolift: usage error: {exc.format_message().rstrip('.')}{where}", err=True)
            rv = 2
        except click.ClickException as exc:
            click.echo(f"genolift: error: {exc.format_message()}", err=True)
            rv = exc.exit_code
        except click.exceptions.Abort:
            click.echo("genolift: aborted", err=True)
            rv = 1
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def parse_args(self, ctx, args):
        ctx.ensure_object(dict)["argv"] = list(args)  # the command line, for the output's attributes
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GenoliftError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"genolift: error: {exc}", err=True)
            log_to_files(f"error: {exc}")
            ctx.exit(getattr(exc, "exit_code", 1))
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug or an unforeseen failure: still one line
            if ctx.obj and ctx.obj.get("debug"):
                raise
            text = str(exc).strip().splitlines()
            click.echo(f"genolift: internal error: {type(exc).__name__}: {text[0] if text else ''} "
                       "(rerun with --debug for the traceback and report it)", err=True)
            ctx.exit(1)


@click.group(name="genolift", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="genolift")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def cli(ctx, debug):
    """DeepLIFT contribution and hypothetical scores for genomics Keras models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv=None):
    """Run the command line (``argv`` defaults to sys.argv[1:]) and exit, without a collection at exit.

    This is the process's last step (the ``genolift`` command, ``python -m
    genolift``): it ends in ``sys.exit``, and Python's shutdown then runs the
    cyclic garbage collector over every object left, TensorFlow's hundreds of
    thousands included, about 0.8 s on a 2-core machine for memory the
    operating system frees anyway.  :func:`leave_to_the_system` moves them out
    of the collector's reach first; files, exit handlers and the streams are
    closed and flushed as usual (nothing genolift keeps open by then).
    """
    try:
        cli.main(args=argv, prog_name="genolift")
    finally:
        leave_to_the_system()


def leave_to_the_system() -> None:
    """Exempt every object alive now from cyclic garbage collection (``gc.freeze``) for a process about to exit.

    Reference counting still frees what it frees, and exit handlers still run;
    only the collector's passes over the frozen objects at shutdown are skipped.
    In a process that goes on, frozen cycles are never collected: not for a
    library call, only for the command line's exit.
    """
    gc.freeze()


def _register() -> None:
    """Add every command to the group (the command modules do not import the group: no import circle)."""
    from . import average, bigwig, export, hypothetical, info, ism, merge, occlusion, plot, score, variants

    for command in (score.score, hypothetical.hypothetical, variants.variants, ism.ism, occlusion.occlusion,
                    info.info, merge.merge, average.average, export.export, bigwig.bigwig, plot.plot):
        cli.add_command(command)


_register()
