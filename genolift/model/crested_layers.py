"""Keras stand-ins for the layers CREsted registers, so that Keras can parse a file that names them.

``crested>MultiheadAttention`` and ``crested>AttentionPool1D`` are genolift's
own implementations of the published formulas, with CREsted's config keys,
sublayers and weight order (so ``.keras`` and ``.h5`` weights load into them);
nothing from CREsted or from the file is imported or run.  The graph genolift
explains is built by :mod:`.attention` from the same weights; these classes
serve Keras's own forward pass (``genolift info``'s parity check).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .attention import COMBINE, SCORES, distances, position_features


def _relative_columns(length: int) -> np.ndarray:
    """Flat indices (T, T) into (T, 2T − 1) logits: row i, column j − i + T − 1."""
    rows, cols = np.meshgrid(np.arange(length), np.arange(length), indexing="ij")
    return rows * (2 * length - 1) + cols - rows + length - 1


@lru_cache(maxsize=1)
def standins() -> dict:
    """{registered name: Keras layer class} for ``keras.saving.load_model(custom_objects=…)``."""
    return {cls.registered: cls for cls in (_attention_class(), _pool_class())}


def _attention_class():
    import keras
    from keras import ops

    class MultiheadAttention(keras.layers.Layer):
        """Relative positional multi-head self-attention (Enformer / Borzoi), CREsted's config."""

        registered = "crested>MultiheadAttention"

        def __init__(self, value_size, key_size, heads, scaling=True, attention_dropout_rate=0.0,
                     relative_position_symmetric=False, relative_position_functions="borzoi",
                     relative_position_absolute=False, num_position_features=None, absolute_positions=False,
                     positional_dropout_rate=0.0, zero_initialize=True, initializer="he_normal", l2_scale=0.0,
                     **kwargs):
            super().__init__(**kwargs)
            self.settings = {k: v for k, v in locals().items()
                             if k not in ("self", "kwargs", "__class__", "absolute_positions")}
            self.absolute_positions = absolute_positions

        def build(self, input_shape):
            s = self.settings
            proj, embed = s["key_size"] * s["heads"], s["value_size"] * s["heads"]
            self._q_layer = keras.layers.Dense(proj, name="q_layer", use_bias=False)
            self._k_layer = keras.layers.Dense(proj, name="k_layer", use_bias=False)
            self._v_layer = keras.layers.Dense(embed, name="v_layer", use_bias=False)
            self._embedding_layer = keras.layers.Dense(embed, name="embedding_layer")
            self._r_k_layer = keras.layers.Dense(proj, use_bias=False, name="r_k_layer")
            shape = [1, s["heads"], 1, s["key_size"]]
            self._r_w_bias = self.add_weight(shape=shape, initializer="zeros", name="r_w_bias")
            self._r_r_bias = self.add_weight(shape=shape, initializer="zeros", name="r_r_bias")

        def call(self, inputs):
            s = self.settings
            T, H, K, V = inputs.shape[1], s["heads"], s["key_size"], s["value_size"]
            scale = K ** -0.5 if s["scaling"] else 1.0
            q = ops.reshape(self._q_layer(inputs), (-1, T, H, K)) * scale
            k = ops.reshape(self._k_layer(inputs), (-1, T, H, K))
            v = ops.reshape(self._v_layer(inputs), (-1, T, H, V))
            logits = ops.einsum(SCORES, q + ops.reshape(self._r_w_bias, (H, K)), k)
            if s["num_position_features"]:
                feats = position_features(
                    distances(T, self.absolute_positions), s["num_position_features"],
                    s["relative_position_functions"], T, s["relative_position_symmetric"],
                    s["relative_position_absolute"])
                keys = ops.reshape(self._r_k_layer(ops.convert_to_tensor(feats[None], "float32")), (-1, H, K))
                rel = ops.einsum("bihd,phd->bhip", q + ops.reshape(self._r_r_bias, (H, K)), keys)
                if not self.absolute_positions:
                    rel = ops.take(ops.reshape(rel, (-1, H, T * (2 * T - 1))), _relative_columns(T), axis=-1)
                logits = logits + rel
            mixed = ops.einsum(COMBINE, ops.softmax(logits, axis=-1), v)
            return self._embedding_layer(ops.reshape(mixed, (-1, T, H * V)))

        def get_config(self):
            return {**super().get_config(), **self.settings}

    return MultiheadAttention


def _pool_class():
    import keras
    from keras import ops

    class AttentionPool1D(keras.layers.Layer):
        """Softmax-weighted pooling over windows of ``pool_size``, CREsted's config."""

        registered = "crested>AttentionPool1D"

        def __init__(self, pool_size=2, per_channel=True, w_init_scale=2.0, strides=None, padding=None,
                     data_format=None, **kwargs):
            super().__init__(**kwargs)
            self.settings = dict(pool_size=pool_size, per_channel=per_channel, w_init_scale=w_init_scale,
                                 strides=pool_size, padding="valid", data_format="channels_last")

        def build(self, input_shape):
            channels = input_shape[-1]
            self.w = self.add_weight(shape=(channels, channels if self.settings["per_channel"] else 1),
                                     initializer="zeros", name="att_pool_weight")

        def call(self, inputs):
            p, (length, channels) = self.settings["pool_size"], inputs.shape[1:]
            windows = ops.reshape(inputs, (-1, length // p, p, channels))
            return ops.sum(windows * ops.softmax(ops.matmul(windows, self.w), axis=-2), axis=-2)

        def get_config(self):
            return {**super().get_config(), **self.settings}

    return AttentionPool1D


#: Prefix genolift gives the layers other libraries register (``crested>…``) so that Keras parses them as
#: genolift's stand-ins, whatever that library registered in this process.
_STANDIN_ALIAS = "genolift>"


def _standin_name(entry: dict) -> str | None:
    """The registered name of a config entry that genolift has a stand-in for, or None."""
    names = standins()
    for name in (entry.get("registered_name"), entry.get("class_name")):
        if isinstance(name, str) and name in names:
            return name
    return None


def registered_layers(config) -> dict:
    """{alias: stand-in class} for the registered layers anywhere in a config (nested models too)."""
    found = {}
    if isinstance(config, dict):
        name = _standin_name(config)
        if name:
            found[_STANDIN_ALIAS + name] = standins()[name]
        for value in config.values():
            found.update(registered_layers(value))
    elif isinstance(config, list):
        for value in config:
            found.update(registered_layers(value))
    return found


def alias_registered(config) -> None:
    """Rename, in place, registered layers to their stand-ins' aliases (:func:`registered_layers`)."""
    if isinstance(config, dict):
        name = _standin_name(config)
        if name:
            config["registered_name"] = _STANDIN_ALIAS + name
            if "module" in config:  # a .keras config: Keras reads the class through the registered name
                config["module"] = __name__
            if config.get("class_name") == name:  # a legacy .h5 names the class by its registered name
                config["class_name"] = _STANDIN_ALIAS + name
        for value in config.values():
            alias_registered(value)
    elif isinstance(config, list):
        for value in config:
            alias_registered(value)
