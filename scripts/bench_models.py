"""The benchmark models: random-weight Keras models of the usual sizes, and the example CNN.

``basset``        Basset-like CNN, L = 1000: 300/200/200 filters (widths 19/11/7), two 1000-unit dense layers,
                  164 sigmoid outputs
``basset-small``  the same layout with 96/64/64 filters and one 128-unit dense layer
``bpnet``         BPNet-like dilated residual model (64 filters, 8 dilated layers, counts and profile heads),
                  L = 2114 with 'valid' convolutions, or 'same' ones below (``--length 1000``)
``chrombpnet``    the BPNet layout at ChromBPNet's size: 512 filters, L = 2114
``cnn200``        the example model (test_data/example_model.h5), a 200-bp CNN
``danq``          DanQ at its published size: L = 1000, Conv1D 320×26, max pool 13, BiLSTM 320 (75 steps),
                  Dense 925, 919 sigmoid outputs
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("basset", "basset-small", "bpnet", "chrombpnet", "cnn200", "danq")


def _basset(L: int, widths: tuple, dense: tuple):
    import keras
    from keras import layers

    inp = keras.Input((L, 4))
    x = inp
    for filters, width, pool in zip(widths, (19, 11, 7), (3, 4, 4)):
        x = layers.Conv1D(filters, width, padding="same")(x)
        x = layers.MaxPooling1D(pool)(layers.Activation("relu")(layers.BatchNormalization()(x)))
    x = layers.Flatten()(x)
    for units in dense:
        x = layers.Dense(units, activation="relu")(x)
    return keras.Model(inp, layers.Dense(164, activation="sigmoid")(x))


def _bpnet(L: int, filters: int = 64):
    import keras
    from keras import layers

    padding = "valid" if L >= 2114 else "same"
    inp = keras.Input((L, 4))
    x = layers.Conv1D(filters, 21, activation="relu", padding=padding)(inp)
    for i in range(1, 9):
        c = layers.Conv1D(filters, 3, dilation_rate=2 ** i, activation="relu", padding=padding)(x)
        x = layers.Add()([layers.Cropping1D(2 ** i)(x) if padding == "valid" else x, c])
    profile = layers.Flatten()(layers.Conv1D(1, 75, padding=padding)(x))
    counts = layers.Dense(1)(layers.GlobalAveragePooling1D()(x))
    return keras.Model(inp, [counts, profile])  # counts first: the default output to explain


def _danq(L: int):
    import keras
    from keras import layers

    inp = keras.Input((L, 4))
    x = layers.MaxPooling1D(13, strides=13)(layers.Conv1D(320, 26, activation="relu")(inp))
    x = layers.Bidirectional(layers.LSTM(320, return_sequences=True))(layers.Dropout(0.2)(x))
    x = layers.Dense(925, activation="relu")(layers.Flatten()(layers.Dropout(0.5)(x)))
    return keras.Model(inp, layers.Dense(919, activation="sigmoid")(x))


def _randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        scale = np.sqrt(2.0 / max(1, int(np.prod(w.shape[:-1]))))
        value = rng.normal(size=w.shape) * scale if len(w.shape) > 1 else np.zeros(w.shape)
        if "variance" in w.path or "gamma" in w.path:
            value = np.ones(w.shape)
        w.assign(value.astype("float32"))


def bench_model(name: str, length: int | None, folder: Path) -> str:
    """The path of benchmark model ``name`` (a file path is returned as it is), saved in ``folder``."""
    if name not in NAMES:
        return name
    if name == "cnn200":
        return str(ROOT / "test_data" / "example_model.h5")
    if name == "bpnet":
        model = _bpnet(length or 2114)
    elif name == "chrombpnet":
        model = _bpnet(length or 2114, filters=512)
    elif name == "danq":
        model = _danq(length or 1000)
    elif name == "basset":
        model = _basset(length or 1000, (300, 200, 200), (1000, 1000))
    else:
        model = _basset(length or 1000, (96, 64, 64), (128,))
    _randomize(model)
    path = folder / f"{name}-{length or 'default'}.keras"
    model.save(path)
    return str(path)
