#!/usr/bin/env python
"""Build the three ChromBPNet model files with chrombpnet's own model code (trusted, offline step).

Makes, in test_data/ (small filter counts, random weights, no training):

* ``chrombpnet_bias.h5``    the bias model (chrombpnet.training.models.bpnet_model)
* ``chrombpnet.h5``         the full model (chrombpnet_with_bias_model): the bias model and the
                            accessibility model nested as layers, an Add of their profile logits,
                            a Concatenate of their log-counts and the Lambda ``logcount_predictions``
                            (reduce_logsumexp), exactly as chrombpnet's training code writes it
* ``chrombpnet_nobias.h5``  the accessibility model alone (chrombpnet's save_model_without_bias)
* ``chrombpnet_predictions.npz``  X (6, 400, 4) one-hot and the Keras predictions of the full model
                            (``profile``, ``counts``; the Lambda executed by tf.keras here) and of
                            the no-bias model (``nobias_profile``, ``nobias_counts``)

Needs the Keras 2 API and chrombpnet's code, without its pinned dependencies:

    pip install tf-keras && pip install --no-deps chrombpnet==1.0.1
    python scripts/make_chrombpnet_fixtures.py

chrombpnet's loss module imports tensorflow_probability, which is only used when training;
it is replaced by an empty stand-in here.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tensorflow.keras -> tf_keras (Keras 2), before TensorFlow loads
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INPUT_LEN, OUTPUT_LEN, FILTERS = 400, 200, 8


def _stub_probability() -> None:
    stub = types.ModuleType("tensorflow_probability")
    stub.distributions = types.SimpleNamespace()
    sys.modules.setdefault("tensorflow_probability", stub)


def _params(n_dil: int, bias_path: str | None = None) -> dict:
    params = {"filters": FILTERS, "n_dil_layers": n_dil, "counts_loss_weight": 1.0, "inputlen": INPUT_LEN,
              "outputlen": OUTPUT_LEN}
    if bias_path:
        params["bias_model_path"] = bias_path
    return params


def build(out: Path, seed: int = 1234) -> None:
    _stub_probability()
    import tensorflow as tf
    from chrombpnet.training.models import bpnet_model, chrombpnet_with_bias_model

    tf.keras.utils.set_random_seed(seed)
    args = types.SimpleNamespace(seed=seed, learning_rate=1e-3)
    bias = bpnet_model.getModelGivenModelOptionsAndWeightInits(args, _params(2))
    bias_path = out / "chrombpnet_bias.h5"
    bias.save(bias_path, save_format="h5")
    full = chrombpnet_with_bias_model.getModelGivenModelOptionsAndWeightInits(args, _params(3, str(bias_path)))
    _randomise_biases(full, seed)
    full.save(out / "chrombpnet.h5", save_format="h5")
    chrombpnet_with_bias_model.save_model_without_bias(full, str(out / "chrombpnet"))  # -> chrombpnet_nobias.h5
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, INPUT_LEN))]
    profile, counts = full.predict(X, verbose=0)
    nobias = tf.keras.models.load_model(out / "chrombpnet_nobias.h5", compile=False)
    nb_profile, nb_counts = nobias.predict(X, verbose=0)
    np.savez(out / "chrombpnet_predictions.npz", X=X, profile=profile, counts=counts,
             nobias_profile=nb_profile, nobias_counts=nb_counts)
    print("written:", *(f"{p.name} ({p.stat().st_size:,} bytes)" for p in sorted(out.glob("chrombpnet*"))), sep="\n  ")


def _randomise_biases(model, seed: int) -> None:
    """Give every bias small random values (fresh layers start at zero), nested models included."""
    rng = np.random.default_rng(seed + 1)
    layers = [layer for m in [model] for layer in m.layers]
    layers += [inner for layer in layers if hasattr(layer, "layers") for inner in layer.layers]
    for layer in layers:
        weights = layer.get_weights()
        if len(weights) == 2 and weights[1].ndim == 1:
            weights[1] = rng.uniform(-0.05, 0.05, weights[1].shape).astype(np.float32)
            layer.set_weights(weights)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "test_data")
    build(parser.parse_args().out)
