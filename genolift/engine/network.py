"""A genolift Graph made runnable on a backend for one target.

:class:`Network` keeps the nodes the target depends on and their weights
(numpy, and as tensors of the backend on one device), and offers three passes:

* :meth:`forward` — plain values of every model output (for parity checks);
* :meth:`record` — the target and the activations DeepLIFT rules need
  (input and output of each nonlinearity), for the untaped branch;
* :meth:`pair_target` — the target of the taped branch, each nonlinearity
  replaced by its rule op fed with the other branch's gathered activations.

Compiled step functions take the weights as an argument (:meth:`bind`), so
one traced step serves any device the weights are put on.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import UnsupportedLayerError
from ..model.graph import Graph, Node
from ..model.support import CROSS_MAX, LOOP, PRODUCT, RESCALE, SOFTMAX
from . import pooling, recurrent, rules
from .ops import nonlinearity, op_entry
from .rule_names import MAXPOOL_RULES, RULE_NAMES
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


#: Suffix of the weights a RevealCancel node reads (W⁺, W⁻, a zero bias) in :attr:`Network.consts`.
REVEAL = "/reveal"


class Network:
    """Runnable form of ``graph`` for ``target`` under DeepLIFT ``rule`` on backend ``xp``.

    Parameters
    ----------
    graph, target : the model and the explained target (None: plain forward passes of every output).
    rule : a rule name of :data:`RULE_NAMES`.
    dtype : the compute precision (``float32``, ``float64`` for checks, ``bfloat16``, ``float16``).
    xp : a backend module (:mod:`genolift.engine.backends`); default: the default backend.
    device : where the weights live (default: the backend's default device).
    maxpool : how the DeepLIFT rules treat max pooling, one of :data:`MAXPOOL_RULES` (``cross-max``,
        or :mod:`.pooling`'s ``winner-takes-all`` and ``average``).

    Attributes
    ----------
    weights : {node: [numpy arrays]} after folding, what :attr:`consts` holds as tensors.
    consts : {node: [tensors]} on ``device``.
    """

    def __init__(self, graph: Graph, target: Target | None = None, rule: str = "rescale", dtype="float32",
                 xp=None, device: str | None = None, maxpool: str = "cross-max"):
        if rule not in RULE_NAMES:
            raise ValueError(f"rule {rule!r} is not one of {', '.join(RULE_NAMES)}")
        if maxpool not in MAXPOOL_RULES:
            raise ValueError(f"maxpool {maxpool!r} is not one of {', '.join(MAXPOOL_RULES)}")
        self.maxpool = maxpool
        if xp is None:
            from .backends import load

            xp = load()
        self.xp, self.graph, self.target, self.rule = xp, graph, target, rule
        self.dtype = dtype if isinstance(dtype, str) else np.dtype(dtype).name
        needed = _ancestors(graph, [target.node] if target else list(graph.outputs))
        self.nodes: list[Node] = [n for n in graph.nodes if n.name in needed]
        self.entries = {n.name: op_entry(n.op) for n in graph.nodes}
        self.weights = {n.name: list(n.weights) for n in graph.nodes}
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
        self.device = device
        self.consts = self.put_weights(device)
        self._functions: dict = {}  # (node, weights) -> (f, f'), shared by bound copies

    # -- weights --------------------------------------------------------
    def put_weights(self, device: str | None) -> dict:
        """{node: [tensors]} of :attr:`weights` in the compute precision on ``device``."""
        return {name: [self.xp.constant(w, self.dtype, device) for w in ws] for name, ws in self.weights.items()}

    def bind(self, consts: dict) -> "Network":
        """This network computing with ``consts`` (a step function's weights argument)."""
        bound = copy.copy(self)
        bound.consts = consts
        return bound

    def on(self, device: str | None) -> "Network":
        """This network with its weights on ``device``."""
        return self.bind(self.put_weights(device))

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
            self.weights[source.name] = [kernel * scale, bias * scale + shift]
            self.entries[node.name], self.weights[node.name] = op_entry("identity"), []

    def _pools_after_nonlinearities(self) -> dict:
        """{Rescale node: max-pool node} where the max pool is the nonlinearity's only reader.

        The pair may run as one fused op (:func:`rules.tiled_cross_max`) when the
        pool's windows tile its input or overlap by whole strides (:func:`rules.fused_window`).
        Empty unless max pools take the cross-max rule.
        """
        if self.maxpool != "cross-max":
            return {}
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
        """Elementwise nodes that use RevealCancel: {node: (linear source, rule)}; their W⁺, W⁻ join the weights.

        ``revealcancel``: every nonlinearity fed by a Conv1D or Dense layer;
        ``genomics-default``: those fed by a Dense layer (after convolutions
        Rescale is used).  Other nonlinearities keep Rescale.
        """
        from .reveal import RevealCancel, linear_source, signed_parts

        chosen = {}
        for node in self.nodes:
            if self.entries[node.name][1] != RESCALE:
                continue
            found = linear_source(self.graph, node.name)
            if found is None or (self.rule == "genomics-default" and found[0].op != "dense"):
                continue
            lin, scale = found
            pos, neg = signed_parts(lin.weights[0], scale)
            self.weights[node.name + REVEAL] = [pos, neg, np.zeros(pos.shape[-1])]
            chosen[node.name] = (lin.name, RevealCancel(lin, self.entries[lin.name][0]))
        return chosen

    def _f(self, node: Node):
        """(f, f') of an elementwise node with this network's weights, made once per node and weights.

        The same function objects on every call let a backend that compiles pieces of the
        rules by tracing Python (PyTorch's ``torch.compile``) reuse what it compiled.
        """
        consts = self.consts[node.name]
        key = (node.name, tuple(id(c) for c in consts))
        if key not in self._functions:
            self._functions[key] = nonlinearity(self.xp, node, consts)
        return self._functions[key]

    def _lin_input(self, values: dict, name: str):
        """Input of the linear layer feeding RevealCancel node ``name``."""
        lin = self.reveal[name][0]
        return values[self.graph.node(lin).inputs[0]]

    # -- heads ----------------------------------------------------------
    def _unit(self, z):
        """(B, T) targets from the target node's (B, C) value."""
        xp = self.xp
        if self.target.normalise:
            z = z - xp.mean(z, axis=-1, keepdims=True)
        return xp.take(z, np.asarray(self.target.all_tasks), axis=1)

    def _centred(self, z):
        """(B, P) logits over positions (and strands), mean-centred, in float64.

        The profile rule divides differences of nearly equal numbers; float64
        keeps those multipliers accurate for the float32 logits (it is cheap: P
        values per pair).
        """
        xp = self.xp
        flat = xp.cast(xp.reshape(z, [xp.shape(z)[0], -1]), "float64")
        return flat - xp.mean(flat, axis=-1, keepdims=True)

    def _head_record(self, z) -> tuple:
        """Target of the recorded branch and what the taped branch's head needs."""
        xp = self.xp
        if self.target.kind == "task":
            return self._unit(z), ()
        zc = self._centred(z)
        w = xp.softmax(zc, axis=-1)
        target = xp.cast(xp.sum(zc * w, axis=-1, keepdims=True), self.dtype)
        return target, ((zc, zc * w) if self.target.kind == "profile" else (w,))

    def _head_pair(self, z, head: tuple, j: int):
        xp = self.xp
        if self.target.kind == "task":
            return self._unit(z)
        zc = self._centred(z)
        if self.target.kind == "profile":
            out = rules.profile_exact(xp, zc, head[0], head[1], j)
        else:
            out = rules.profile_fixed_weights(xp, zc, head[0], j)
        return xp.cast(xp.sum(out, axis=-1, keepdims=True), self.dtype)

    # -- passes ---------------------------------------------------------
    def _inputs(self, X, extras) -> dict:
        xp = self.xp
        values = {self.input: xp.cast(X, self.dtype)}
        for (name, _), value in zip(self.graph.extra_inputs, extras or ()):
            values[name] = xp.cast(value, self.dtype)
        missing = [name for name, _ in self.graph.extra_inputs if name not in values]
        if missing:
            raise ValueError(f"the model's input(s) {', '.join(missing)} need values (extras=)")
        return values

    def _apply(self, node: Node, inputs: list):
        return self.entries[node.name][0](self.xp, node, inputs, self.consts[node.name])

    def forward(self, X, names: list[str] | None = None, extras=None) -> list:
        """Values of ``names`` (default: the model outputs) for inputs X (N, L, 4).

        ``extras`` gives the other inputs' values, (N, ...) each, in graph order.
        """
        names = names or self.graph.outputs
        needed = _ancestors(self.graph, names)
        values = self.evaluate(self._inputs(X, extras), [n for n in self.graph.nodes if n.name in needed])
        return [values[n] for n in names]

    def record(self, X, extras=None) -> tuple:
        """Targets (N, T) and the rules' activations {node: (input, output)} for X (N, L, 4)."""
        values = self._inputs(X, extras)
        acts = {}
        for node in self.nodes:
            if node.op == "input":
                continue
            rule = self.entries[node.name][1]
            inputs = [values[i] for i in node.inputs]
            if rule == LOOP:  # the loop's output, and every step's rule values
                values[node.name], acts[node.name] = recurrent.record(self.xp, node, inputs[0], self.consts[node.name])
                continue
            values[node.name] = self._apply(node, inputs)
            if node.name in self.reveal:
                acts[node.name] = (inputs[0], values[node.name], self._lin_input(values, node.name))
            elif rule in (RESCALE, CROSS_MAX):
                acts[node.name] = (inputs[0], values[node.name])
            elif rule == PRODUCT:
                acts[node.name] = (inputs[0], inputs[1])
        target, acts["__head__"] = self._head_record(values[self.target.node])
        return target, acts

    def evaluate(self, values: dict, nodes: list[Node], guided: bool = False, rewrite=None) -> dict:
        """Plain values of ``nodes`` (in order) into ``values``; guided ReLU gradients if asked.

        ``rewrite(node, inputs)``, when given, returns a node's value computed with another backward
        pass (a modified-gradient rule, :func:`.lrp.rewriter`), or None for the node's own.
        """
        for node in nodes:
            if node.op == "input" or node.name in values:
                continue
            inputs = [values[i] for i in node.inputs]
            value = rewrite(node, inputs) if rewrite is not None else None
            if value is not None:
                values[node.name] = value
            elif guided and node.op == "relu":
                values[node.name] = rules.guided_relu(self.xp, inputs[0])
            else:
                values[node.name] = self._apply(node, inputs)
        return values

    def target_from(self, source: str, value):
        """Targets (N, T) computed from node ``source``'s value (N, ...) by the nodes after it.

        For in-silico mutagenesis: ``source`` ends a chain that every later node depends on.
        """
        after = [n.name for n in self.nodes].index(source) + 1
        values = self.evaluate({source: value}, self.nodes[after:])
        return self._head_record(values[self.target.node])[0]

    def point_target(self, X, extras=None, guided: bool = False, rewrite=None):
        """Targets (N, T) at X with ordinary gradients (guided backpropagation at ReLUs, or ``rewrite``'s
        backward passes (:meth:`evaluate`), if asked)."""
        values = self.evaluate(self._inputs(X, extras), self.nodes, guided, rewrite)
        return self._head_record(values[self.target.node])[0]

    def pair_target(self, X, acts: dict, j: int, extras=None, taped_is_input: bool = True):
        """Targets (S·J, T) of the taped branch X (S·J, L, 4) with rule ops.

        ``acts`` are the other branch's recorded activations (S rows); taped
        rows s·J .. s·J + J − 1 pair with row s there.  ``extras`` (S·J rows)
        are the other inputs, equal in both branches.  ``taped_is_input`` says
        whether the taped branch holds the sequences (else the references): the
        winner-takes-all max pool routes by the sequences' maxima.
        """
        xp = self.xp
        values = self._inputs(X, extras)
        deferred = {}  # max-pool node -> (its nonlinearity node, that node's input)
        for node in self.nodes:
            if node.op == "input":
                continue
            rule = self.entries[node.name][1]
            if node.name in self.pool_after:
                pool = self.graph.node(self.pool_after[node.name])
                z = values[node.inputs[0]]
                if rules.fused_window(pool, xp.shape(z)[1]):
                    deferred[pool.name] = (node, z)
                    continue
            if node.name in deferred:  # nonlinearity + tiling max pool as one op
                elem, z = deferred.pop(node.name)
                values[node.name] = self._tiled_pool(node, z, acts[elem.name][0], j, elem)
                continue
            inputs = [values[i] for i in node.inputs]
            values[node.name] = self._pair_op(node, rule, inputs, acts, values, j, taped_is_input)
        return self._head_pair(values[self.target.node], acts["__head__"], j)

    def _pair_op(self, node: Node, rule: str, inputs: list, acts: dict, values: dict, j: int,
                 taped_is_input: bool = True):
        """The taped value of one node: its rule op, or its plain forward for linear nodes."""
        xp = self.xp
        if node.name in self.reveal:
            z_o, y_o, a_o = acts[node.name]
            rule_op = self.reveal[node.name][1]
            return rule_op(xp, *self._f(node), inputs[0], self._lin_input(values, node.name), z_o, y_o, a_o, j,
                           self.consts[node.name + REVEAL])
        if rule == RESCALE:
            z_o, y_o = acts[node.name]
            return rules.rescale(xp, *self._f(node), inputs[0], z_o, y_o, j)
        if rule == LOOP:
            return recurrent.paired(xp, node, inputs[0], self.consts[node.name], acts[node.name], j)
        if rule == CROSS_MAX and self.maxpool != "cross-max":
            return self._other_pool(node, inputs[0], acts[node.name][0], j, taped_is_input)
        if rule == CROSS_MAX and rules.fused_window(node, xp.shape(inputs[0])[1]):
            return self._tiled_pool(node, inputs[0], acts[node.name][0], j)
        if rule == CROSS_MAX:
            pool = lambda t: self._apply(node, [t])  # noqa: E731
            return rules.cross_max(xp, pool, inputs[0], acts[node.name][0], j, use_min=node.op == "reduce_min")
        if rule == PRODUCT and node.op == "einsum":
            return rules.bilinear(xp, node.params["equation"], *inputs, *acts[node.name], j)
        if rule == PRODUCT:
            return rules.product(xp, inputs[0], inputs[1], *acts[node.name], j)
        return self._apply(node, inputs)

    def _other_pool(self, node: Node, x, x_other, j: int, taped_is_input: bool):
        """Max-pool node ``node`` under the ``winner-takes-all`` or ``average`` rule (:mod:`.pooling`)."""
        pool = lambda t: self._apply(node, [t])  # noqa: E731
        if self.maxpool == "winner-takes-all":
            return pooling.winner_takes_all(self.xp, pool, x, x_other, j, taped_is_input)
        return pooling.average(self.xp, pool, pooling.average_of(self.xp, node), x, x_other, j, taped_is_input)

    def _tiled_pool(self, pool: Node, x, x_other, j: int, elem: Node | None = None):
        """Max-pool node ``pool`` as one fused op (:func:`rules.fused_window`), after nonlinearity node ``elem``."""
        keepdims = pool.op == "maxpool1d" or pool.params.get("keepdims", False)
        f, df = self._f(elem) if elem is not None else (None, None)
        window, stride = rules.fused_window(pool, self.xp.shape(x)[1])
        return rules.tiled_cross_max(self.xp, x, x_other, j, window, keepdims, f, df, stride=stride)
