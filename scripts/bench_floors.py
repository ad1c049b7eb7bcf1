"""The strict floor of ``bench.py`` on each backend: the unavoidable work done the fastest way the backend can.

The work is the forward pass of the N inputs plus the input gradient of the model's first output on the
N·K reference rows (no weight gradients), batch by batch, with the Keras model itself running on the
backend (Keras 3 reads the file on ``KERAS_BACKEND``, set by ``bench.py --backend`` before Keras is
imported).  Each backend's forms are timed and the fastest is the floor:

* tensorflow: ``tf.function``, plain and XLA (``jit_compile=True``);
* jax: ``jax.jit`` of ``model.stateless_call`` and its ``jax.grad``, and the same eagerly (op by op);
* torch: eager, and ``torch.compile`` of the forward and of the gradient function where it compiles
  (a form that fails is reported with the first line of its error and left out);
* on every backend also genolift's own graph of the model run plainly (its forward pass and the
  backend's own gradient of it, no DeepLIFT rule), in each compilation the backend offers: where
  that graph runs faster than Keras's own layers (it folds batch norm, for one), the floor is that.

Every form computes in float32 with TensorFloat-32 off, as the engine does (the switches of
:func:`genolift.engine.backends.load` ``(...).exact_float32()`` are set before timing).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _first(y):
    return y[0] if isinstance(y, (list, tuple)) else y


def _tensorflow(model, X, R, batch: int) -> dict:
    import tensorflow as tf

    def forms(xla: bool):
        @tf.function(jit_compile=xla)
        def fwd(x):
            return _first(model(x, training=False))

        @tf.function(jit_compile=xla)
        def grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                t = tf.reduce_sum(tf.reshape(_first(model(x, training=False)), [tf.shape(x)[0], -1])[:, 0])
            return tape.gradient(t, x)

        return lambda x: fwd(x).numpy(), lambda r: grad(r).numpy()

    return {name: _batched(*forms(name == "XLA"), X, R, batch) for name in ("plain", "XLA")}


def _jax(model, X, R, batch: int) -> dict:
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def fwd(x):
        return _first(model.stateless_call(trainable, fixed, x, training=False)[0])

    def target(x):
        return jnp.sum(jnp.reshape(fwd(x), (x.shape[0], -1))[:, 0])

    grad = jax.grad(target)
    out = {}
    for name, wrap in (("jit", jax.jit), ("eager", lambda f: f)):
        f, g = wrap(fwd), wrap(grad)
        out[name] = _batched(lambda x, f=f: np.asarray(f(x)), lambda r, g=g: np.asarray(g(r)), X, R, batch)
    return out


def _torch(model, X, R, batch: int) -> dict:
    import torch

    def fwd(x):
        with torch.no_grad():
            return _first(model(x, training=False))

    def grad(x):
        x = x.detach().requires_grad_(True)
        t = _first(model(x, training=False)).reshape(x.shape[0], -1)[:, 0].sum()
        return torch.autograd.grad(t, x)[0]

    def put(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    out = {"eager": _batched(lambda x: fwd(put(x)).cpu().numpy(), lambda r: grad(put(r)).cpu().numpy(), X, R, batch)}
    try:
        cf, cg = torch.compile(fwd), torch.compile(grad)
        compiled = _batched(lambda x: cf(put(x)).cpu().numpy(), lambda r: cg(put(r)).cpu().numpy(), X, R, batch)
        compiled()  # compile now: a form that cannot compile is left out here, not in the timing
        out["compile"] = compiled
    except Exception as exc:  # noqa: BLE001 (whatever torch.compile raises for this model)
        print(f"floor torch.compile: left out ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})")
    return out


def _graph(backend: str, graph, X, R, batch: int) -> dict:
    """genolift's graph of the model, plain forward and input gradient of its first output's first unit."""
    from genolift.engine.backends import Spec, load
    from genolift.engine.network import Network
    from genolift.engine.targets import select_target

    xp = load(backend)
    network = Network(graph, select_target(graph, None, 0, "task"), "gradient", xp=xp)
    L = graph.length

    def forward(weights, x):
        return network.bind(weights).point_target(x)

    def gradient(weights, x):
        t, pullback = xp.vjp(lambda p: network.bind(weights).point_target(p), x)
        return pullback(xp.ones_like(t))[0]

    out = {}
    for mode in xp.COMPILATIONS:
        compiled = {}

        def run(fn, a, mode=mode, compiled=compiled):
            key = (fn.__name__, len(a))
            if key not in compiled:
                weights = {n: [Spec(xp.shape(w), xp.dtype_name(w)) for w in ws] for n, ws in network.consts.items()}
                compiled[key] = xp.compile(fn, mode, [weights, Spec((len(a), L, 4), "float32")])
            return xp.to_numpy(compiled[key](network.consts, xp.put(a, None, "float32")))

        out[f"graph-{mode}"] = _batched(lambda x, run=run: run(forward, x), lambda r, run=run: run(gradient, r),
                                        X, R, batch)
    return out


def _batched(fwd: Callable, grad: Callable, X: np.ndarray, R: np.ndarray, batch: int) -> Callable:
    """A run over every row of X (forward) and R (input gradient), ``batch`` rows at a time."""

    def run():
        for i in range(0, len(X), batch):
            fwd(X[i:i + batch])
        for i in range(0, len(R), batch):
            grad(R[i:i + batch])

    return run


def floor_runs(backend: str, model, graph, X: np.ndarray, R: np.ndarray, batch: int) -> dict:
    """{form: run()} of the strict floor on ``backend`` for Keras ``model`` (and genolift's ``graph`` of it)
    on X (N, L, 4) and R (N·K, L, 4)."""
    from genolift.engine.backends import load

    load(backend).exact_float32()
    keras_forms = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[backend](model, X, R, batch)
    return {**keras_forms, **_graph(backend, graph, X, R, batch)}
