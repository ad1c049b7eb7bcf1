"""The backend seam: the few array primitives the engine needs, once per Keras backend.

The engine (ops, rules, targets, the pair step) is written once against the
functions every backend module here provides; a backend module holds only
what differs between TensorFlow, JAX and PyTorch: how an operation is
spelled, the backward pass (:func:`custom_gradient`, :func:`vjp`), loops,
compilation, device placement and the precision switches.  Modules are
imported on first use, so choosing JAX or PyTorch never imports TensorFlow.

Every backend module defines (``xp`` below is the module):

* ``NAME``; ``COMPILATIONS``, the compile modes it offers (``plain``: eager or
  graph without XLA, ``xla``); ``KERNEL_ERRORS``, what it raises for a
  kernel a device lacks; ``XLA_REFUSALS``, what it raises when XLA cannot
  compile a step.
* set-up: ``exact_float32()`` (TensorFloat-32 off for matrix products and
  convolutions; returns the switches' states), ``version()``.
* arrays: ``dtype(name)``, ``dtype_name(t)``, ``constant(array, dtype, device)``,
  ``to_numpy(t)``, ``cast(t, dtype)``, ``shape(t)`` (static tuple),
  ``zeros(shape, dtype, like)``, ``zeros_like``, ``ones_like``, ``arange(n, like)``,
  ``lowest(t)``/``highest(t)`` (finite extremes of t's dtype).
* elementwise: ``where(c, a, b)`` (b may be a Python number), ``abs``, ``exp``,
  ``log``, ``sqrt``, ``rsqrt``, ``tanh``, ``sigmoid``, ``relu``, ``relu6``,
  ``softplus``, ``elu``, ``selu``, ``gelu(t, approximate)``, ``silu``,
  ``softsign``, ``leaky_relu(t, slope)``, ``square``, ``reciprocal``,
  ``maximum``, ``minimum``.
* reductions ``sum``, ``mean``, ``max``, ``min`` (``axis``, ``keepdims``).
* shapes: ``reshape``, ``transpose``, ``concat``, ``stack``, ``split``,
  ``pad(t, pads, value)`` (pads: one (before, after) per axis), ``take(t, index, axis)``
  (an int drops the axis; an int array gathers), ``repeat(t, n, axis)``.
* networks: ``dense(x, kernel)`` (contract the last axis), ``bias_add(x, bias)`` (on the last axis), ``conv1d(x, kernel,
  stride, padding, dilation, groups)`` with x (B, L, C), kernel (K, C/groups,
  O) and padding ``valid``/``same`` as Keras; ``max_pool1d``/``avg_pool1d(x,
  pool, stride, padding)`` ('same' averages exclude the padding, as Keras);
  ``softmax(t, axis)``, ``einsum``.
* differentiation: ``custom_gradient(fn)`` where ``fn(*tensors)`` returns
  ``(out, grad)`` and ``grad(dy)`` the input gradients (a tensor, or a tuple
  for several inputs, None for an input that needs none); ``vjp(fn, *primals)`` → ``(out, pullback)`` with
  ``pullback(cotangent)`` a tuple of gradients, callable more than once.
* compilation and loops: ``compile(fn, mode, signature)`` (``signature``: a
  :class:`Spec` per argument, in a nest like the arguments), ``fused(fn)`` (a
  hint: one XLA kernel where the backend compiles pieces, else ``fn``),
  ``fori_loop(n, body, init)`` with ``body(i, carry) -> carry``, ``scan(step, init, xs)``: the
  carries of ``carry = step(carry, x)`` over the leading axis of the nest ``xs``, stacked (a loop
  whose graph and compile time do not grow with the number of steps).
* devices: ``devices()`` (names), ``default_device()``, ``placed(device)`` (a
  context for eager work), ``put(array, device, dtype)``, ``is_gpu(device)``,
  ``gpu_name(device)``, ``device_memory(device)`` (a GPU's bytes, None on a CPU).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

from ...errors import DeviceError

@dataclass(frozen=True)
class Spec:
    """Shape and dtype name of one argument of a compiled step (a leaf of a signature nest)."""

    shape: tuple
    dtype: str


#: Backend name → its module here.
MODULES = {"tensorflow": "tensorflow_ops", "jax": "jax_ops", "torch": "torch_ops"}
BACKENDS = tuple(MODULES)
#: Names Keras also accepts in KERAS_BACKEND that mean one of ours.
_ALIASES = {"pytorch": "torch", "tf": "tensorflow"}


def default_backend() -> str:
    """``KERAS_BACKEND`` when it names one of :data:`BACKENDS`, else ``tensorflow`` (read on every call)."""
    name = os.environ.get("KERAS_BACKEND", "").strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in MODULES else "tensorflow"


def resolve(name: str | None) -> str:
    """A backend name checked against :data:`BACKENDS` (None: :func:`default_backend`)."""
    if name is None:
        return default_backend()
    key = _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in MODULES:
        raise DeviceError(f"backend {name!r} is not one of {', '.join(BACKENDS)}")
    return key


def load(name: str | None = None):
    """The backend module of ``name`` (see :func:`resolve`), imported on first use.

    Raises
    ------
    DeviceError : the backend's framework is not installed (with the install line).
    """
    from ...quiet import quiet_stderr

    key = resolve(name)
    try:
        with quiet_stderr():  # the library's start-up notes (replayed if the import fails)
            module = importlib.import_module(f".{MODULES[key]}", __name__)
            module.devices()
        return module
    except ImportError as exc:
        extra = {"tensorflow": "tensorflow", "jax": "genolift[jax]", "torch": "genolift[torch]"}[key]
        raise DeviceError(f"--backend {key}: {exc.name or key} is not installed here "
                          f"(pip install '{extra}')") from None
