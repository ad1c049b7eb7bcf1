"""Small Keras models that together use every layer genolift supports."""

from __future__ import annotations

import keras
from keras import layers


def basset_like(L: int = 24) -> keras.Model:
    """Sequential CNN: same/valid/dilated conv, BN, overlapping max pool, avg pool, softmax."""
    return keras.Sequential([
        keras.Input((L, 4)),
        layers.Conv1D(6, 5, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling1D(3, strides=1),
        layers.Conv1D(5, 3, dilation_rate=2, activation="elu"),
        layers.AveragePooling1D(2),
        layers.Flatten(),
        layers.Dense(8, activation="tanh"),
        layers.Dropout(0.3),
        layers.Dense(3, activation="softmax"),
    ])


def basset_tiled(L: int = 26) -> keras.Model:
    """Basset's pattern: conv, batch norm, ReLU, then max pools whose windows tile their input
    (one leaving a tail of unpooled positions), and a tanh before a tiling pool."""
    return keras.Sequential([
        keras.Input((L, 4)),
        layers.Conv1D(6, 5, padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling1D(3),
        layers.Conv1D(5, 3, padding="same", activation="tanh"),
        layers.MaxPooling1D(2, padding="same"),
        layers.Flatten(),
        layers.Dense(3),
    ])


def overlapping_pools(L: int = 26) -> keras.Model:
    """The 200-bp CNN's pattern: ReLU then a max pool of 4 with stride 2, tanh then a pool of 3 with stride 1
    (windows overlapping by whole strides, each fused with its nonlinearity), a tail of unpooled positions."""
    return keras.Sequential([
        keras.Input((L, 4)),
        layers.Conv1D(6, 5, padding="same"),
        layers.Activation("relu"),
        layers.MaxPooling1D(4, strides=2),
        layers.Conv1D(5, 3, activation="tanh"),
        layers.MaxPooling1D(3, strides=1),
        layers.Flatten(),
        layers.Dense(3),
    ])


def pooling_mix(L: int = 24) -> keras.Model:
    """Causal and strided convs, same-padded max pool, global max pool, fused activations."""
    inp = keras.Input((L, 4))
    h = layers.Conv1D(6, 4, padding="causal", activation="sigmoid")(inp)
    h = layers.MaxPooling1D(2, padding="same")(h)
    h = layers.Conv1D(6, 3, strides=2, activation="softplus")(h)
    h = layers.GlobalMaxPooling1D()(h)
    h = layers.Dense(4, activation="selu")(h)
    out = layers.Dense(2, name="head")(h)
    return keras.Model(inp, out)


def residual(L: int = 24) -> keras.Model:
    """Functional model with merges, crops, paddings, reshapes and activation layers."""
    inp = keras.Input((L, 4), name="dna")
    a = layers.Conv1D(6, 3, padding="same", name="c1")(inp)
    a = layers.Activation("gelu")(a)
    b = layers.Conv1D(6, 3, dilation_rate=2, padding="valid", name="c2")(a)
    b = layers.LeakyReLU(negative_slope=0.1)(b)
    a_crop = layers.Cropping1D((2, 2))(a)
    s = layers.Add()([a_crop, b])
    d = layers.Subtract()([s, b])
    m = layers.Average()([s, d])
    m = layers.ReLU()(m)
    p = layers.ZeroPadding1D((1, 1))(m)
    c = layers.Concatenate(axis=-1)([layers.Cropping1D((1, 1))(p), m])
    c = layers.Activation("swish")(c)
    r = layers.Reshape((L - 4, 12, 1))(c)
    r = layers.Reshape((12, L - 4))(layers.Permute((2, 1, 3))(r))
    r = layers.Permute((2, 1))(r)
    g = layers.GlobalAveragePooling1D()(r)
    g = layers.Dense(5, activation="exponential")(g)
    h = layers.Dense(3)(g)
    h = layers.Activation("softsign")(h)
    out = layers.Dense(2, activation="sigmoid", name="out")(h)
    return keras.Model(inp, out)


def bpnet_like(L: int = 40) -> keras.Model:
    """Dilated residual tower with crops and adds, a two-strand profile head and a counts head."""
    inp = keras.Input((L, 4), name="sequence")
    x = layers.Conv1D(6, 5, activation="relu", name="stem")(inp)
    for i in (1, 2):
        c = layers.Conv1D(6, 3, dilation_rate=2 ** i, activation="relu", name=f"dil{i}")(x)
        x = layers.Add(name=f"add{i}")([layers.Cropping1D(2 ** i)(x), c])
    profile = layers.Conv1D(2, 7, name="profile")(x)
    counts = layers.Dense(2, name="counts")(layers.GlobalAveragePooling1D()(x))
    return keras.Model(inp, [profile, counts])


def hand_relu(L: int = 4) -> keras.Model:
    """y = 2·relu(x1) + 2·relu(x2 − 1.5), x1 = X[0, 0], x2 = X[0, 1]."""
    import numpy as np

    model = keras.Sequential([
        keras.Input((L, 4)), layers.Flatten(),
        layers.Dense(2, activation="relu", name="hidden"), layers.Dense(1, name="y"),
    ])
    w1 = np.zeros((L * 4, 2), "float32")
    w1[0, 0] = 1.0
    w1[1, 1] = 1.0
    model.get_layer("hidden").set_weights([w1, np.array([0.0, -1.5], "float32")])
    model.get_layer("y").set_weights([np.array([[2.0], [2.0]], "float32"), np.zeros(1, "float32")])
    return model


def mixers(L: int = 24) -> keras.Model:
    """Products of changing inputs, layer normalisation, PReLU and a softmax inside the network."""
    inp = keras.Input((L, 4))
    a = layers.Conv1D(6, 3, padding="same", name="ca")(inp)
    b = layers.Conv1D(6, 3, padding="same", activation="tanh", name="cb")(inp)
    m = layers.Multiply()([a, b])
    m = layers.LayerNormalization()(m)
    p = layers.PReLU()(layers.Conv1D(4, 3, padding="valid", groups=2)(m))
    gate = layers.Softmax(axis=1)(layers.Conv1D(4, 1)(p))   # attention-like weights over positions
    g = layers.Multiply()([p, gate, layers.Conv1D(4, 1, activation="sigmoid")(p)])
    h = layers.GlobalAveragePooling1D()(g)
    h = layers.LayerNormalization(center=False)(layers.Dense(5)(h))
    out = layers.Dense(3, activation="softmax")(h)
    return keras.Model(inp, out)


def odds_and_ends(L: int = 24) -> keras.Model:
    """The rest of the support table: hard sigmoid (fused and as a layer), relu6, silu and leaky_relu by name,
    ELU and leaky ReLU layers, and every layer that is the identity at inference time."""
    inp = keras.Input((L, 4))
    h = layers.Conv1D(6, 3, padding="same", activation="hard_sigmoid")(inp)
    h = layers.GaussianNoise(0.1)(layers.SpatialDropout1D(0.2)(h))
    h = layers.ELU()(layers.Conv1D(6, 3, activation="relu6")(h))
    h = layers.Activation("hard_sigmoid")(layers.GaussianDropout(0.1)(h))
    h = layers.ActivityRegularization(l1=0.01)(layers.AlphaDropout(0.1)(h))
    h = layers.ReLU(negative_slope=0.1)(layers.Conv1D(5, 3, activation="silu")(h))
    h = layers.Activation("leaky_relu")(layers.Conv1D(4, 1, activation="linear")(h))
    out = layers.Dense(3, name="out")(layers.Flatten()(h))
    return keras.Model(inp, out)


def recurrent_mix(L: int = 12) -> keras.Model:
    """Conv, pool, TimeDistributed Dense, a bidirectional GRU summed, an LSTM: the recurrent rows, few steps."""
    inp = keras.Input((L, 4))
    h = layers.Conv1D(3, 3, activation="relu")(inp)
    h = layers.MaxPooling1D(2)(h)
    h = layers.TimeDistributed(layers.Dense(3, activation="tanh"))(h)
    h = layers.Bidirectional(layers.GRU(2, return_sequences=True), merge_mode="sum")(h)
    h = layers.LSTM(2)(h)
    return keras.Model(inp, layers.Dense(2)(h))


def attention_mix(L: int = 16) -> keras.Model:
    """Keras MultiHeadAttention (self-attention, and query/value/key from three tensors), UpSampling1D and a
    SeparableConv1D with a depth multiplier."""
    inp = keras.Input((L, 4))
    h = layers.Conv1D(4, 3, padding="same", activation="relu")(inp)
    side = layers.Conv1D(3, 1)(inp)
    a = layers.MultiHeadAttention(2, 3, value_dim=2, name="self_attention")(h, h)
    b = layers.MultiHeadAttention(2, 2, output_shape=3, use_bias=False, name="cross_attention")(a, side, key=h)
    b = layers.UpSampling1D(2)(layers.MaxPooling1D(2)(b))
    b = layers.SeparableConv1D(3, 3, padding="same", depth_multiplier=2, activation="tanh")(b)
    return keras.Model(inp, layers.Dense(2, name="out")(layers.Flatten()(b)))


ZOO = {"basset_like": basset_like, "basset_tiled": basset_tiled, "overlapping_pools": overlapping_pools,
       "pooling_mix": pooling_mix, "residual": residual,
       "mixers": mixers, "odds_and_ends": odds_and_ends, "recurrent_mix": recurrent_mix,
       "attention_mix": attention_mix}


#: Zoo models whose every case runs in the slow tier: recurrent steps and attention take seconds a case, and
#: test_recurrent.py and test_attention.py check those layers in the fast tier.
SLOW_MODELS = frozenset({"recurrent_mix", "attention_mix"})


def cases(*axes: list, fast_models=None) -> list:
    """pytest params of every zoo model × the product of ``axes`` (lists of values; a tuple
    value gives several arguments).

    The fast tier (``pytest -m "not slow"``) runs one case of each of ``fast_models`` (default: every model
    outside :data:`SLOW_MODELS`), the cases rotating through the product of the axes so that together they
    hold every value of every axis where there are models enough; every other case is marked ``slow``.  Ids
    read ``model-value-value``.
    """
    import itertools

    import pytest

    combos = list(itertools.product(*axes))
    fast_models = [n for n in sorted(ZOO) if n not in SLOW_MODELS] if fast_models is None else fast_models
    params = []
    for name in sorted(ZOO):
        fast = combos[fast_models.index(name) % len(combos)] if name in fast_models else None
        for combo in combos:
            marks = [] if combo == fast else [pytest.mark.slow]
            values = [v for value in combo for v in (value if isinstance(value, tuple) else (value,))]
            params.append(pytest.param(name, *values, id="-".join([name, *map(str, values)]), marks=marks))
    return params
