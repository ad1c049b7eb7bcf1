"""The engine's primitives on TensorFlow (see :mod:`genolift.engine.backends` for the contract)."""

from __future__ import annotations

import builtins
import contextlib
import logging

import numpy as np

from ...tf_import import lean_tensorflow

tf = lean_tensorflow()


class _NotRetracing(logging.Filter):
    """Drop TensorFlow's warning that many tf.functions were traced: each engine traces its own steps on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NotRetracing())

NAME = "tensorflow"
COMPILATIONS = ("plain", "xla")
KERNEL_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnimplementedError)
XLA_REFUSALS = KERNEL_ERRORS


def version() -> str:
    return tf.__version__


def exact_float32() -> dict:
    """TensorFloat-32 off for float32 matrix products and convolutions (on by default on Ampere and newer GPUs)."""
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return float32_switches()


def float32_switches() -> dict:
    return {"tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled()}


# -- arrays -------------------------------------------------------------
def dtype(name: str):
    return tf.as_dtype(name)


def dtype_name(t) -> str:
    return t.dtype.name


def constant(array, dtype: str | None = None, device: str | None = None):
    with placed(device):
        return tf.constant(array, dtype=None if dtype is None else tf.as_dtype(dtype))


def put(array, device: str | None = None, dtype: str | None = None):
    return constant(array, dtype, device)


def to_numpy(t) -> np.ndarray:
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def cast(t, name: str):
    return tf.cast(t, tf.as_dtype(name))


def shape(t) -> tuple:
    return tuple(t.shape.as_list())


def zeros(shape, dtype: str, like=None):
    return tf.zeros(shape, tf.as_dtype(dtype))


def zeros_like(t):
    return tf.zeros_like(t)


def ones_like(t):
    return tf.ones_like(t)


def arange(n: int, like=None):
    return tf.range(n)


def lowest(t) -> float:
    return float(t.dtype.min)


def highest(t) -> float:
    return float(t.dtype.max)


# -- elementwise --------------------------------------------------------
def where(c, a, b):
    if isinstance(b, (int, float)):
        b = tf.constant(b, dtype=a.dtype)
    if isinstance(a, (int, float)):
        a = tf.constant(a, dtype=b.dtype)
    return tf.where(c, a, b)


abs = tf.abs  # noqa: A001
exp = tf.exp
log = tf.math.log
sqrt = tf.sqrt
rsqrt = tf.math.rsqrt
tanh = tf.tanh
sigmoid = tf.sigmoid
relu = tf.nn.relu
relu6 = tf.nn.relu6
softplus = tf.nn.softplus
elu = tf.nn.elu
selu = tf.nn.selu
silu = tf.nn.silu
softsign = tf.nn.softsign
square = tf.square
reciprocal = tf.math.reciprocal
maximum = tf.maximum
minimum = tf.minimum


def gelu(t, approximate: bool = False):
    return tf.nn.gelu(t, approximate=approximate)


def leaky_relu(t, slope: float):
    return tf.nn.leaky_relu(t, alpha=slope)


# -- reductions ---------------------------------------------------------
def sum(t, axis=None, keepdims: bool = False):  # noqa: A001
    return tf.reduce_sum(t, axis=axis, keepdims=keepdims)


def mean(t, axis=None, keepdims: bool = False):
    return tf.reduce_mean(t, axis=axis, keepdims=keepdims)


def max(t, axis=None, keepdims: bool = False):  # noqa: A001
    return tf.reduce_max(t, axis=axis, keepdims=keepdims)


def min(t, axis=None, keepdims: bool = False):  # noqa: A001
    return tf.reduce_min(t, axis=axis, keepdims=keepdims)


# -- shapes -------------------------------------------------------------
def reshape(t, shape):
    return tf.reshape(t, shape)


def transpose(t, perm):
    return tf.transpose(t, perm)


def concat(ts, axis: int):
    return tf.concat(list(ts), axis=axis)


def stack(ts, axis: int):
    return tf.stack(list(ts), axis=axis)


def split(t, n: int, axis: int):
    return tf.split(t, n, axis=axis)


def pad(t, pads, value: float = 0.0):
    return tf.pad(t, [list(p) for p in pads], constant_values=value)


def take(t, index, axis: int):
    return tf.gather(t, index, axis=axis)


def repeat(t, n: int, axis: int):
    return tf.repeat(t, n, axis=axis)


# -- network operations -------------------------------------------------
def bias_add(x, bias):
    """x + bias on the last axis, as the op TensorFlow's graph optimiser fuses into the convolution or product."""
    return tf.nn.bias_add(x, bias)


def dense(x, kernel):
    if x.shape.rank == 2:
        return tf.matmul(x, kernel)
    return tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]])


def conv1d(x, kernel, stride: int, padding: str, dilation: int, groups: int = 1):
    if x.dtype == tf.float64 and dilation > 1 and groups == 1:
        return _conv1d_taps(x, kernel, stride, padding, dilation)
    if groups == 1:
        return tf.nn.conv1d(x, kernel, stride, padding.upper(), dilations=dilation)
    xs, ks = tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1)
    return tf.concat([tf.nn.conv1d(a, k, stride, padding.upper(), dilations=dilation) for a, k in zip(xs, ks)],
                     axis=-1)


def _conv1d_taps(x, kernel, stride: int, padding: str, dilation: int):
    """Dilated conv as a sum over kernel taps (TensorFlow's CPU kernels lack float64 dilated gradients)."""
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    length = x.shape[1]
    if padding == "same":
        out_len = -(-length // stride)
        total = builtins.max((out_len - 1) * stride + span - length, 0)
        x = tf.pad(x, [[0, 0], [total // 2, total - total // 2], [0, 0]])
    out_len = (x.shape[1] - span) // stride + 1
    taps = [x[:, j * dilation: j * dilation + (out_len - 1) * stride + 1: stride] for j in range(k)]
    return tf.add_n([tf.tensordot(t, kernel[j], [[2], [0]]) for j, t in enumerate(taps)])


def max_pool1d(x, pool: int, stride: int, padding: str):
    return tf.nn.max_pool1d(x, pool, stride, padding.upper())


def avg_pool1d(x, pool: int, stride: int, padding: str):
    return tf.nn.avg_pool1d(x, pool, stride, padding.upper())


def softmax(t, axis: int = -1):
    return tf.nn.softmax(t, axis=axis)


def einsum(equation: str, *ts):
    return tf.einsum(equation, *ts)


# -- differentiation ----------------------------------------------------
def custom_gradient(fn):
    """``fn(*xs) -> (out, grad)``; grad returns one gradient per input (a tensor for one input)."""
    return tf.custom_gradient(fn)


def vjp(fn, *primals):
    with tf.GradientTape(persistent=True) as tape:
        for p in primals:
            tape.watch(p)
        out = fn(*primals)

    def pullback(cotangent):
        grads = tape.gradient(out, list(primals), output_gradients=cotangent)
        return tuple(tf.zeros_like(p) if g is None else g for g, p in zip(grads, primals))

    return out, pullback


# -- compilation and loops ----------------------------------------------
def compile(fn, mode: str, signature=None):  # noqa: A001
    """``fn(weights, *args)`` as a graph (``plain``) or XLA (``xla``) ``tf.function`` of fixed input shapes.

    The weights are captured as constants of the graph, one trace per weights object (one per device),
    rather than passed as inputs: TensorFlow then prepares them once (oneDNN keeps its reordered
    convolution filters, Grappler folds what depends on them alone) instead of on every call.
    """
    specs = None if signature is None else [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype)) for s in signature[1:]]
    traced: dict = {}

    def call(weights, *args):
        key = id(weights)
        if key not in traced:
            traced[key] = (weights, tf.function(lambda *a: fn(weights, *a), input_signature=specs, autograph=False,
                                                jit_compile=mode == "xla"))
        with forgetting_custom_gradients():
            return traced[key][1](*args)

    call.tracing_count = lambda: builtins.sum(f.experimental_get_tracing_count() for _, f in traced.values())
    return call


@contextlib.contextmanager
def forgetting_custom_gradients():
    """Drop the gradient functions ``tf.custom_gradient`` registers while a step is traced, once it is.

    In a graph, each ``tf.custom_gradient`` call registers its gradient function in TensorFlow's
    process-wide gradient registry under a new name, and nothing ever removes it; the function holds
    the traced graph, so every engine made would keep its graphs for the life of the process (about
    12 MB an engine for a small CNN).  The step's gradients are built inside its own trace, so the
    entries are of no use once the call that traced it returns.
    """
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except AttributeError:  # another TensorFlow's internals: leave them be
        yield
        return
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-"):
                del registry[name]


def fused(fn):
    return tf.function(fn, jit_compile=True, autograph=False)


def scan(step, init, xs):
    """Carries of ``carry = step(carry, x)`` over the leading axis of xs, stacked (a nest like ``init``)."""
    return tf.scan(step, xs, initializer=init)


def fori_loop(n: int, body, init):
    def step(i, carry):
        return i + 1, body(i, carry)

    return tf.while_loop(lambda i, _: i < n, step, (tf.constant(0), init))[1]


# -- devices ------------------------------------------------------------
def devices() -> list[str]:
    return [d.name for d in tf.config.list_logical_devices()]


def default_device() -> str:
    names = devices()
    return next((n for n in names if "GPU" in n), names[0] if names else "/device:CPU:0")


def placed(device: str | None):
    return tf.device(device) if device else contextlib.nullcontext()


def is_gpu(device: str | None) -> bool:
    return "GPU" in str(device or default_device()).upper()


def gpu_name(device: str | None) -> str:
    """'<name> <compute capability>' of a GPU device."""
    index = str(device).rsplit(":", 1)[-1]
    gpus = tf.config.list_physical_devices("GPU")
    try:
        details = tf.config.experimental.get_device_details(gpus[int(index) if index.isdigit() else 0])
    except (IndexError, ValueError, RuntimeError):
        details = {}
    return f"{details.get('device_name', 'unknown')} {details.get('compute_capability', '')}".strip()


def device_memory(device: str | None) -> int | None:
    """Bytes of memory of a GPU device (from nvidia-smi: TensorFlow does not report it); None on a CPU."""
    device = device or default_device()
    return _gpu_total_bytes() if is_gpu(device) else None


def _gpu_total_bytes() -> int | None:
    """Total memory of the first GPU from nvidia-smi, else None (TensorFlow does not report it)."""
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(out.split()[0]) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
