"""Attention layers expanded into genolift's primitive operations.

Keras's ``MultiHeadAttention`` and CREsted's ``crested>MultiheadAttention``
(Enformer / Borzoi relative positional attention) become dense projections
and reshapes (linear), the query-key product and the attention-weighted
values as ``einsum`` nodes of two changing tensors (the two-player Shapley
split, exact for a bilinear map), the softmax over keys (decomposed by the
reader into exp, sum, reciprocal and product) and the output projection.
CREsted's relative position encodings depend only on the length and the
config: they are constants here, and the positional logits are linear in
the query.  ``crested>AttentionPool1D`` is softmax-weighted pooling over
windows: a product of the input and its softmax weights, summed.

Converters have the signature of :mod:`.layers`; ``cfg["input_shapes"]``
holds the input shapes without the batch axis and ``cfg["call_kwargs"]`` the
keyword arguments of the call (the reader adds both).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node

#: Operations of the attention converters.
MHA_OPS = ("dense", "reshape", "scale_shift", "einsum", "softmax", "identity")
CRESTED_MHA_OPS = MHA_OPS + ("einsum_const", "relative_shift", "add")
POOL_OPS = ("reshape", "dense", "softmax", "multiply", "reduce_sum")
WORDS = "linear (projections), product (Shapley split: query·key, weights·values), inner softmax"
POOL_WORDS = "softmax over each window (exp/sum/reciprocal/product), product (Shapley split), sum"

#: Keyword arguments of a ``MultiHeadAttention`` call genolift refuses, and why.
_REFUSED_KWARGS = {
    "attention_mask": "an attention mask", "use_causal_mask": "a causal mask", "query_mask": "a query mask",
    "value_mask": "a value mask", "key_mask": "a key mask", "return_attention_scores": "attention scores returned",
}


def _calls_kwargs(entry: dict) -> list[dict]:
    """Keyword arguments of every call in a config entry (Keras 3 serialisation)."""
    return [node.get("kwargs", {}) for node in entry.get("inbound_nodes", []) if isinstance(node, dict)]


def _kwargs_problem(kwargs: dict) -> str | None:
    for key, words in _REFUSED_KWARGS.items():
        if kwargs.get(key) not in (None, False):
            return f"{words} (genolift refuses masked or score-returning attention)"
    return None


def keras_mha_problem(cfg: dict, calls: list[dict]) -> str | None:
    """Why a Keras ``MultiHeadAttention`` config (and its calls' keyword arguments) cannot be read, or None."""
    axes = cfg.get("attention_axes")
    if axes not in (None, 1, (1,), [1]):
        return f"attention_axes {axes!r} (only attention over the length axis)"
    for key, why in (("use_gate", "use_gate=True"), ("sliding_window", "a sliding window mask")):
        if cfg.get(key):
            return why
    shape = cfg.get("output_shape")
    if isinstance(shape, (list, tuple)) and len(shape) != 1:
        return f"output_shape {shape!r} (only one output axis)"
    for kwargs in calls:
        problem = _kwargs_problem(kwargs)
        if problem:
            return problem
    return None


def crested_mha_problem(cfg: dict) -> str | None:
    """Why a ``crested>MultiheadAttention`` config cannot be read, or None."""
    functions = cfg.get("relative_position_functions", "borzoi")
    if functions not in _COMPONENTS:
        return f"relative_position_functions {functions!r} (CREsted has 'enformer' and 'borzoi')"
    if cfg.get("num_position_features") and not cfg.get("relative_position_symmetric", False) \
            and not cfg.get("relative_position_absolute", False):
        return "asymmetric positions without relative_position_absolute (CREsted itself cannot compute it)"
    return None


def problem(cls: str, cfg: dict, entry: dict) -> str | None:
    """Why an attention layer's config entry cannot be read, in words, or None (other classes: None)."""
    if cls == "MultiHeadAttention":
        return keras_mha_problem(cfg, _calls_kwargs(entry))
    if cls == "crested>MultiheadAttention":
        return crested_mha_problem(cfg)
    return None


class _Nodes:
    """Nodes of one layer call under the prefix ``out/``; the last one added with ``name=None`` is ``out``."""

    def __init__(self, out: str, layer: str):
        self.out, self.layer, self.nodes = out, layer, []

    def add(self, name: str | None, op: str, inputs, params=None, weights=()) -> str:
        node_id = self.out if name is None else f"{self.out}/{name}"
        self.nodes.append(Node(node_id, op, tuple(inputs), dict(params or {}), tuple(weights), self.layer))
        return node_id

    def heads(self, name: str, source: str, kernel, bias, shape: tuple) -> str:
        """A projection (T, C) → shape = (T, H, D) as a dense node and a reshape."""
        flat = self.add(name + "_dense", "dense", (source,), {}, (_f32(kernel.reshape(kernel.shape[0], -1)),
                                                                  _f32(bias.reshape(-1))))
        return self.add(name, "reshape", (flat,), {"target_shape": [int(s) for s in shape]})


def _f32(w) -> np.ndarray:
    return np.asarray(w, np.float32)


def _length(cfg: dict, layer: str, which: int = 0) -> int:
    shapes = cfg.get("input_shapes") or []
    shape = shapes[which] if len(shapes) > which else ()
    if len(shape) != 2 or shape[0] is None:
        raise UnsupportedLayerError(f"{layer}: attention over an input of shape {shape} (need (length, channels))")
    return int(shape[0])


#: Content logits, per head: query (B, Tq, H, K) · key (B, Tk, H, K) → (B, H, Tq, Tk).
SCORES = "bihd,bjhd->bhij"
#: Attention-weighted values: weights (B, H, Tq, Tk) · values (B, Tk, H, V) → (B, Tq, H, V).
COMBINE = "bhij,bjhd->bihd"


def _attend(b: _Nodes, logits: str, values: str, shape: tuple, out_kernel, out_bias) -> list[Node]:
    """softmax over keys, weights · values (Tq, H, V) = ``shape``, the heads joined and the output projection
    (the layer's output)."""
    weights = b.add("weights", "softmax", (logits,), {"axis": -1})
    mixed = b.add("mixed", "einsum", (weights, values), {"equation": COMBINE})
    joined = b.add("joined", "reshape", (mixed,), {"target_shape": [int(shape[0]), int(shape[1] * shape[2])]})
    b.add(None, "dense", (joined,), {}, (_f32(out_kernel), _f32(out_bias)))
    return b.nodes


def keras_mha(cfg, weights, out, inputs, layer):
    """Keras ``MultiHeadAttention(query, value[, key])`` without masks; dropout is the identity."""
    problem_ = keras_mha_problem(cfg, [cfg.get("call_kwargs") or {}])
    if problem_:
        raise UnsupportedLayerError(f"{layer}: MultiHeadAttention with {problem_}")
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    t_query, t_value = _length(cfg, layer, 0), _length(cfg, layer, 1)
    w = [np.asarray(a) for a in weights]
    if not cfg.get("use_bias", True):  # zero biases in their places: q, k, v (H, D) and output (O,)
        w = [w[0], np.zeros(w[0].shape[1:]), w[1], np.zeros(w[1].shape[1:]), w[2], np.zeros(w[2].shape[1:]),
             w[3], np.zeros(w[3].shape[-1])]
    (qk, qb), (kk, kb), (vk, vb), (ok, ob) = zip(w[0::2], w[1::2])
    heads, key_size, value_size = qk.shape[1], qk.shape[2], vk.shape[2]
    b = _Nodes(out, layer)
    q = b.heads("query", query, qk, qb, (t_query, heads, key_size))
    q = b.add("query_scaled", "scale_shift", (q,), {}, (_f32([1.0 / math.sqrt(key_size)]), _f32([0.0])))
    k = b.heads("key", key, kk, kb, (t_value, heads, key_size))
    v = b.heads("value", value, vk, vb, (t_value, heads, value_size))
    logits = b.add("logits", "einsum", (q, k), {"equation": SCORES})
    return _attend(b, logits, v, (t_query, heads, value_size), ok.reshape(heads * value_size, -1), ob)


# --- CREsted's relative positional attention ------------------------------------------------------------------

#: Basis families of CREsted's relative position functions (each doubled when asymmetric).
_COMPONENTS = {"enformer": 3, "borzoi": 1}


def _exponential(d: np.ndarray, n: int, length: int) -> np.ndarray:
    """exp(−ln 2 · |d| / h) for half lives h = 2^linspace(3, log2 length, n)."""
    half_life = 2.0 ** np.linspace(3.0, math.log(length) / math.log(2.0), n)
    return np.exp(-math.log(2.0) / half_life * np.abs(d)[..., None])


def _central_mask(d: np.ndarray, n: int, rate: float) -> np.ndarray:
    """1 where |d| < rate^k − 1, k = 1 … n."""
    widths = np.power(np.float32(rate), np.arange(1, n + 1, dtype=np.float32)) - np.float32(1)
    return (widths > np.abs(d)[..., None]).astype(np.float64)


def _gamma(d: np.ndarray, n: int, length: int) -> np.ndarray:
    """Gamma densities of |d| with means linspace(length / n, length, n), each scaled to peak at 1."""
    stddev = length / (2 * n)
    mean = np.linspace(length / n, length, n)
    shape, rate = (mean / stddev) ** 2, mean / stddev ** 2
    x = np.abs(d)[..., None]
    with np.errstate(divide="ignore"):
        log_p = (shape - 1) * np.log(x) - rate * x - (np.vectorize(math.lgamma)(shape) - shape * np.log(rate))
    p = np.exp(log_p) + 1e-8
    return p / p.max(axis=0, keepdims=True)


def position_features(distances: np.ndarray, size: int, functions: str, length: int, symmetric: bool,
                      absolute: bool) -> np.ndarray:
    """CREsted's relative position features (P, size) of integer distances (P,), float64.

    ``functions`` ``enformer``: exponential, central mask (rate 2) and gamma bases; ``borzoi``: a central mask
    whose rate is (length + 1)^(1/n).  Asymmetric features append the bases times sign(d).
    """
    parts = _COMPONENTS[functions] * (1 if symmetric else 2)
    if size % parts:
        raise UnsupportedLayerError(f"num_position_features {size} is not divisible by {parts}")
    n = size // parts
    d = np.abs(distances) if absolute else distances.astype(np.float64)
    if functions == "enformer":
        bases = np.concatenate([_exponential(d, n, length), _central_mask(d, n, 2.0), _gamma(d, n, length)], axis=-1)
    else:
        bases = _central_mask(d, n, float(np.float32(math.exp(math.log(length + 1) / n))))
    return bases if symmetric else np.concatenate([bases, np.sign(distances)[..., None] * bases], axis=-1)


def distances(length: int, absolute_positions: bool) -> np.ndarray:
    """The distances CREsted encodes: −(T−1) … T−1 (relative), −T//2 … T//2 − 1 (absolute positions)."""
    return np.arange((-length) // 2, length // 2) if absolute_positions else np.arange(-length + 1, length)


def crested_weights(cfg: dict, weights: list) -> dict:
    """``crested>MultiheadAttention`` weights by role (its ``get_weights()`` order)."""
    names = ["r_w_bias", "r_r_bias", "q", "k", "v", "embedding", "embedding_bias"]
    if cfg.get("num_position_features"):
        names.append("r_k")
    if len(weights) != len(names):
        raise UnsupportedLayerError(f"crested>MultiheadAttention with {len(weights)} weights, expected {len(names)}")
    return dict(zip(names, (np.asarray(w, np.float64) for w in weights)))


def positional_keys(cfg: dict, r_k_kernel: np.ndarray, length: int) -> np.ndarray:
    """Positional keys (H, K, P) of one input length: the position features times the learned kernel."""
    heads, key_size = int(cfg["heads"]), int(cfg["key_size"])
    absolute_positions = bool(cfg.get("absolute_positions", False))
    feats = position_features(distances(length, absolute_positions), int(cfg["num_position_features"]),
                              cfg.get("relative_position_functions", "borzoi"), length,
                              bool(cfg.get("relative_position_symmetric", False)),
                              bool(cfg.get("relative_position_absolute", False)))
    return (feats @ r_k_kernel).reshape(-1, heads, key_size).transpose(1, 2, 0)


def crested_mha(cfg, weights, out, inputs, layer):
    """``crested>MultiheadAttention`` (Enformer / Borzoi): content logits (q + u)·k plus positional logits
    (q + v)·r_k shifted to relative distances, softmax over keys, weights · values, output projection."""
    problem_ = crested_mha_problem(cfg)
    if problem_:
        raise UnsupportedLayerError(f"{layer}: crested>MultiheadAttention with {problem_}")
    T = _length(cfg, layer)
    w = crested_weights(cfg, weights)
    heads, key_size, value_size = int(cfg["heads"]), int(cfg["key_size"]), int(cfg["value_size"])
    scale = key_size ** -0.5 if cfg.get("scaling", True) else 1.0
    b = _Nodes(out, layer)
    q = b.heads("query", inputs[0], w["q"], np.zeros(w["q"].shape[1]), (T, heads, key_size))
    k = b.heads("key", inputs[0], w["k"], np.zeros(w["k"].shape[1]), (T, heads, key_size))
    v = b.heads("value", inputs[0], w["v"], np.zeros(w["v"].shape[1]), (T, heads, value_size))
    content_q = b.add("query_content", "scale_shift", (q,), {},
                      (_f32([scale]), _f32(w["r_w_bias"].reshape(heads, key_size))))
    logits = b.add("content_logits", "einsum", (content_q, k), {"equation": SCORES})
    if "r_k" in w:
        position_q = b.add("query_position", "scale_shift", (q,), {},
                           (_f32([scale]), _f32(w["r_r_bias"].reshape(heads, key_size))))
        keys = positional_keys(cfg, w["r_k"], T)
        rel = b.add("position_logits", "einsum_const", (position_q,), {"equation": "bihd,hdp->bhip"}, (_f32(keys),))
        if not cfg.get("absolute_positions", False):
            rel = b.add("position_shifted", "relative_shift", (rel,))
        logits = b.add("logits", "add", (logits, rel))
    return _attend(b, logits, v, (T, heads, value_size), w["embedding"], w["embedding_bias"])


def attention_pool(cfg, weights, out, inputs, layer):
    """``crested>AttentionPool1D``: per window of ``pool_size``, Σ x · softmax(x·w) over the window."""
    shape = (cfg.get("input_shapes") or [()])[0]
    pool = int(cfg.get("pool_size", 2))
    if len(shape) != 2 or shape[0] is None or shape[0] % pool:
        raise UnsupportedLayerError(f"{layer}: AttentionPool1D of pool {pool} over an input of shape {shape}")
    length, channels = int(shape[0]), int(shape[1])
    kernel = _f32(weights[0])
    b = _Nodes(out, layer)
    windows = b.add("windows", "reshape", inputs, {"target_shape": [length // pool, pool, channels]})
    logits = b.add("logits", "dense", (windows,), {}, (kernel, np.zeros(kernel.shape[1], np.float32)))
    soft = b.add("weights", "softmax", (logits,), {"axis": -2})
    weighted = b.add("weighted", "multiply", (windows, soft))
    b.add(None, "reduce_sum", (weighted,), {"axis": -2, "keepdims": False})
    return b.nodes
