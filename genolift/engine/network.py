"""A genolift Graph made runnable in TensorFlow for one target.

:class:`Network` keeps the nodes the target depends on, their weights as
constants, and offers three passes:

* :meth:`forward` — plain values of every model output (for parity checks);
* :meth:`record` — the target and the activations DeepLIFT rules need
  (input and output of each nonlinearity), for the untaped branch;
* :meth:`pair_target` — the target of the taped branch, each nonlinearity
  replaced by its rule op fed with the other branch's gathered activations.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import UnsupportedLayerError
from ..model.graph import Graph, Node
from ..model.support import CROSS_MAX, PRODUCT, RESCALE, SOFTMAX
from . import rules
from .ops import nonlinearity, op_entry
from .rule_names import RULE_NAMES
from .targets import Target



def _ancestors(graph: Graph, names: list[str]) -> set[str]:
    by_name = {n.name: n for n in graph.nodes}
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(by_name[name].inputs)
    return seen


class Network:
    """Runnable form of ``graph`` for ``target`` under DeepLIFT ``rule``."""

    def __init__(self, graph: Graph, target: Target | None = None, rule: str = "rescale", dtype=tf.float32):
        """``target`` None gives a network for plain forward passes of every output.

        ``dtype`` is the compute precision (float32, or float64 for checks).
        """
        if rule not in RULE_NAMES:
            raise ValueError(f"rule {rule!r} is not one of {', '.join(RULE_NAMES)}")
        self.graph = graph
        self.target = target
        self.rule = rule
        needed = _ancestors(graph, [target.node] if target else list(graph.outputs))
        self.nodes: list[Node] = [n for n in graph.nodes if n.name in needed]
        self.entries = {n.name: op_entry(n.op) for n in graph.nodes}
        self.dtype = tf.as_dtype(dtype)
        self.consts = {n.name: [tf.constant(w, self.dtype) for w in n.weights] for n in graph.nodes}
        self._fold_affines()
        bad = [f"{n.layer} ({n.op})" for n in self.nodes if self.entries[n.name][1] == SOFTMAX and target]
        if bad:
            raise UnsupportedLayerError(
                f"the softmax of another output ({', '.join(bad)}) feeds the explained output; "
                "explain the logits before it"
            )
        self.input = graph.inputs[0]
        self.reveal = self._reveal_nodes() if rule in ("revealcancel", "genomics-default") else {}
        self.pool_after = self._pools_after_nonlinearities()

    def _fold_affines(self) -> None:
        """Fold each per-channel affine node (inference batch norm) into the Conv1D or Dense node before it.

        Where the linear node's only reader is an affine on its last axis, the
        linear node computes both (kernel · scale, bias · scale + shift, formed
        in float64) and the affine node passes its input on: one pass over the
        activations fewer each way, and the same linear function, so every
        multiplier and contribution is unchanged up to round-off.  A folded
        linear node's value is the affine's (:meth:`forward` of its name).
        """
        readers = self.graph.consumers()
        for node in self.graph.nodes:
            source = self.graph.node(node.inputs[0]) if node.op == "affine" and node.inputs else None
            if (source is None or source.op not in ("conv1d", "dense") or readers[source.name] != [node.name]
                    or source.name in self.graph.outputs
                    or node.params.get("axis", -1) not in ((-1, 2) if source.op == "conv1d" else (-1,))):
                continue
            scale, shift = (w.astype(np.float64) for w in node.weights)
            kernel, bias = (w.astype(np.float64) for w in source.weights)
            self.consts[source.name] = [tf.constant(kernel * scale, self.dtype),
                                        tf.constant(bias * scale + shift, self.dtype)]
            self.entries[node.name], self.consts[node.name] = op_entry("identity"), []

    def _pools_after_nonlinearities(self) -> dict:
        """{Rescale node: max-pool node} where the max pool is the nonlinearity's only reader.

        The pair may run as one fused op (:func:`rules.tiled_cross_max`) when the
        pool's windows tile its input or overlap by whole strides (:func:`rules.fused_window`).
        """
        readers = self.graph.consumers()
        ends = self.graph.outputs + ([self.target.node] if self.target else [])
        pairs = {}
        for node in self.nodes:
            if self.entries[node.name][1] != RESCALE or node.name in self.reveal:
                continue
            after = readers[node.name]
            if len(after) == 1 and self.entries[after[0]][1] == CROSS_MAX and node.name not in ends:
                pairs[node.name] = after[0]
        return pairs

    def _reveal_nodes(self) -> dict:
        """Elementwise nodes that use RevealCancel: {node: (linear source, rule op)}.

        ``revealcancel``: every nonlinearity fed by a Conv1D or Dense layer;
        ``genomics-default``: those fed by a Dense layer (after convolutions
        Rescale is used).  Other nonlinearities keep Rescale.
        """
        from .reveal import RevealCancel, linear_source

        chosen = {}
        for node in self.nodes:
            if self.entries[node.name][1] != RESCALE:
                continue
            found = linear_source(self.graph, node.name)
            if found is None or (self.rule == "genomics-default" and found[0].op != "dense"):
                continue
            lin, scale = found
            rule = RevealCancel(lin, scale, self.entries[lin.name][0], *nonlinearity(node), self.dtype)
            chosen[node.name] = (lin.name, rule)
        return chosen

    def _lin_input(self, values: dict, name: str) -> tf.Tensor:
        """Input of the linear layer feeding RevealCancel node ``name``."""
        lin = self.reveal[name][0]
        return values[self.graph.node(lin).inputs[0]]

    def _unit(self, z: tf.Tensor) -> tf.Tensor:
        """(B, T) targets from the target node's (B, C) value."""
        if self.target.normalise:
            z = z - tf.reduce_mean(z, axis=-1, keepdims=True)
        return tf.gather(z, list(self.target.all_tasks), axis=1)

    @staticmethod
    def _centred(z: tf.Tensor) -> tf.Tensor:
        """(B, P) logits over positions (and strands), mean-centred, in float64.

        The profile rule divides differences of nearly equal numbers; float64
        keeps those multipliers accurate for the float32 logits (it is cheap: P
        values per pair).
        """
        flat = tf.cast(tf.reshape(z, [tf.shape(z)[0], -1]), tf.float64)
        return flat - tf.reduce_mean(flat, axis=-1, keepdims=True)

    def _head_record(self, z: tf.Tensor) -> tuple[tf.Tensor, tuple]:
        """Target of the recorded branch and what the taped branch's head needs."""
        if self.target.kind == "task":
            return self._unit(z), ()
        zc = self._centred(z)
        w = tf.nn.softmax(zc, axis=-1)
        target = tf.cast(tf.reduce_sum(zc * w, axis=-1, keepdims=True), self.dtype)
        return target, ((zc, zc * w) if self.target.kind == "profile" else (w,))

    def _head_pair(self, z: tf.Tensor, head: tuple, j: int) -> tf.Tensor:
        if self.target.kind == "task":
            return self._unit(z)
        zc = self._centred(z)
        if self.target.kind == "profile":
            out = rules.profile_exact(zc, head[0], head[1], j)
        else:
            out = rules.profile_fixed_weights(zc, head[0], j)
        return tf.cast(tf.reduce_sum(out, axis=-1, keepdims=True), self.dtype)

    def _inputs(self, X, extras) -> dict:
        values = {self.input: tf.cast(X, self.dtype)}
        for (name, _), value in zip(self.graph.extra_inputs, extras or ()):
            values[name] = tf.cast(value, self.dtype)
        missing = [name for name, _ in self.graph.extra_inputs if name not in values]
        if missing:
            raise ValueError(f"the model's input(s) {', '.join(missing)} need values (extras=)")
        return values

    def forward(self, X: tf.Tensor, names: list[str] | None = None, extras=None) -> list[tf.Tensor]:
        """Values of ``names`` (default: the model outputs) for inputs X (N, L, 4).

        ``extras`` gives the other inputs' values, (N, ...) each, in graph order.
        """
        names = names or self.graph.outputs
        needed = _ancestors(self.graph, names)
        values = self.evaluate(self._inputs(X, extras), [n for n in self.graph.nodes if n.name in needed])
        return [values[n] for n in names]

    def record(self, X: tf.Tensor, extras=None) -> tuple[tf.Tensor, dict]:
        """Targets (N, T) and the rules' activations {node: (input, output)} for X (N, L, 4)."""
        values = self._inputs(X, extras)
        acts = {}
        for node in self.nodes:
            if node.op == "input":
                continue
            fn, rule = self.entries[node.name]
            inputs = [values[i] for i in node.inputs]
            values[node.name] = fn(node, inputs, self.consts[node.name])
            if node.name in self.reveal:
                acts[node.name] = (inputs[0], values[node.name], self._lin_input(values, node.name))
            elif rule in (RESCALE, CROSS_MAX):
                acts[node.name] = (inputs[0], values[node.name])
            elif rule == PRODUCT:
                acts[node.name] = (inputs[0], inputs[1])
        target, acts["__head__"] = self._head_record(values[self.target.node])
        return target, acts

    def evaluate(self, values: dict, nodes: list[Node], guided: bool = False) -> dict:
        """Plain values of ``nodes`` (in order) into ``values``; guided ReLU gradients if asked."""
        for node in nodes:
            if node.op == "input" or node.name in values:
                continue
            fn, _ = self.entries[node.name]
            inputs = [values[i] for i in node.inputs]
            if guided and node.op == "relu":
                values[node.name] = rules.guided_relu(inputs[0])
            else:
                values[node.name] = fn(node, inputs, self.consts[node.name])
        return values

    def target_from(self, source: str, value: tf.Tensor) -> tf.Tensor:
        """Targets (N, T) computed from node ``source``'s value (N, ...) by the nodes after it.

        For in-silico mutagenesis: ``source`` ends a chain that every later node depends on.
        """
        after = [n.name for n in self.nodes].index(source) + 1
        values = self.evaluate({source: value}, self.nodes[after:])
        return self._head_record(values[self.target.node])[0]

    def point_target(self, X: tf.Tensor, extras=None, guided: bool = False) -> tf.Tensor:
        """Targets (N, T) at X with ordinary gradients (guided backpropagation at ReLUs if asked)."""
        values = self.evaluate(self._inputs(X, extras), self.nodes, guided)
        return self._head_record(values[self.target.node])[0]

    def pair_target(self, X: tf.Tensor, acts: dict, j: int, extras=None) -> tf.Tensor:
        """Targets (S·J, T) of the taped branch X (S·J, L, 4) with rule ops.

        ``acts`` are the other branch's recorded activations (S rows); taped
        rows s·J .. s·J + J − 1 pair with row s there.  ``extras`` (S·J rows)
        are the other inputs, equal in both branches.
        """
        values = self._inputs(X, extras)
        deferred = {}  # max-pool node -> (its nonlinearity node, that node's input)
        for node in self.nodes:
            if node.op == "input":
                continue
            fn, rule = self.entries[node.name]
            if node.name in self.pool_after:
                pool = self.graph.node(self.pool_after[node.name])
                z = values[node.inputs[0]]
                if rules.fused_window(pool, z.shape[1]):
                    deferred[pool.name] = (node, z)
                    continue
            if node.name in deferred:  # nonlinearity + tiling max pool as one op
                elem, z = deferred.pop(node.name)
                values[node.name] = _tiled_pool(node, z, acts[elem.name][0], j, elem)
                continue
            inputs = [values[i] for i in node.inputs]
            if node.name in self.reveal:
                z_o, y_o, a_o = acts[node.name]
                op = self.reveal[node.name][1]
                values[node.name] = op(inputs[0], self._lin_input(values, node.name), z_o, y_o, a_o, j)
            elif rule == RESCALE:
                z_o, y_o = acts[node.name]
                values[node.name] = rules.rescale(*nonlinearity(node), inputs[0], z_o, y_o, j)
            elif rule == CROSS_MAX and rules.fused_window(node, inputs[0].shape[1]):
                values[node.name] = _tiled_pool(node, inputs[0], acts[node.name][0], j)
            elif rule == CROSS_MAX:
                pool = lambda t, node=node, fn=fn: fn(node, [t], ())  # noqa: E731
                combine = tf.minimum if node.op == "reduce_min" else tf.maximum
                values[node.name] = rules.cross_max(pool, inputs[0], acts[node.name][0], j, combine)
            elif rule == PRODUCT and node.op == "einsum":
                values[node.name] = rules.bilinear(node.params["equation"], *inputs, *acts[node.name], j)
            elif rule == PRODUCT:
                values[node.name] = rules.product(inputs[0], inputs[1], *acts[node.name], j)
            else:
                values[node.name] = fn(node, inputs, self.consts[node.name])
        return self._head_pair(values[self.target.node], acts["__head__"], j)


def _tiled_pool(pool: Node, x: tf.Tensor, x_other: tf.Tensor, j: int, elem: Node | None = None) -> tf.Tensor:
    """Max-pool node ``pool`` as one fused op (:func:`rules.fused_window`), after nonlinearity node ``elem`` if given."""
    keepdims = pool.op == "maxpool1d" or pool.params.get("keepdims", False)
    f, df = nonlinearity(elem) if elem is not None else (None, None)
    window, stride = rules.fused_window(pool, x.shape[1])
    return rules.tiled_cross_max(x, x_other, j, window, keepdims, f, df, stride=stride)
