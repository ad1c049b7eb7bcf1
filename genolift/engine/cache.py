"""Engines kept with the loaded model, so repeated API calls trace nothing new.

An :class:`~genolift.engine.runner.Engine` holds its traced and compiled step
functions (one per batch shape) and the compilation each chose.  Building one
per call would re-trace and re-compile every step, about a second each on a
CPU.  :func:`cached_engine` keeps one engine per settings on the
:class:`~genolift.model.graph.Graph` object itself (so it goes when the graph
goes), and a second ``genolift.attribute`` or ``genolift.ism`` call with the
same model object and settings reuses its steps.
"""

from __future__ import annotations

from ..model.graph import Graph
from .runner import Engine

#: Attribute of a Graph holding its engines, {settings: Engine}.
_ENGINES = "_engines"


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def cached_engine(graph: Graph, **settings) -> Engine:
    """The engine of ``graph`` for these :class:`Engine` keyword settings, made on first use.

    Engines of one graph are kept in a dict on the graph object, keyed by
    the settings (devices as a tuple); they share nothing else.
    """
    engines = vars(graph).setdefault(_ENGINES, {})
    key = tuple(sorted((name, _hashable(value)) for name, value in settings.items()))
    if key not in engines:
        engines[key] = Engine(graph, **settings)
    return engines[key]
