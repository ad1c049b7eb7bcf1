"""The engine's primitives on JAX (see :mod:`genolift.engine.backends` for the contract).

float64 is enabled (``jax_enable_x64``) when this module is imported: the
engine's float64 checks and its profile target need it, and float32 arrays
stay float32.  Matrix products and convolutions ask for ``HIGHEST``
precision, so float32 is IEEE float32 on GPUs too (JAX's default there is
TensorFloat-32).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

jax.config.update("jax_enable_x64", True)

NAME = "jax"
COMPILATIONS = ("xla",)
KERNEL_ERRORS = (jax.errors.JaxRuntimeError, NotImplementedError, TypeError)
XLA_REFUSALS = KERNEL_ERRORS
#: Precision of every matrix product and convolution: true float32.
PRECISION = lax.Precision.HIGHEST


def version() -> str:
    return jax.__version__


def exact_float32() -> dict:
    """Matrix products and convolutions in IEEE float32 (also those autodiff and ``jnp`` create)."""
    jax.config.update("jax_default_matmul_precision", "highest")
    return float32_switches()


def float32_switches() -> dict:
    return {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
            "engine_precision": str(PRECISION)}


# -- arrays -------------------------------------------------------------
def dtype(name: str):
    return jnp.dtype(name)


def dtype_name(t) -> str:
    return jnp.dtype(t.dtype).name


def _device(device: str | None):
    return _by_name()[device] if device else None


def constant(array, dtype: str | None = None, device: str | None = None):
    value = np.asarray(array, dtype=dtype)
    return jax.device_put(value, _device(device)) if device else jnp.asarray(value)


def put(array, device: str | None = None, dtype: str | None = None):
    return constant(array, dtype, device)


def to_numpy(t) -> np.ndarray:
    return np.asarray(t)


def cast(t, name: str):
    return jnp.asarray(t).astype(name)


def shape(t) -> tuple:
    return tuple(t.shape)


def zeros(shape, dtype: str, like=None):
    return jnp.zeros(shape, dtype)


def zeros_like(t):
    return jnp.zeros_like(t)


def ones_like(t):
    return jnp.ones_like(t)


def arange(n: int, like=None):
    return jnp.arange(n, dtype=jnp.int32)


def lowest(t) -> float:
    return float(jnp.finfo(t.dtype).min)


def highest(t) -> float:
    return float(jnp.finfo(t.dtype).max)


# -- elementwise --------------------------------------------------------
def where(c, a, b):
    return jnp.where(c, a, b)


abs = jnp.abs  # noqa: A001
exp = jnp.exp
log = jnp.log
sqrt = jnp.sqrt
rsqrt = lax.rsqrt
tanh = jnp.tanh
sigmoid = jax.nn.sigmoid
relu = jax.nn.relu
relu6 = jax.nn.relu6
softplus = jax.nn.softplus
elu = jax.nn.elu
selu = jax.nn.selu
silu = jax.nn.silu
softsign = jax.nn.soft_sign
square = jnp.square
reciprocal = jnp.reciprocal
maximum = jnp.maximum
minimum = jnp.minimum


def gelu(t, approximate: bool = False):
    return jax.nn.gelu(t, approximate=approximate)


def leaky_relu(t, slope: float):
    return jax.nn.leaky_relu(t, negative_slope=slope)


# -- reductions ---------------------------------------------------------
def sum(t, axis=None, keepdims: bool = False):  # noqa: A001
    return jnp.sum(t, axis=_axis(axis), keepdims=keepdims)


def mean(t, axis=None, keepdims: bool = False):
    return jnp.mean(t, axis=_axis(axis), keepdims=keepdims)


def max(t, axis=None, keepdims: bool = False):  # noqa: A001
    return jnp.max(t, axis=_axis(axis), keepdims=keepdims)


def min(t, axis=None, keepdims: bool = False):  # noqa: A001
    return jnp.min(t, axis=_axis(axis), keepdims=keepdims)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# -- shapes -------------------------------------------------------------
def reshape(t, shape):
    return jnp.reshape(t, tuple(shape))


def transpose(t, perm):
    return jnp.transpose(t, perm)


def concat(ts, axis: int):
    return jnp.concatenate(list(ts), axis=axis)


def stack(ts, axis: int):
    return jnp.stack(list(ts), axis=axis)


def split(t, n: int, axis: int):
    return jnp.split(t, n, axis=axis)


def pad(t, pads, value: float = 0.0):
    return jnp.pad(t, [tuple(p) for p in pads], constant_values=value)


def take(t, index, axis: int):
    return jnp.take(t, index, axis=axis)


def repeat(t, n: int, axis: int):
    return jnp.repeat(t, n, axis=axis)


# -- network operations -------------------------------------------------
def bias_add(x, bias):
    return x + bias


def dense(x, kernel):
    return jnp.matmul(x, kernel, precision=PRECISION)


def conv1d(x, kernel, stride: int, padding: str, dilation: int, groups: int = 1):
    return lax.conv_general_dilated(x, kernel, (stride,), padding.upper(), rhs_dilation=(dilation,),
                                    dimension_numbers=("NWC", "WIO", "NWC"), feature_group_count=groups,
                                    precision=PRECISION)


def max_pool1d(x, pool: int, stride: int, padding: str):
    return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, (1, pool, 1), (1, stride, 1),
                             padding.upper())


def avg_pool1d(x, pool: int, stride: int, padding: str):
    summed = lax.reduce_window(x, np.array(0, x.dtype), lax.add, (1, pool, 1), (1, stride, 1), padding.upper())
    if padding == "valid":
        return summed / pool
    ones = jnp.ones((1, x.shape[1], 1), x.dtype)
    counts = lax.reduce_window(ones, np.array(0, x.dtype), lax.add, (1, pool, 1), (1, stride, 1), "SAME")
    return summed / counts


def softmax(t, axis: int = -1):
    return jax.nn.softmax(t, axis=axis)


def einsum(equation: str, *ts):
    return jnp.einsum(equation, *ts, precision=PRECISION)


# -- differentiation ----------------------------------------------------
def custom_gradient(fn):
    """``fn(*xs) -> (out, grad)``; grad returns one gradient per input (a tensor for one input)."""

    def wrapped(*xs):
        out, grad = fn(*xs)

        def tupled(dy):
            g = grad(dy)
            g = tuple(g) if isinstance(g, (tuple, list)) else (g,)
            return tuple(jnp.zeros_like(x) if gi is None else gi for gi, x in zip(g, xs))

        return out, tupled

    return jax.custom_gradient(wrapped)


def vjp(fn, *primals):
    return jax.vjp(fn, *primals)


# -- compilation and loops ----------------------------------------------
def compile(fn, mode: str, signature=None):  # noqa: A001
    """``jax.jit`` of ``fn`` (the only compilation JAX has); counts its traces."""
    count = [0]

    def traced(*args):
        count[0] += 1
        return fn(*args)

    compiled = jax.jit(traced)
    compiled_call = lambda *args: compiled(*args)  # noqa: E731
    compiled_call.tracing_count = lambda: count[0]
    return compiled_call


def fused(fn):
    return fn


def scan(step, init, xs):
    """Carries of ``carry = step(carry, x)`` over the leading axis of xs, stacked (a nest like ``init``)."""

    def body(carry, x):
        new = step(carry, x)
        return new, new

    return lax.scan(body, init, xs)[1]


def fori_loop(n: int, body, init):
    return lax.fori_loop(0, n, body, init)


# -- devices ------------------------------------------------------------
def _name(d) -> str:
    return f"{'gpu' if d.platform in ('gpu', 'cuda', 'rocm') else d.platform}:{d.id}"


def _by_name() -> dict:
    found = {}
    for backend in ("gpu", "cpu"):
        try:
            found.update({_name(d): d for d in jax.devices(backend)})
        except RuntimeError:  # no such platform
            pass
    return found


def devices() -> list[str]:
    return list(_by_name())


def default_device() -> str:
    return _name(jax.devices()[0])


def placed(device: str | None):
    return jax.default_device(_device(device)) if device else contextlib.nullcontext()


def is_gpu(device: str | None) -> bool:
    return str(device or default_device()).startswith("gpu")


def gpu_name(device: str | None) -> str:
    d = _device(device or default_device())
    return f"{d.device_kind} {getattr(d, 'compute_capability', '')}".strip()


def device_memory(device: str | None) -> int | None:
    """Bytes of memory JAX's allocator may use on a GPU device (its ``bytes_limit``); None on a CPU."""
    if not is_gpu(device):
        return None
    stats = _device(device or default_device()).memory_stats() or {}
    return int(stats["bytes_limit"]) if "bytes_limit" in stats else None
