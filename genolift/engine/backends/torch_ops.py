"""The engine's primitives on PyTorch (see :mod:`genolift.engine.backends` for the contract).

PyTorch runs eagerly (``plain``): the step functions are Python that issues
kernels, the custom gradients are ``torch.autograd.Function``s.  Tensors
carry their device: constants are made on the device asked for, and every
new tensor follows the device of the one it derives from.  Sequences are
channels-last (B, L, C) as everywhere in genolift; convolutions and pools
transpose to PyTorch's (B, C, L) around the kernel.
"""

from __future__ import annotations

import builtins
import contextlib

import numpy as np
import torch
import torch.nn.functional as F

#: Compilations of one piece of rule code (a fused kernel per layer shape and nonlinearity) before
#: ``torch.compile`` gives up on it and runs it eagerly; PyTorch's default (8) is below a deep model's count.
torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 256)

NAME = "torch"
COMPILATIONS = ("plain",)
KERNEL_ERRORS = (RuntimeError, NotImplementedError, TypeError)
XLA_REFUSALS = ()
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
           "float16": torch.float16, "int32": torch.int32, "int64": torch.int64, "bool": torch.bool}


def version() -> str:
    return str(torch.__version__)


def exact_float32() -> dict:
    """TensorFloat-32 off for float32 matrix products and cuDNN convolutions (cuDNN's default is on)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return float32_switches()


def float32_switches() -> dict:
    return {"cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


# -- arrays -------------------------------------------------------------
def dtype(name: str):
    return _DTYPES[name]


def dtype_name(t) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def constant(array, dtype: str | None = None, device: str | None = None):
    if isinstance(array, torch.Tensor):
        return array.to(device=device or array.device, dtype=_DTYPES[dtype] if dtype else array.dtype)
    value = np.ascontiguousarray(np.asarray(array, dtype=None if dtype in (None, "bfloat16") else dtype))
    t = torch.from_numpy(value) if value.ndim else torch.tensor(value)
    return t.to(device=device or default_device(), dtype=_DTYPES[dtype] if dtype else t.dtype)


def put(array, device: str | None = None, dtype: str | None = None):
    return constant(array, dtype, device)


def to_numpy(t) -> np.ndarray:
    if not isinstance(t, torch.Tensor):
        return np.asarray(t)
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.cpu().numpy()


def cast(t, name: str):
    if not isinstance(t, torch.Tensor):
        return torch.tensor(t, dtype=_DTYPES[name])
    return t.to(_DTYPES[name])


def shape(t) -> tuple:
    return tuple(t.shape)


def zeros(shape, dtype: str, like=None):
    return torch.zeros(tuple(shape), dtype=_DTYPES[dtype], device=None if like is None else like.device)


def zeros_like(t):
    return torch.zeros_like(t)


def ones_like(t):
    return torch.ones_like(t)


def arange(n: int, like=None):
    return torch.arange(n, dtype=torch.int32, device=None if like is None else like.device)


def lowest(t) -> float:
    return float(torch.finfo(t.dtype).min)


def highest(t) -> float:
    return float(torch.finfo(t.dtype).max)


# -- elementwise --------------------------------------------------------
def where(c, a, b):
    if not isinstance(a, torch.Tensor):
        a = torch.tensor(a, dtype=b.dtype, device=b.device)
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=a.dtype, device=a.device)
    return torch.where(c, a, b)


abs = torch.abs  # noqa: A001
exp = torch.exp
log = torch.log
sqrt = torch.sqrt
rsqrt = torch.rsqrt
tanh = torch.tanh
sigmoid = torch.sigmoid
relu = torch.relu
relu6 = F.relu6
elu = F.elu
selu = F.selu
silu = F.silu
softsign = F.softsign
square = torch.square
reciprocal = torch.reciprocal
maximum = torch.maximum
minimum = torch.minimum


def softplus(t):
    """log(1 + exp(t)) exactly (torch's softplus turns linear above a threshold)."""
    return torch.logaddexp(t, torch.zeros_like(t))


def gelu(t, approximate: bool = False):
    return F.gelu(t, approximate="tanh" if approximate else "none")


def leaky_relu(t, slope: float):
    return F.leaky_relu(t, slope)


# -- reductions ---------------------------------------------------------
def _dims(t, axis):
    if axis is None:
        return tuple(range(t.dim()))
    return tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)


def sum(t, axis=None, keepdims: bool = False):  # noqa: A001
    return torch.sum(t, dim=_dims(t, axis), keepdim=keepdims)


def mean(t, axis=None, keepdims: bool = False):
    return torch.mean(t, dim=_dims(t, axis), keepdim=keepdims)


def max(t, axis=None, keepdims: bool = False):  # noqa: A001
    return torch.amax(t, dim=_dims(t, axis), keepdim=keepdims)


def min(t, axis=None, keepdims: bool = False):  # noqa: A001
    return torch.amin(t, dim=_dims(t, axis), keepdim=keepdims)


# -- shapes -------------------------------------------------------------
def reshape(t, shape):
    return torch.reshape(t, tuple(shape))


def transpose(t, perm):
    return t.permute(*perm)


def concat(ts, axis: int):
    return torch.cat(list(ts), dim=axis)


def stack(ts, axis: int):
    return torch.stack(list(ts), dim=axis)


def split(t, n: int, axis: int):
    return list(torch.chunk(t, n, dim=axis))


def pad(t, pads, value: float = 0.0):
    flat = []
    for before, after in reversed([tuple(p) for p in pads]):
        flat += [int(before), int(after)]
    return F.pad(t, flat, value=value)


def take(t, index, axis: int):
    if isinstance(index, (int, np.integer)):
        return t.select(axis, int(index))
    index = torch.as_tensor(np.asarray(index), device=t.device) if not isinstance(index, torch.Tensor) else index
    if index.dim() == 1:
        return torch.index_select(t, axis, index)
    out = torch.index_select(t, axis, index.reshape(-1))
    axis = axis % t.dim()
    return out.reshape(*t.shape[:axis], *index.shape, *t.shape[axis + 1:])


def repeat(t, n: int, axis: int):
    return torch.repeat_interleave(t, n, dim=axis)


# -- network operations -------------------------------------------------
def bias_add(x, bias):
    return x + bias


def dense(x, kernel):
    return torch.matmul(x, kernel)


def _same_pads(length: int, span: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding: (before, after), the odd one after."""
    out = -(-length // stride)
    total = builtins.max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def conv1d(x, kernel, stride: int, padding: str, dilation: int, groups: int = 1):
    xc = x.transpose(1, 2)
    if padding == "same":
        xc = F.pad(xc, _same_pads(x.shape[1], dilation * (kernel.shape[0] - 1) + 1, stride))
    y = F.conv1d(xc, kernel.permute(2, 1, 0), stride=stride, dilation=dilation, groups=groups)
    return y.transpose(1, 2)


def max_pool1d(x, pool: int, stride: int, padding: str):
    xc = x.transpose(1, 2)
    if padding == "same":
        xc = F.pad(xc, _same_pads(x.shape[1], pool, stride), value=float("-inf"))
    return F.max_pool1d(xc, pool, stride).transpose(1, 2)


def avg_pool1d(x, pool: int, stride: int, padding: str):
    xc = x.transpose(1, 2)
    if padding == "valid":
        return F.avg_pool1d(xc, pool, stride).transpose(1, 2)
    pads = _same_pads(x.shape[1], pool, stride)
    ones = torch.ones((1, 1, x.shape[1]), dtype=x.dtype, device=x.device)
    summed = F.avg_pool1d(F.pad(xc, pads), pool, stride)
    counts = F.avg_pool1d(F.pad(ones, pads), pool, stride)
    return (summed / counts).transpose(1, 2)


def softmax(t, axis: int = -1):
    return torch.softmax(t, dim=axis)


def einsum(equation: str, *ts):
    return torch.einsum(equation, *ts)


# -- differentiation ----------------------------------------------------
class _Custom(torch.autograd.Function):
    """An op whose backward pass is the closure ``fn`` returned with its output."""

    @staticmethod
    def forward(ctx, fn, *xs):
        out, grad = fn(*xs)
        ctx.grad = grad
        return out

    @staticmethod
    def backward(ctx, dy):
        grads = ctx.grad(dy)  # kept: a retained graph may run its backward pass again (one per task)
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        return (None, *grads)


def custom_gradient(fn):
    """``fn(*xs) -> (out, grad)``; grad returns one gradient per input (a tensor for one input)."""
    return lambda *xs: _Custom.apply(fn, *xs)


def vjp(fn, *primals):
    with torch.enable_grad():
        leaves = [p.detach().requires_grad_(True) for p in primals]
        out = fn(*leaves)

    def pullback(cotangent):
        with torch.enable_grad():
            grads = torch.autograd.grad(out, leaves, cotangent, retain_graph=True, allow_unused=True)
        return tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves))

    return out, pullback


# -- compilation and loops ----------------------------------------------
def compile(fn, mode: str, signature=None):  # noqa: A001
    """PyTorch runs the step eagerly, without autograd where nothing asks for it."""

    def eager(*args):
        with torch.no_grad():
            return fn(*args)

    eager.tracing_count = lambda: 0
    return eager


def fused(fn):
    """``torch.compile`` of a piece of elementwise work (one generated loop instead of a kernel per operation);
    where it cannot compile, ``fn`` itself."""
    compiled = torch.compile(fn, dynamic=False)
    state = {"run": compiled}

    def run(*args):
        try:
            return state["run"](*args)
        except Exception:  # noqa: BLE001 (whatever the compiler raises): the same function, eagerly
            if state["run"] is fn:
                raise
            state["run"] = fn
            return fn(*args)

    return run


def scan(step, init, xs):
    """Carries of ``carry = step(carry, x)`` over the leading axis of xs, stacked (a nest like ``init``)."""
    from torch.utils._pytree import tree_flatten, tree_unflatten

    leaves, spec = tree_flatten(xs)
    carry, stacked = init, []
    for t in range(leaves[0].shape[0]):
        carry = step(carry, tree_unflatten([leaf[t] for leaf in leaves], spec))
        stacked.append(carry)
    flat = [tree_flatten(c)[0] for c in stacked]
    return tree_unflatten([torch.stack(parts) for parts in zip(*flat)], tree_flatten(init)[1])


def fori_loop(n: int, body, init):
    carry = init
    for i in range(n):
        carry = body(torch.tensor(i), carry)
    return carry


# -- devices ------------------------------------------------------------
def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def default_device() -> str:
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def placed(device: str | None):
    return contextlib.nullcontext()


def is_gpu(device: str | None) -> bool:
    return str(device or default_device()).startswith("cuda")


def gpu_name(device: str | None) -> str:
    index = torch.device(device or default_device()).index or 0
    major, minor = torch.cuda.get_device_capability(index)
    return f"{torch.cuda.get_device_name(index)} {major}.{minor}"


def device_memory(device: str | None) -> int | None:
    """Bytes of memory of a GPU device; None on a CPU."""
    if not is_gpu(device):
        return None
    return int(torch.cuda.get_device_properties(torch.device(device or default_device())).total_memory)
