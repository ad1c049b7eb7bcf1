"""What genolift supports, and how it explains it: the one table.

Every fact about support lives here once; the model reader, the engine and
``genolift info`` all read it.

* :data:`OPS` — genolift operation → the DeepLIFT rule the engine applies to
  it (``engine/ops.py`` holds one TensorFlow implementation per entry).
* :data:`ACTIVATIONS` — Keras activation name → the operation it becomes.
* :data:`LAYERS` — Keras layer class → its converter (``model/layers.py``),
  the operations it may produce and, where the rules alone do not say it
  well, the words ``genolift info`` prints.

The verdict of a layer follows from these: it is supported when its class
and activation have rows, and its rule is the rules of its operations.

Adding a layer is one :data:`LAYERS` row and its converter; an operation new
to the engine is one :data:`OPS` row and its TensorFlow implementation (plus,
for a rule not listed in :data:`RULE_WORDS`, that rule in ``engine/rules.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import UnsupportedLayerError
from . import attention, keras_ops, layers, recurrent
from .graph import Node

#: Rules of the engine (``engine/network.py`` dispatches on them).
LINEAR, RESCALE, CROSS_MAX, PRODUCT, SOFTMAX = "linear", "elementwise", "maxpool", "product", "softmax"
#: A recurrent layer run as a loop over time, the rules above inside its cell (``engine/recurrent.py``).
LOOP = "loop"

#: Rule → words for ``genolift info``.
RULE_WORDS = {
    LINEAR: "linear",
    RESCALE: "rescale",
    CROSS_MAX: "cross-max",
    PRODUCT: "product (Shapley split)",
    SOFTMAX: "final: target is the mean-normalised logit; inner: exp/sum/reciprocal/product",
    LOOP: "loop over time: linear, rescale (gates), product (Shapley split)",
}

#: genolift operation → DeepLIFT rule.
OPS: dict[str, str] = {
    **dict.fromkeys((
        "input", "identity", "conv1d", "dense", "affine", "avgpool1d", "global_avgpool1d", "flatten", "reshape",
        "permute", "crop1d", "pad1d", "add", "subtract", "average", "concatenate", "center", "reduce_mean",
        "reduce_sum", "take", "stack", "scale_shift", "einsum_const", "relative_shift", "upsample1d",
    ), LINEAR),
    **dict.fromkeys((
        "relu", "sigmoid", "tanh", "softplus", "elu", "selu", "gelu", "exponential", "silu", "softsign", "relu6",
        "hard_sigmoid", "leaky_relu", "prelu", "square", "rsqrt", "reciprocal", "log", "sqrt", "gelu_tanh",
        "gelu_enf",
    ), RESCALE),
    **dict.fromkeys(("maxpool1d", "global_maxpool1d", "reduce_max", "reduce_min"), CROSS_MAX),
    "multiply": PRODUCT,
    "einsum": PRODUCT,  # a contraction of two changing tensors (attention's query·key, weights·values)
    "softmax": SOFTMAX,
    "lstm": LOOP,
    "gru": LOOP,
}


@dataclass(frozen=True)
class Activation:
    """How a Keras activation becomes a genolift operation.

    Attributes
    ----------
    op : the operation (a key of :data:`OPS`).
    params : its parameters (Keras's defaults for the activation function).
    tf_keras2 : why a file saved by tf.keras 2 means something else by this
        name (such files are refused for it), or None.
    """

    op: str
    params: dict = field(default_factory=dict)
    tf_keras2: str | None = None


#: Keras activation name → operation.  ``None`` and ``linear`` are the identity.
ACTIVATIONS: dict[str | None, Activation] = {
    None: Activation("identity"),
    "linear": Activation("identity"),
    "softmax": Activation("softmax", {"axis": -1}),
    **{name: Activation(name) for name in (
        "relu", "sigmoid", "tanh", "softplus", "elu", "selu", "gelu", "exponential", "silu", "softsign", "relu6",
    )},
    "swish": Activation("silu"),
    # registered by CREsted (package "crested"); genolift's own implementations of the published formulas
    "crested>gelu_enf": Activation("gelu_enf"),
    "crested>gelu_approx": Activation("gelu_tanh"),
    "leaky_relu": Activation("leaky_relu", {"negative_slope": 0.2}),
    "hard_sigmoid": Activation(
        "hard_sigmoid",
        tf_keras2="tf.keras 2 computes it as clip(0.2 x + 0.5, 0, 1) but Keras 3 reads the file as relu6(x + 3) / 6; "
                  "resave the model with Keras 3",
    ),
}

Converter = Callable[[dict, list, str, tuple, str], list]


@dataclass(frozen=True)
class Layer:
    """How a Keras layer class is read.

    Attributes
    ----------
    convert : ``convert(cfg, weights, out, inputs, layer)`` → nodes, the last
        one the layer's output (see ``model/layers.py``); None for inputs.
    ops : the operations the converter may produce.
    words : the rule as ``genolift info`` prints it; None: the words of the
        rules of ``ops``.
    activation : the layer applies ``cfg["activation"]`` (a row of
        :data:`ACTIVATIONS`) after what ``convert`` computes.
    """

    convert: Converter | None
    ops: tuple[str, ...]
    words: str | None = None
    activation: bool = False


def _one(op: str, factory: Callable[..., Converter], *args) -> Layer:
    """A layer that is one operation, converted by ``factory(op, *args)``."""
    return Layer(factory(op, *args), (op,))


#: Keras layer class → how it is read.
LAYERS: dict[str, Layer] = {
    "InputLayer": Layer(None, ("input",), "input"),
    "Conv1D": Layer(layers.conv1d, ("conv1d",), activation=True),
    "SeparableConv1D": Layer(layers.separable_conv1d, ("conv1d",), "linear (depthwise, then pointwise)",
                             activation=True),
    "UpSampling1D": _one("upsample1d", layers.simple, ("size",)),
    "Dense": Layer(layers.dense, ("dense",), activation=True),
    "BatchNormalization": Layer(layers.batchnorm, ("affine",), "linear (inference)"),
    "MaxPooling1D": _one("maxpool1d", layers.pool),
    "AveragePooling1D": _one("avgpool1d", layers.pool),
    "GlobalMaxPooling1D": _one("global_maxpool1d", layers.global_pool),
    "GlobalAveragePooling1D": _one("global_avgpool1d", layers.global_pool),
    "Flatten": Layer(layers.flatten, ("flatten",)),
    "Reshape": _one("reshape", layers.simple, ("target_shape",)),
    "Permute": _one("permute", layers.simple, ("dims",)),
    "Cropping1D": Layer(layers.cropping, ("crop1d",)),
    "ZeroPadding1D": Layer(layers.zero_padding, ("pad1d",)),
    "Add": Layer(layers.merge("add"), ("add", "reshape")),
    "Subtract": Layer(layers.merge("subtract"), ("subtract", "reshape")),
    "Average": Layer(layers.merge("average"), ("average", "reshape")),
    "Concatenate": _one("concatenate", layers.simple, ("axis",)),
    "Activation": Layer(layers.identity, ("identity",), activation=True),
    "ReLU": Layer(layers.relu_layer, ("relu", "leaky_relu")),
    "LeakyReLU": Layer(layers.leaky_relu_layer, ("leaky_relu",)),
    "ELU": Layer(layers.elu_layer, ("elu",)),
    "PReLU": Layer(layers.prelu, ("prelu",)),
    "Softmax": Layer(layers.softmax_layer, ("softmax",)),
    "Multiply": Layer(layers.multiply, ("multiply", "reshape")),
    "LayerNormalization": Layer(
        layers.layer_norm, ("center", "square", "reduce_mean", "rsqrt", "multiply", "affine"),
        "centre (linear), square/rsqrt (rescale), product (Shapley split)",
    ),
    **{name: Layer(layers.identity, ("identity",), "identity") for name in (
        "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    )},
    "LSTM": Layer(lambda *a: recurrent.lstm(*a, _step_activation), recurrent.LSTM_OPS, recurrent.WORDS),
    "GRU": Layer(lambda *a: recurrent.gru(*a, _step_activation), recurrent.GRU_OPS, recurrent.WORDS),
    "Bidirectional": Layer(lambda *a: recurrent.bidirectional(*a, _step_activation), recurrent.BIDIRECTIONAL_OPS,
                           recurrent.WORDS),
    "MultiHeadAttention": Layer(attention.keras_mha, attention.MHA_OPS, attention.WORDS),
    # registered by CREsted (package "crested"); genolift's own implementations of the published formulas
    "crested>MultiheadAttention": Layer(attention.crested_mha, attention.CRESTED_MHA_OPS, attention.WORDS),
    "crested>AttentionPool1D": Layer(attention.attention_pool, attention.POOL_OPS, attention.POOL_WORDS),
    "TimeDistributed": Layer(lambda *a: recurrent.time_distributed(*a, convert_layer), ("take", "stack"),
                             "the wrapped layer's, per time step"),
}

#: Keras 3 operation class (``keras.ops.*`` stored in a functional model) → how it is read.
OPERATIONS: dict[str, Layer] = {
    "Add": Layer(keras_ops.binary("add"), ("add", "scale_shift")),
    "Subtract": Layer(keras_ops.binary("subtract"), ("subtract", "scale_shift")),
    "Multiply": Layer(keras_ops.binary("multiply"), ("multiply", "scale_shift")),
    **{cls: Layer(keras_ops.binary("divide"), ("reciprocal", "multiply", "scale_shift"))
       for cls in ("Divide", "TrueDivide")},
    "Negative": Layer(keras_ops.negative, ("scale_shift",)),
    **{cls: _one(op, keras_ops.unary) for cls, op in (
        ("Exp", "exponential"), ("Log", "log"), ("Square", "square"), ("Sqrt", "sqrt"), ("Reciprocal", "reciprocal"),
        ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("Relu", "relu"), ("Softplus", "softplus"), ("Silu", "silu"),
    )},
    "Mean": _one("reduce_mean", keras_ops.reduce),
    "Sum": _one("reduce_sum", keras_ops.reduce),
    "Max": _one("reduce_max", keras_ops.reduce),
    "Min": _one("reduce_min", keras_ops.reduce),
    "Concatenate": Layer(keras_ops.concatenate, ("concatenate",)),
    "Reshape": Layer(keras_ops.reshape, ("reshape",)),
    "Transpose": Layer(keras_ops.transpose, ("permute",)),
    "ExpandDims": Layer(keras_ops.expand_dims, ("reshape",)),
    "Squeeze": Layer(keras_ops.squeeze, ("reshape",)),
    "Softmax": Layer(keras_ops.softmax, ("softmax",)),
}
#: Module prefix of Keras operation nodes in a ``.keras`` config.
OPERATION_MODULE = "keras.src.ops"
#: Classes refused with a reason of their own.
REFUSED = {
    "Masking": "masks change which time steps a recurrent layer sees; genolift refuses masked models",
}

#: Operations that replace a softmax inside the network (:func:`layers.expand_inner_softmax`).
INNER_SOFTMAX_OPS = ("exponential", "reduce_sum", "reciprocal", "multiply")
#: Operations that replace a known Lambda (ChromBPNet's log-count combiner), and their words.
LOGSUMEXP = Layer(None, ("exponential", "reduce_sum", "log"),
                  "genolift logsumexp: exp (rescale), sum (linear), log (rescale)")
#: Classes refused because reading them would mean running code from the file.
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")
#: Classes of (possibly nested) models; a nested model's layers are read like the outer ones.
MODEL_CLASSES = ("Functional", "Model", "Sequential")


def activation_name(value):
    """The name of an activation config value: a string, None, or for a serialised function its
    registered name (``crested>gelu_enf``); other serialised objects are returned as they are."""
    if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
        return value["config"]
    return value


def activation_problem(name, tf_keras2: bool = False) -> str | None:
    """Why activation ``name`` (a config value) cannot be read, in words, or None if it can.

    ``tf_keras2``: the file was saved by tf.keras 2 (see :attr:`Activation.tf_keras2`).
    """
    name = activation_name(name)
    if isinstance(name, dict):  # a serialised object, e.g. a custom class
        return f"activation {name.get('registered_name') or name.get('class_name')!r}: {CODE_WORDS[2]}"
    row = ACTIVATIONS.get(name) if name is None or isinstance(name, str) else None
    if row is None:
        return f"activation {name!r}: no genolift rule"
    if tf_keras2 and row.tf_keras2:
        return f"activation {name!r} in a tf.keras 2 file: {row.tf_keras2}"
    return None


def is_operation(entry: dict) -> bool:
    """Whether a config entry is a Keras operation node (``keras.ops.*``), not a layer.

    A ``.keras`` config says so by the module; a legacy ``.h5`` names no module, and
    an operation's config there has none of a layer's ``trainable`` and ``dtype``.
    """
    module = entry.get("module")
    if module:
        return module.startswith(OPERATION_MODULE)
    cfg = entry.get("config", {})
    return entry.get("class_name") in OPERATIONS and "trainable" not in cfg and "dtype" not in cfg


#: Words of the refusals that are about code (a Lambda, a custom layer or activation).
CODE_WORDS = ("Python code stored in the file", "custom layer, code outside Keras", "not a built-in activation")


def layer_key(entry: dict) -> str:
    """The :data:`LAYERS` key of a config entry: its registered ``package>Name`` where that has a row (the
    layers another library registers, read by genolift's own implementation), else its class."""
    cls = entry.get("class_name", "?")
    registered = entry.get("registered_name")
    if registered and registered != cls and registered in LAYERS:
        return registered
    return cls


def code_problem(entry: dict) -> str | None:
    """Why a config entry is refused as code outside Keras (a Lambda, a custom layer), or None."""
    cls = entry.get("class_name", "?")
    module, registered = entry.get("module"), entry.get("registered_name")
    if layer_key(entry) in LAYERS and ">" in layer_key(entry):
        return None
    if cls in CODE_CLASSES:
        return f"{cls}: {CODE_WORDS[0]}, never run"
    if (module and not module.startswith("keras")) or (registered and registered != cls) or ">" in cls:
        # a .keras config names the module; a legacy .h5 only the registered "package>Name"
        return f"{registered or cls}: {CODE_WORDS[1]}"
    return None


def _inner(cfg: dict) -> dict | None:
    """The config entry a wrapper layer (Bidirectional, TimeDistributed) wraps, or None."""
    inner = cfg.get("layer")
    return inner if isinstance(inner, dict) and "class_name" in inner else None


def layer_problem(entry: dict, tf_keras2: bool = False) -> str | None:
    """Why a layer's config entry cannot be read, in words, or None if it can.

    ``tf_keras2``: the file was saved by tf.keras 2 (see :attr:`Activation.tf_keras2`).
    A nested model gives None: its own layers are scanned.
    """
    cls = entry.get("class_name", "?")
    cfg = entry.get("config", {})
    if is_operation(entry):
        return None if cls in OPERATIONS else f"keras.ops {cls}: operation without a genolift rule"
    code = code_problem(entry)
    if code:
        return code
    cls = layer_key(entry)
    if cls in MODEL_CLASSES:
        return None
    if cls in REFUSED:
        return f"{cls}: {REFUSED[cls]}"
    if cls not in LAYERS:
        return f"{cls}: layer type without a genolift rule"
    inner = _inner(cfg)
    if inner is not None:
        problem = layer_problem(inner, tf_keras2)
        return f"{cls} of {problem}" if problem else None
    problem = activation_problem(cfg["activation"], tf_keras2) if "activation" in cfg else None
    if problem is None:
        problem = recurrent.problem(cls, cfg) or attention.problem(cls, cfg, entry)
    return f"{cls} with {problem}" if problem else None


def rule_words(entry: dict) -> str:
    """The DeepLIFT rule of a supported layer's config entry, as ``genolift info`` prints it."""
    if is_operation(entry):
        row = OPERATIONS[entry.get("class_name")]
        return "keras.ops: " + (row.words or ", ".join(dict.fromkeys(RULE_WORDS[OPS[op]] for op in row.ops)))
    row = LAYERS[layer_key(entry)]
    words = row.words or ", ".join(dict.fromkeys(RULE_WORDS[OPS[op]] for op in row.ops))
    name = activation_name(entry.get("config", {}).get("activation"))
    act = ACTIVATIONS[name] if row.activation else ACTIVATIONS[None]
    if act.op == "identity":
        return words
    act_words = "final only" if act.op == "softmax" else RULE_WORDS[OPS[act.op]]
    if row.ops == ("identity",):  # the Activation layer: the activation alone
        return RULE_WORDS[SOFTMAX] if act.op == "softmax" else f"{act_words} ({name})"
    return f"{words} + {act_words} ({name})"


def _step_activation(name, layer: str) -> tuple[str, dict]:
    """(op, params) of a recurrent layer's activation; it must be an elementwise one (or linear)."""
    problem = activation_problem(name)
    act = None if problem else ACTIVATIONS[activation_name(name)]
    if act is None or (act.op != "identity" and OPS[act.op] != RESCALE):
        raise UnsupportedLayerError(f"{layer}: recurrent activation {activation_name(name)!r} "
                                    f"({problem or 'not elementwise'})")
    return act.op, dict(act.params)


def _with_activation(nodes: list[Node], activation, out: str, layer: str) -> list[Node]:
    """``nodes`` followed by Keras activation ``activation``; the output keeps the id ``out``.

    An identity node followed by the activation becomes the activation alone.
    """
    problem = activation_problem(activation)
    if problem:
        raise UnsupportedLayerError(f"{layer}: {problem}")
    act = ACTIVATIONS[activation_name(activation)]
    if act.op == "identity":
        return nodes
    *body, last = nodes
    if last.op == "identity":
        return body + [Node(out, act.op, last.inputs, dict(act.params), (), layer)]
    pre = Node(f"{out}/preact", last.op, last.inputs, last.params, last.weights, last.layer)
    return body + [pre, Node(out, act.op, (pre.name,), dict(act.params), (), layer)]


def convert_layer(class_name: str, cfg: dict, weights: list, out: str, inputs: tuple, layer: str) -> list[Node]:
    """Nodes for one call of a Keras layer (the last one has the id ``out``).

    Parameters
    ----------
    class_name : the Keras class.
    cfg : the layer's ``get_config()``.
    weights : its ``get_weights()``, numpy arrays.
    out : the node id of the layer's output.
    inputs : node ids of its inputs.
    layer : the layer's name (prefixed by nested models').

    Raises
    ------
    UnsupportedLayerError : the class or its configuration has no genolift rule.
    """
    row = LAYERS.get(class_name)
    if row is None or row.convert is None:
        raise UnsupportedLayerError(f"{layer} ({class_name}) has no genolift rule")
    nodes = row.convert(cfg, weights, out, inputs, layer)
    return _with_activation(nodes, cfg.get("activation"), out, layer) if row.activation else nodes


def convert_operation(class_name: str, cfg: dict, out: str, inputs: tuple, layer: str) -> list[Node]:
    """Nodes for one Keras operation node (``keras.ops.*``); ``cfg`` holds ``call_args`` (see :mod:`.keras_ops`).

    Raises
    ------
    UnsupportedLayerError : the operation or its arguments have no genolift rule.
    """
    row = OPERATIONS.get(class_name)
    if row is None:
        raise UnsupportedLayerError(f"{layer} (keras.ops {class_name}) has no genolift rule")
    return row.convert(cfg, (), out, inputs, layer)
