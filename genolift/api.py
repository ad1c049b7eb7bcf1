"""The Python API: the same engine as the command line, on numpy arrays.

Every function takes ``f(model, X, ...)``: ``model`` is a model file path or a
:class:`~genolift.model.graph.Graph` from :func:`load_model`, ``X`` one-hot
sequences (N, L, 4) or the :class:`Regions` of :func:`load_regions`.

:func:`attribute`, :func:`ism` and :func:`occlusion` also take the engine's
settings by name, as the command line's options of the same names
(:data:`SETTINGS` gives their defaults):

* ``rule`` — ``rescale``, ``revealcancel``, ``genomics-default`` (DeepLIFT),
  ``gradient``, ``grad-x-input``, ``guided-backprop``, ``integrated-gradients``
  (``steps``), ``saliency``, ``lrp-epsilon`` (``epsilon``), ``lrp-alpha-beta``
  (``alpha``, ``beta``), ``smoothgrad`` / ``smoothgrad-x-input`` (``samples``,
  ``noise``), ``connection-weights`` (``times_input``), ``shapley-sampling``
  (``samples`` permutations of features of ``width`` bases); ``maxpool``
  (``cross-max``, ``winner-takes-all``, ``average``) for the DeepLIFT rules;
  docs/methods.md defines each (:func:`attribute` only);
* ``output``, ``task``, ``target`` — the explained output (a name, an index,
  or ``profile`` / ``counts``), its unit (or ``"all"``), and ``auto`` /
  ``task`` / ``profile`` / ``profile-chrombpnet``;
* ``batch_size`` — pairs (mutants, sequences) per device batch, or ``"auto"``:
  the largest that fits ``memory`` GB (default: 75 % of a GPU's memory; on a CPU
  a quarter of the host's, at most 2 GB);
* ``backend`` — ``tensorflow``, ``jax`` or ``torch`` (default ``KERAS_BACKEND``
  when it names one, else ``tensorflow``); ``precision`` (``float32``, which is
  IEEE float32 on GPUs too, ``float64``, ``bfloat16``, ``float16``);
  ``devices`` (None, ``"all"``, GPU indices or device names); ``compile``
  (``auto``, ``plain``, ``xla``; default ``$GENOLIFT_COMPILE``, else ``auto``).

Engines are kept on the model object: a second call with the same Graph and
settings reuses the compiled step functions (pass a Graph from
:func:`load_model`, not a path, to benefit).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import ModelError, ReferencesError
from .model.graph import Graph
from .scores import contributions as project

def resolve_backend(name: str | None) -> str:
    """The backend name (``KERAS_BACKEND`` or TensorFlow when None), checked."""
    from .engine.backends import resolve

    return resolve(name)


#: The engine's settings every function takes by name, with their defaults (the module docstring says what
#: each means; the command line's options of the same names).
SETTINGS = {"rule": "rescale", "output": None, "task": 0, "target": "auto", "batch_size": "auto", "memory": None,
            "precision": "float32", "devices": None, "compile": None, "backend": None, "steps": 50,
            "epsilon": 1e-4, "alpha": 1.0, "beta": 0.0, "maxpool": "cross-max", "samples": 50, "noise": 0.15,
            "times_input": False, "width": 1}
#: Settings of the attribution rules, which ism and occlusion (forward passes) do not take.
RULE_SETTINGS = ("rule", "steps", "epsilon", "alpha", "beta", "maxpool", "samples", "noise", "times_input", "width")


def _engine(graph: Graph, settings: dict, function: str, seed: int = 0, rules: bool = True):
    """The engine of ``graph`` for these settings (unknown names refused), kept on the graph."""
    from .engine.cache import cached_engine

    allowed = [name for name in SETTINGS if rules or name not in RULE_SETTINGS]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise TypeError(f"{function}() got unexpected setting(s) {', '.join(unknown)}; its settings are "
                        f"{', '.join(allowed)}")
    chosen = {name: settings.get(name, SETTINGS[name]) for name in allowed}
    chosen["backend"] = resolve_backend(chosen["backend"])
    return cached_engine(graph, **chosen, **({"seed": seed} if rules else {}))


#: Reference strategies :func:`attribute` builds itself (besides an array of references).
STRATEGIES = ("shuffle", "gc")


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


class OcclusionScores(NamedTuple):
    """Occlusion of N sequences.

    Attributes
    ----------
    scores : (N, L) float32, per position the mean over the windows covering it of t(x) − t(x occluded),
        averaged over the references; 0 where no window covers the position.
    predictions : (N,) float32, target of each sequence t(x).
    """

    scores: np.ndarray
    predictions: np.ndarray


class ISMScores(NamedTuple):
    """In-silico mutagenesis of N sequences.

    Attributes
    ----------
    scores : (N, L, 4) float32, t(x with base b at l) − t(x); 0 at the observed base
        and outside the window.
    predictions : (N,) float32, target of each sequence t(x).
    """

    scores: np.ndarray
    predictions: np.ndarray


def load_model(path: str | Path, known_lambdas: bool = True, backend: str | None = None) -> Graph:
    """Read a Keras model file (.keras, or .h5 from Keras 3 or tf.keras 2) as data.

    ``known_lambdas``: replace ChromBPNet's counts combiner (a Lambda named
    ``logcount_predictions`` fed by a Concatenate of two log-count heads) by
    genolift's own logsumexp instead of refusing the model.
    ``backend``: where Keras is not imported yet, it reads the file on this
    backend (``tensorflow``, ``jax``, ``torch``; default ``KERAS_BACKEND``,
    else TensorFlow), so a JAX or PyTorch session never imports TensorFlow.
    The graph itself runs on any backend.
    """
    from .engine.backends import resolve
    from .model import load_model as _load

    return _load(path, known_lambdas, backend=resolve(backend))


class Regions(NamedTuple):
    """The windows of a regions file and their one-hot sequences, as the command line reads them.

    Attributes
    ----------
    windows : list of :class:`genolift.regions.Window` (chrom, start, end, name, line; 0-based, end
        exclusive), row i = window i.
    X : (N, L, 4) float32 one-hot sequences (all-zero rows are N).
    keys : list of str, each window's key (its coordinates): the command seeds window i's references by
        (``--seed``, ``keys[i]``); :func:`attribute` does too when given these keys (or this object as X).
    skipped : the windows left out because they run off a chromosome end (``off_edge="skip"``).
    """

    windows: list
    X: np.ndarray
    keys: list
    skipped: list


def load_regions(regions: str | Path, genome: str | Path | None = None, length: int | None = None, *,
                 model: Graph | str | Path | None = None, off_edge: str = "skip") -> Regions:
    """Read a BED/narrowPeak file (with ``genome``) or a FASTA of sequences into windows and one-hot arrays.

    Windows are ``length`` bases (or the input length of ``model``) centred on each region's summit or
    centre, exactly as ``genolift score`` makes them; ``off_edge``: ``skip``, ``pad`` (N beyond the end)
    or ``fail`` for windows that run off a chromosome end.
    """
    from types import SimpleNamespace

    from .run.source import RegionSource

    if length is None:
        if model is None:
            raise ModelError("load_regions needs the window length: length=L or model=")
        length = (model if isinstance(model, Graph) else load_model(model)).length
    settings = SimpleNamespace(regions=Path(regions), genome=None if genome is None else Path(genome),
                               off_edge=off_edge)
    with RegionSource(settings, int(length)) as source:
        X = source.one_hot(0, len(source.windows))
        return Regions(list(source.windows), X, [w.key for w in source.windows], list(source.skipped_items))


def _with_keys(X, keys) -> tuple[np.ndarray, list | None]:
    """X as an array, and the keys of a :class:`Regions` given as X (unless keys are given)."""
    if isinstance(X, Regions):
        return X.X, X.keys if keys is None else keys
    return X, keys


def _graph_and_sequences(model: Graph | str | Path, X: np.ndarray, backend=None) -> tuple[Graph, np.ndarray]:
    """The model as a graph and X as float32 (N, L, 4), checked against the model's input length."""
    graph = model if isinstance(model, Graph) else load_model(model, backend=backend)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[1:] != (graph.length, 4):
        raise ModelError(f"X has shape {X.shape}; the model needs (N, {graph.length}, 4)")
    return graph, X


def _references(X: np.ndarray, references, shuffles: int, seed: int, keys=None) -> np.ndarray:
    """References (N, K, L, 4) or (L, 4) from an array or the ``shuffle`` strategy (``gc`` is handled apart).

    The shuffles of row i are seeded by (``seed``, ``keys[i]``): the command's keys are its windows'
    coordinates (:func:`load_regions` gives them), the default the row index.
    """
    if isinstance(references, str):
        if references != "shuffle":
            raise ReferencesError(f"references={references!r}: give an array or one of {', '.join(STRATEGIES)}")
        from .references import dinucleotide_shuffle

        return dinucleotide_shuffle(X, shuffles, seed=seed, keys=keys)
    references = np.asarray(references, dtype=np.float32)
    if references.shape == X.shape[1:] or (references.ndim == 4 and references.shape[0] == X.shape[0]
                                           and references.shape[2:] == X.shape[1:]):
        return references
    raise ReferencesError(f"references have shape {references.shape}; expected (N={X.shape[0]}, K, "
                          f"{X.shape[1]}, 4), ({X.shape[1]}, 4), or a strategy ({', '.join(STRATEGIES)})")


def _gc_background(X: np.ndarray, gc: float | None) -> np.ndarray:
    """The (L, 4) GC background row of fraction ``gc``, estimated from X when None."""
    from .references import gc_background, gc_fraction

    fraction = gc_fraction(X) if gc is None else gc
    return np.broadcast_to(gc_background(np.ones((1, 1, 4), np.float32), fraction)[0, 0, 0], X.shape[1:]).copy()


def attribute(model: Graph | str | Path, X, references: np.ndarray | str = "shuffle", *, shuffles: int = 10,
              seed: int = 0, gc: float | None = None, keys=None, revcomp: bool = False, extras=None,
              **settings) -> Attribution:
    """DeepLIFT (or another rule's) scores of sequences against references.

    Parameters
    ----------
    model : a Graph from :func:`load_model`, or a model file path.
    X : (N, L, 4) float32 one-hot sequences (all-zero rows are N), or the :class:`Regions` of
        :func:`load_regions` (its keys then seed the references as the command's do).
    references : an array, (N, K, L, 4) float32 references per sequence or (L, 4) for one reference shared
        by all sequences (K = 1); or a strategy: ``"shuffle"`` (``shuffles`` dinucleotide shuffles of each
        sequence from ``seed``, as :func:`genolift.dinucleotide_shuffle`) or ``"gc"`` (a uniform background
        of GC fraction ``gc``, estimated from X when None, zeroed where a sequence has N; K = 1).
    keys : one text key per sequence seeding its shuffles, SmoothGrad's noise and Shapley permutations with
        ``seed`` (default the row index); the command line's keys are its windows' coordinates
        (:func:`load_regions` gives them).
    revcomp : average with the reverse complement (scores mapped back to the forward strand); predictions
        and deltas are then two-strand means.
    extras : values of the model's other inputs, if it has more than the sequence: a list of (N, ...) arrays
        in the order of ``model.extra_inputs``; each sequence's references share them.
    settings : the engine's, by name (module docstring): ``rule``, ``output``, ``task``, ``backend`` …
    """
    X, keys = _with_keys(X, keys)
    graph, X = _graph_and_sequences(model, X, settings.get("backend"))
    engine = _engine(graph, settings, "attribute", seed)
    res = _run(engine, X, references, shuffles, seed, gc, revcomp, extras, keys)
    return Attribution(project(res.hypothetical, X), res.hypothetical, res.deltas, res.predictions,
                       res.reference_predictions)


def _run(engine, X: np.ndarray, references, shuffles: int, seed: int, gc, revcomp: bool, extras, keys=None):
    """The engine's result for X against ``references`` (an array or a strategy name)."""
    if isinstance(references, str) and references == "gc":
        return engine.run_background_tasks(X, _gc_background(X, gc), revcomp=revcomp, extras=extras, keys=keys)[0]
    return engine.run(X, _references(X, references, shuffles, seed, keys), revcomp=revcomp, extras=extras, keys=keys)


def occlusion(model: Graph | str | Path, X, references: np.ndarray | str | None = "shuffle", *, width: int = 10,
              stride: int = 1, shuffles: int = 10, seed: int = 0, gc: float | None = None, keys=None,
              revcomp: bool = False, **settings) -> OcclusionScores:
    """Occlusion: each window of ``width`` bases (``stride`` apart) replaced, the target's drop spread over it.

    Parameters
    ----------
    model, X, keys : as :func:`attribute`.
    references : what fills the windows: a strategy (``"shuffle"``, ``"gc"``) or an array as in
        :func:`attribute` (the mean over the K references is taken), or None for zeros (all-N windows,
        DeepExplain's occlusion).
    width, stride : the windows: starts 0, stride, 2·stride, … while they fit.
    shuffles, seed, gc, revcomp : as :func:`attribute`.
    settings : the engine's, by name, but the rule's (module docstring; ``batch_size``: sequences per pass).
    """
    X, keys = _with_keys(X, keys)
    graph, X = _graph_and_sequences(model, X, settings.get("backend"))
    engine = _engine(graph, settings, "occlusion", rules=False)
    if references is None:
        fill = None
    elif isinstance(references, str) and references == "gc":
        fill = _gc_background(X, gc)
    else:
        fill = _references(X, references, shuffles, seed, keys)
    scores, predictions = engine.occlusion(X, fill, width, stride, revcomp=revcomp)[0]
    return OcclusionScores(scores, predictions)


def ism(model: Graph | str | Path, X, *, window: tuple[int, int] | None = None, **settings) -> ISMScores:
    """In-silico mutagenesis: the change of the target for every single-base substitution.

    Parameters
    ----------
    model : a Graph from :func:`load_model`, or a model file path.
    X : (N, L, 4) float32 one-hot sequences (all-zero rows are N: all four bases are substitutions), or a
        :class:`Regions`.
    window : mutate positions [start, end) only (default all).
    settings : the engine's, by name, but the rule's (module docstring; ``batch_size``: mutants per pass).
    """
    X, _ = _with_keys(X, None)
    graph, X = _graph_and_sequences(model, X, settings.get("backend"))
    scores, predictions = _engine(graph, settings, "ism", rules=False).mutagenesis(X, window)[0]
    return ISMScores(scores, predictions)
