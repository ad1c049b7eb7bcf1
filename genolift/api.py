"""The Python API: the same engine as the command line, on numpy arrays."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .model.graph import Graph
from .scores import contributions as project


class Attribution(NamedTuple):
    """Scores of N sequences against K references each.

    Attributes
    ----------
    contributions : (N, L, 4) float32, hyp · x (projected scores).
    hypothetical : (N, L, 4) float32, mean over references of the pair scores.
    deltas : (N, K) float32, per-pair summation-to-delta error.
    predictions : (N,) float32, target of each sequence.
    reference_predictions : (N, K) float32, target of each reference.
    """

    contributions: np.ndarray
    hypothetical: np.ndarray
    deltas: np.ndarray
    predictions: np.ndarray
    reference_predictions: np.ndarray


def load_model(path: str | Path, known_lambdas: bool = True) -> Graph:
    """Read a Keras model file (.keras, or .h5 from Keras 3 or tf.keras 2) as data.

    ``known_lambdas``: replace ChromBPNet's counts combiner (a Lambda named
    ``logcount_predictions`` fed by a Concatenate of two log-count heads) by
    genolift's own logsumexp instead of refusing the model.
    """
    from .model import load_model as _load

    return _load(path, known_lambdas)


def attribute(
    model: Graph | str | Path,
    X: np.ndarray,
    references: np.ndarray,
    *,
    rule: str = "rescale",
    output: str | int | None = None,
    task: int = 0,
    batch_size: int = 256,
    target: str = "auto",
    revcomp: bool = False,
    extras=None,
    steps: int = 50,
) -> Attribution:
    """DeepLIFT scores of sequences.

    Parameters
    ----------
    model : a Graph from :func:`load_model`, or a model file path.
    X : (N, L, 4) float32 one-hot sequences.
    references : (N, K, L, 4) float32 references per sequence, or (L, 4) for
        one reference shared by all sequences (K = 1).
    rule : ``rescale`` (DeepLIFT), or a gradient baseline: ``gradient``,
        ``grad-x-input``, ``guided-backprop``, ``integrated-gradients`` (``steps``).
    output, task : which model output (name or index) and unit to explain.
    batch_size : (sequence, reference) pairs per device batch.
    target : ``auto`` (profile for profile-shaped outputs, else a unit), ``task``,
        ``profile`` (exact) or ``profile-chrombpnet`` (fixed softmax weights).
    revcomp : average with the reverse complement (scores mapped back to the
        forward strand); predictions and deltas are then two-strand means.
    extras : values of the model's other inputs, if it has more than the
        sequence: a list of (N, ...) arrays in the order of
        ``model.extra_inputs``; each sequence's references share them.
    """
    from .engine import Engine

    graph = model if isinstance(model, Graph) else load_model(model)
    X = np.asarray(X, dtype=np.float32)
    references = np.asarray(references, dtype=np.float32)
    if X.ndim != 3 or X.shape[1:] != (graph.length, 4):
        raise ValueError(f"X has shape {X.shape}; the model needs (N, {graph.length}, 4)")
    if references.ndim == 4 and references.shape[0] != X.shape[0]:
        raise ValueError(f"references have shape {references.shape}; expected (N={X.shape[0]}, K, L, 4)")
    engine = Engine(graph, output=output, task=task, rule=rule, batch_size=batch_size, target=target, steps=steps)
    res = engine.run(X, references, revcomp=revcomp, extras=extras)
    return Attribution(project(res.hypothetical, X), res.hypothetical, res.deltas, res.predictions,
                       res.reference_predictions)
