"""``genolift info``: inputs, outputs, layers and a forward-parity check of a model file; or, given a score
file, its summary and the downstream commands with the widths read from it."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging
from ..engine.backends import BACKENDS
from ..engine.rule_names import MAXPOOL_RULES, RULE_NAMES
from .quiet_import import import_backend

PARITY_TOLERANCE = 1e-4


@click.command()
@click.argument("model", metavar="MODEL|SCORES", type=click.Path(path_type=Path))
@click.option("--sequences", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="Random one-hot sequences for the forward-parity check against Keras.")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default=None,
              help="Backend of the parity check (Keras and genolift's forward pass) [default: KERAS_BACKEND when it "
                   "names one of them, else tensorflow].")
def info(model, sequences, backend):
    """Describe MODEL: inputs, outputs, every layer with its verdict and rule, parity with Keras.

    Exits with 1 if any layer is unsupported or genolift's forward pass differs
    from Keras's.  Given SCORES (a file genolift wrote), prints its rows, window
    length, target and references, and the modisco and Fi-NeMo commands that
    come next, with -w/-W set to its window length.
    """
    from ..downstream.summary import is_score_file, summary
    from ..errors import UnsupportedLayerError
    from ..inspect import describe, parity

    setup_logging(False)
    if is_score_file(model):
        click.echo("\n".join(summary(model)))
        return
    facts = describe(model)
    click.echo(f"model: {facts.path}\nformat: {facts.kind}\nsha256: {facts.sha256}")
    width = max([len(layer.name) for layer in facts.layers] + [5])
    click.echo(f"layers ({len(facts.layers)}):")
    for layer in facts.layers:
        click.echo(f"  {layer.name:<{width}}  {layer.cls:<22}  {layer.verdict:<12}  {layer.rule}")
    if facts.problems:
        raise UnsupportedLayerError(f"{model}: {len(facts.problems)} unsupported layer(s): {'; '.join(facts.problems)}")
    xp = import_backend(backend)
    graph, diffs, trainable, total = parity(model, sequences, xp=xp)
    click.echo(f"input: {graph.inputs[0]} {graph.input_shape}")
    for name, shape, diff in zip(graph.output_names, graph.output_shapes, diffs):
        click.echo(f"output: {name} {tuple(shape)}  max |genolift - keras| = {diff:.2e} ({xp.NAME})")
    click.echo(f"parameters: {total} ({trainable} trainable, {total - trainable} non-trainable), as Keras counts them")
    click.echo(f"rules (score --rule): {', '.join(RULE_NAMES)}; max pooling (--maxpool): {', '.join(MAXPOOL_RULES)}; "
               "also genolift ism and genolift occlusion (docs/methods.md)")
    worst = max(diffs)
    if worst > PARITY_TOLERANCE:
        raise UnsupportedLayerError(f"{model}: forward pass differs from Keras by {worst:.2e}; please report it")
    click.echo(f"parity: ok on {sequences} random sequences (max difference {worst:.1e})")
