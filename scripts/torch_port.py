"""Port a genolift model graph (read from a Keras file) to PyTorch, for side-by-side benchmarks.

:func:`torch_model` builds an ``nn.Module`` from a :class:`genolift.model.graph.Graph` with the same
weights, computing genolift's explained target (for a final sigmoid, its logit) as a (N, T) tensor from
inputs (N, 4, L), the layout tangermeme uses.  Each nonlinearity and max pool is a module of its own, so
tangermeme's DeepLIFT hooks find them.  It covers the layers of the benchmark models: Conv1D ('same' and
'valid', dilated), batch normalisation folded to an affine map, ReLU, sigmoid, MaxPooling1D, Flatten,
Dense, Cropping1D, Add, GlobalAveragePooling1D and identity layers (dropout).

Tensors stay channels-first between convolutions; a Flatten first moves the channels last, as Keras
flattens (L, C).

:func:`maxpool_rule` gives tangermeme's max-pool rule with another multiplier where the pool's input is
equal in sequence and reference (Δx = 0, where the ratio is 0/0), to pass as
``additional_nonlinear_ops={nn.MaxPool1d: maxpool_rule(...)}``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genolift.engine.targets import select_target
from genolift.model.graph import Graph


class _Conv(nn.Module):
    def __init__(self, node):
        super().__init__()
        kernel, bias = node.weights  # (width, in, out), (out,)
        p = node.params
        if p.get("groups", 1) != 1 or p["strides"] != 1 or p["padding"] not in ("same", "valid"):
            raise ValueError(f"{node.name}: only stride-1, ungrouped 'same'/'valid' convolutions are ported")
        self.conv = nn.Conv1d(kernel.shape[1], kernel.shape[2], kernel.shape[0], dilation=p["dilation"],
                              padding=p["padding"])
        self.conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 1, 0)))
        self.conv.bias.data = torch.from_numpy(bias.copy())

    def forward(self, x):
        return self.conv(x)


class _Dense(nn.Module):
    def __init__(self, node):
        super().__init__()
        kernel, bias = node.weights
        self.linear = nn.Linear(*kernel.shape)
        self.linear.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
        self.linear.bias.data = torch.from_numpy(bias.copy())

    def forward(self, x):
        return self.linear(x)


class _Affine(nn.Module):
    def __init__(self, node):
        super().__init__()
        scale, shift = node.weights
        self.register_buffer("scale", torch.from_numpy(scale.copy())[:, None])
        self.register_buffer("shift", torch.from_numpy(shift.copy())[:, None])

    def forward(self, x):  # channels-first (N, C, L)
        return x * self.scale + self.shift


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _module(node) -> nn.Module:
    p = node.params
    if node.op == "conv1d":
        return _Conv(node)
    if node.op == "dense":
        return _Dense(node)
    if node.op == "affine":
        return _Affine(node)
    if node.op == "relu":
        return nn.ReLU()
    if node.op == "sigmoid":
        return nn.Sigmoid()
    if node.op == "maxpool1d" and p["padding"] == "valid":
        return nn.MaxPool1d(p["pool"], p["strides"])
    if node.op == "flatten":
        return _Lambda(lambda x: x.transpose(1, 2).reshape(x.shape[0], -1) if x.ndim == 3 else x)
    if node.op == "crop1d":
        a, b = p["cropping"]
        return _Lambda(lambda x: x[:, :, a: x.shape[2] - b])
    if node.op == "add":
        return _Lambda(lambda *xs: sum(xs[1:], xs[0]))
    if node.op == "global_avgpool1d" and not p.get("keepdims", False):
        return _Lambda(lambda x: x.mean(dim=2))
    if node.op == "identity":
        return _Lambda(lambda x: x)
    raise ValueError(f"{node.name}: op {node.op!r} is not ported")


class TorchPort(nn.Module):
    """genolift's target of ``graph`` in PyTorch: (N, 4, L) float32 → (N, T) targets."""

    def __init__(self, graph: Graph, output=None, task: int = 0, target: str = "auto"):
        super().__init__()
        self.target = select_target(graph, output, task, target)
        if self.target.kind != "task" or self.target.normalise:
            raise ValueError("only unit targets without normalisation are ported")
        order = [n for n in graph.nodes if n.op != "input"]
        self.inputs = {n.name: n.inputs for n in order}
        self.order = [n.name for n in order if n.name in _needed(graph, self.target.node)]
        self.layers = nn.ModuleDict({_key(name): _module(graph.node(name)) for name in self.order})
        self.source = graph.inputs[0]
        self.tasks = list(self.target.all_tasks)

    def forward(self, x):
        values = {self.source: x}
        for name in self.order:
            values[name] = self.layers[_key(name)](*(values[i] for i in self.inputs[name]))
        return values[self.target.node][:, self.tasks]


def _key(name: str) -> str:
    return name.replace("/", "__").replace(".", "_")


def _needed(graph: Graph, node: str) -> set:
    by_name = {n.name: n for n in graph.nodes}
    seen, stack = set(), [node]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(by_name[name].inputs)
    return seen


#: Multipliers of a max pool's input where Δx = 0: tangermeme's own (the pooling gradient at the
#: sequence), 0, or the limit Δx → 0 (the upstream multiplier of each window whose first maximum is
#: there in both branches, with equal values; genolift's rule).
CONVENTIONS = ("tangermeme", "zero", "limit")


def _pool(module, x, **kw):
    return nn.functional.max_pool1d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                                    module.ceil_mode, **kw)


def _pool_vjp(module, x, v):
    """The pooling gradient of ``module`` at x (N, C, L) applied to v (shaped as the output), first maxima."""
    with torch.enable_grad():
        x = x.detach().requires_grad_()
        return torch.autograd.grad(_pool(module, x), x, v)[0]


def maxpool_rule(convention: str):
    """tangermeme's MaxPool1d rule, with the multiplier at Δx = 0 of ``convention`` (one of :data:`CONVENTIONS`)."""
    from tangermeme._deep_lift_utils import _maxpool

    if convention not in CONVENTIONS:
        raise ValueError(f"convention {convention!r} is not one of {CONVENTIONS}")

    def rule(module, grad_input, grad_output):
        (m,) = _maxpool(module, grad_input, grad_output)
        if convention == "tangermeme":
            return (m,)
        x, r = module.input.chunk(2)
        fill = torch.zeros_like(x)
        if convention == "limit":
            (y, at), (y_r, at_r) = _pool(module, x, return_indices=True), _pool(module, r, return_indices=True)
            shared = grad_output[0].chunk(2)[0] * ((y == y_r) & (at == at_r)).to(x.dtype)
            fill = _pool_vjp(module, x, shared)
        half = torch.where(x == r, fill, m.chunk(2)[0])
        return (torch.cat([half, half]),)

    return rule


def torch_model(graph: Graph, **target) -> TorchPort:
    """The PyTorch port of ``graph``'s explained target (``output``, ``task``, ``target`` as in genolift), eval mode."""
    return TorchPort(graph, **target).eval()
