"""Build the CREsted zoo and DanQ-style fixtures in test_data/ (needs the ``fixtures`` extra: crested).

Every architecture of ``crested.tl.zoo`` (CREsted 1.11) is built by CREsted's own
function at small widths and short inputs, with random weights (seed 0), and saved
as ``crested_NAME.keras`` and ``crested_NAME.h5``; a DanQ-style model (conv, max
pool, bidirectional LSTM, dense) is built with Keras alone and saved as
``danq.keras`` / ``danq.h5``.  Keras's predictions on a few fixed one-hot sequences
go to ``crested_predictions.npz`` (key ``X_L`` for the inputs of length L, key
NAME for the predictions).

The zoo's ``enformer`` needs at least 384 filters (tower widths are multiples of 128 and
the positional features per head a multiple of 6): some 1.6 M parameters, too large to
commit; ``tests/test_attention.py`` builds it when CREsted is installed.  The committed
``crested_enformer_blocks`` is Enformer's body assembled from CREsted's own blocks
(``conv_block_bs``, ``mha_block_enf``, ``ffn_block_enf``) at tiny widths.

Run: ``python scripts/make_crested_fixtures.py [OUTDIR [NAME ...]]`` (names: only those
fixtures, their predictions updated in the existing ``crested_predictions.npz``).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np


def _zoo():
    # crested.tl imports its modisco tools, which import scanpy; the zoo needs neither
    sys.modules.setdefault("scanpy", types.ModuleType("scanpy"))
    from crested.tl import zoo

    return zoo


def architectures() -> dict:
    """name → (builder, input length); small widths, random weights."""
    zoo = _zoo()
    return {
        "simple_convnet": (lambda L: zoo.simple_convnet(
            L, 3, num_conv_blocks=2, first_filters=8, filters=8, first_kernel_size=7, kernel_size=3,
            first_pool_size=4, dense_size=8, bottleneck=4), 128),
        "simple_convnet_gelu_approx": (lambda L: zoo.simple_convnet(
            L, 2, num_conv_blocks=2, activation="gelu_approx", first_filters=8, filters=8, first_kernel_size=7,
            kernel_size=3, first_pool_size=4, dense_size=8, bottleneck=4), 128),
        "deeptopic_cnn": (lambda L: zoo.deeptopic_cnn(L, 3, filters=16, first_kernel_size=7, dense_out=8), 128),
        "deeptopic_lstm": (lambda L: zoo.deeptopic_lstm(
            L, 3, filters=8, first_kernel_size=9, max_pool_size=10, max_pool_stride=5, dense_out=8, lstm_out=6), 128),
        "dilated_cnn": (lambda L: zoo.dilated_cnn(
            L, 3, first_conv_filters=8, n_dil_layers=3, num_filters=8), 128),
        "dilated_cnn_decoupled": (lambda L: zoo.dilated_cnn_decoupled(
            L, 3, first_conv_filters=8, n_dil_layers=3, num_filters=8), 128),
        "basenji": (lambda L: zoo.basenji(L, 3, first_filters=8, filters=16, first_kernel_size=7), 256),
        "legnet": (lambda L: zoo.legnet(
            L, 3, stem_filters=8, tower_filters=(8, 12), pool_sizes=(2, 2), resize_factor=2), 128),
        "enformer": (lambda L: zoo.enformer(
            L, 3, num_conv_blocks=2, num_transformer_blocks=1, num_transformer_heads=2, target_length=160,
            start_filters=128, filters=384, pointwise_filters=16, first_kernel_size=7, kernel_size=3), 1536),
        "borzoi": (lambda L: zoo.borzoi(
            L, 3, num_conv_blocks=2, num_transformer_blocks=1, num_transformer_heads=2, target_length=640,
            start_filters=32, filters=32, pointwise_filters=16, unet_connections=[1, 2], unet_filters=32,
            first_kernel_size=7, kernel_size=3), 1536),
    }


#: Zoo builds not saved as fixtures (none: the smallest zoo enformer, 6.5 MB a file, is committed too).
NOT_SAVED = ()


def enformer_blocks(L: int = 512, filters: int = 16, heads: int = 2):
    """Enformer's body from CREsted's own blocks at tiny widths: stem, attention-pooled conv tower,
    one transformer block (relative positional attention, Enformer's bases), crop, pointwise, softplus head."""
    import keras

    _zoo()
    from crested.tl.zoo.utils import activate, conv_block_bs, ffn_block_enf, mha_block_enf

    common = dict(batch_norm=True, activation="gelu_enf", bn_momentum=0.9, bn_epsilon=1e-5, pool_type="attention")
    inp = keras.Input((L, 4), name="input")
    h = keras.layers.Conv1D(filters // 2, 7, padding="same", name="stem_conv")(inp)
    h = conv_block_bs(h, filters=filters // 2, kernel_size=1, pool_size=2, residual=True, name_prefix="stem_pointwise",
                      **common)
    for i, width in enumerate((filters // 2, filters), start=1):
        h = conv_block_bs(h, filters=width, kernel_size=3, name_prefix=f"tower_conv_{i}", **common)
        h = conv_block_bs(h, filters=width, kernel_size=1, pool_size=2, residual=True,
                          name_prefix=f"tower_pointwise_{i}", **common)
    h = mha_block_enf(h, num_heads=heads, key_query_dim=4, value_dim=filters // heads, pos_encoding_funs="enformer",
                      num_pos_feats=12, zero_init=False, name_prefix="transformer_mha_1")
    h = ffn_block_enf(h, filters=filters, name_prefix="transformer_ff_1")
    h = keras.layers.Cropping1D(8, name="crop")(h)
    h = conv_block_bs(h, filters=8, kernel_size=1, name_prefix="final_pointwise", **common)
    h = activate(h, "gelu_enf", name="final_activation")
    out = keras.layers.Conv1D(3, 1, activation="softplus", name="head")(h)
    return keras.Model(inp, out, name="enformer_blocks")


def danq(L: int = 200):
    """DanQ's pattern, small: conv, ReLU, max pool, bidirectional LSTM (sequences), dense, sigmoid heads."""
    import keras
    from keras import layers

    inp = keras.Input((L, 4), name="dna")
    h = layers.Conv1D(8, 13, activation="relu")(inp)
    h = layers.MaxPooling1D(13, strides=13)(h)
    h = layers.Dropout(0.2)(h)
    h = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(h)
    h = layers.Flatten()(h)
    h = layers.Dense(8, activation="relu")(h)
    out = layers.Dense(3, activation="sigmoid", name="head")(h)
    return keras.Model(inp, out, name="danq")


def _randomise(model, rng) -> None:
    """Random weights of a moderate scale (zero-initialised layers included); positive variances."""
    weights = []
    for w in model.weights:
        shape, name = tuple(w.shape), w.path
        if "moving_variance" in name:
            weights.append(rng.uniform(0.5, 1.5, shape))
        else:
            fan = shape[-2] if len(shape) >= 2 else max(shape[-1] if shape else 1, 1)
            weights.append(rng.normal(0, 1 / np.sqrt(max(fan, 1)), shape) if len(shape) >= 2
                           else rng.normal(0, 0.2, shape))
    model.set_weights([w.astype(np.float32) for w in weights])


def main(outdir: str = "test_data", *names: str) -> None:
    """Build, randomise (one seeded stream, in a fixed order) and save the fixtures; ``names``: save only
    those (every model is still randomised, so each file is the same as in a full run)."""
    import keras

    keras.utils.set_random_seed(0)
    out = Path(outdir)
    rng = np.random.default_rng(0)
    builds = {name: (build(L), L) for name, (build, L) in architectures().items()}
    builds["danq"] = (danq(), 200)
    builds["enformer_blocks"] = (enformer_blocks(), 512)
    _drawn.clear()
    preds = dict(np.load(out / "crested_predictions.npz")) if names else {}
    for name, (model, L) in builds.items():
        _randomise(model, rng)
        key = f"X_{L}"
        if key not in _drawn:  # at its first use in the stream, as a full run draws it
            preds[key] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, L))]
            _drawn.add(key)
        if name in NOT_SAVED or (names and name not in names):
            continue
        stem = name if name == "danq" else f"crested_{name}"
        model.save(out / f"{stem}.keras")
        model.save(out / f"{stem}.h5")
        preds[name] = np.asarray(model.predict(preds[key], verbose=0), np.float32)
        print(f"{stem}: {model.count_params()} parameters, output {preds[name].shape}")
    np.savez_compressed(out / "crested_predictions.npz", **preds)


#: Input keys drawn in this run (a partial run draws them as a full run does).
_drawn: set = set()


if __name__ == "__main__":
    main(*sys.argv[1:])
