#!/usr/bin/env python
"""Generate two multi-output, random-weight model fixtures in ``test_data/``.

Run from the repository root::

    python scripts/make_model_fixtures.py            # writes into test_data/
    python scripts/make_model_fixtures.py --out DIR  # writes into DIR

Deterministic (fixed seeds, weights drawn with numpy), CPU only, a few seconds.
Needs numpy, h5py, tensorflow (with its bundled Keras 3) and, for the Keras-2
HDF5 files, the ``tf_keras`` package.

Why
---
``example_model`` (see ``make_test_data.py``) is a single-output classifier.
Genomics models are often shaped differently: a dilated residual trunk with
``valid`` convolutions and ``Cropping1D`` + ``Add`` skips, and two heads, a
per-position profile (logits) and a scalar total count.  These fixtures have
that shape so attribution code can be tested on several outputs, on
residual adds and on outputs shorter than the input.  The weights are random
(Glorot-uniform kernels, small random biases; no training), which keeps
activations O(1) but means the attributions carry no biology.

What it makes
-------------
bpnet_like.keras, bpnet_like_keras3.h5, bpnet_like.h5
    Input ``sequence`` (400, 4).  ``stem`` Conv1D(16, 25, relu) -> 376;
    four residual blocks i = 1..4: ``dil{i}`` Conv1D(16, 3, dilation 2**i,
    relu) on the block input, ``crop{i}`` Cropping1D(2**i) of the block
    input, ``add{i}`` Add -> 316.  Outputs, in order: ``profile`` (242, 2)
    logits for two strands (``profile_conv`` Conv1D(2, 75) followed by a linear
    Activation named ``profile``) and ``counts`` (2,) log counts per strand
    (``gap`` GlobalAveragePooling1D -> Dense(2)).
chrombpnet_like.keras, chrombpnet_like_keras3.h5, chrombpnet_like.h5
    Input ``sequence`` (360, 4).  ``stem`` Conv1D(16, 21, relu) -> 340; three
    residual blocks i = 1..3 as above -> 312.  Outputs, in order:
    ``logits_profile_predictions`` (238,) (``profile_conv`` Conv1D(1, 75) ->
    Flatten) and ``logcount_predictions`` (1,) (``gap`` -> Dense(1)).
NAME_predictions.npz
    ``X`` (6, L, 4) float32 random one-hot sequences, ``profile`` and
    ``counts`` = the Keras 3 model's predictions (float32) for the first and
    second output.

Each model is saved uncompiled three ways: Keras 3 native format, Keras 3
writing legacy HDF5, and tf.keras 2 (``tf_keras``, in a subprocess that
rebuilds the same architecture and sets the same weights by layer name)
writing a genuine Keras-2 HDF5 file (root attribute keras_version 2.x).  The
script checks that Keras 3 loads all three in safe mode with the expected
output names and shapes and reproduces the stored predictions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

BASE_SEED = 20250314
N_EXAMPLES = 6
TOLERANCE = 1e-5          # max |diff| <= TOLERANCE * max(1, max |reference|)
MAX_FILE_BYTES = 1_000_000

# name -> architecture parameters (see the module docstring)
SPECS = {
    "bpnet_like": dict(length=400, filters=16, stem_width=25, n_blocks=4,
                       profile_width=75, n_tracks=2, flatten_profile=False,
                       profile_name="profile", counts_name="counts"),
    "chrombpnet_like": dict(length=360, filters=16, stem_width=21, n_blocks=3,
                            profile_width=75, n_tracks=1, flatten_profile=True,
                            profile_name="logits_profile_predictions",
                            counts_name="logcount_predictions"),
}


def rng_for(name: str) -> np.random.Generator:
    """An independent, named random stream (changing one part leaves the others)."""
    return np.random.default_rng([BASE_SEED, zlib.crc32(name.encode())])


# ----------------------------------------------------------------------------
# architecture (Keras 3 or tf.keras 2)
# ----------------------------------------------------------------------------

def trunk_length(spec: dict) -> int:
    """Sequence length after the stem and the residual blocks."""
    n = spec["length"] - spec["stem_width"] + 1
    return n - 2 * sum(2 ** i for i in range(1, spec["n_blocks"] + 1))


def output_shapes(spec: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per-example shapes of the profile and counts outputs."""
    n = trunk_length(spec) - spec["profile_width"] + 1
    profile = (n,) if spec["flatten_profile"] else (n, spec["n_tracks"])
    return profile, (spec["n_tracks"],)


def build_model(keras, name: str):
    """Model ``name`` of SPECS; works with Keras 3 (``keras``) and tf.keras 2 (``tf_keras``).

    Every layer is named explicitly so weights can be passed by layer name.
    """
    spec, L = SPECS[name], keras.layers
    inp = keras.Input(shape=(spec["length"], 4), name="sequence")
    x = L.Conv1D(spec["filters"], spec["stem_width"], padding="valid",
                 activation="relu", name="stem")(inp)
    for i in range(1, spec["n_blocks"] + 1):
        c = L.Conv1D(spec["filters"], 3, padding="valid", dilation_rate=2 ** i,
                     activation="relu", name=f"dil{i}")(x)
        cropped = L.Cropping1D(2 ** i, name=f"crop{i}")(x)
        x = L.Add(name=f"add{i}")([cropped, c])
    p = L.Conv1D(spec["n_tracks"], spec["profile_width"], padding="valid",
                 name="profile_conv")(x)
    if spec["flatten_profile"]:
        profile = L.Flatten(name=spec["profile_name"])(p)
    else:
        profile = L.Activation("linear", name=spec["profile_name"])(p)
    g = L.GlobalAveragePooling1D(name="gap")(x)
    counts = L.Dense(spec["n_tracks"], name=spec["counts_name"])(g)
    return keras.Model(inp, [profile, counts], name=name)


# ----------------------------------------------------------------------------
# weights and inputs
# ----------------------------------------------------------------------------

def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Glorot-uniform kernel (fans as Keras computes them for Dense and Conv1D)."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def random_weights(model, name: str) -> dict[str, list[np.ndarray]]:
    """Layer name -> [kernel, bias]: Glorot kernels, biases uniform in [-0.05, 0.05]."""
    weights = {}
    for layer in model.layers:
        current = layer.get_weights()
        if not current:
            continue
        rng = rng_for(f"{name}/{layer.name}")
        kernel, bias = current
        weights[layer.name] = [glorot_uniform(rng, kernel.shape),
                               rng.uniform(-0.05, 0.05, size=bias.shape).astype(np.float32)]
    return weights


def set_weights_by_name(model, weights: dict[str, list[np.ndarray]]) -> None:
    """Set every weighted layer's weights; fail if a layer is missing or extra."""
    weighted = {l.name for l in model.layers if l.get_weights()}
    if weighted != set(weights):
        sys.exit(f"error: weighted layers {sorted(weighted)} != {sorted(weights)}")
    for layer_name, w in weights.items():
        model.get_layer(layer_name).set_weights(w)


def random_one_hot(name: str, length: int) -> np.ndarray:
    """(N_EXAMPLES, length, 4) float32 one-hot of uniform random bases."""
    idx = rng_for(f"{name}/X").integers(0, 4, size=(N_EXAMPLES, length))
    return np.eye(4, dtype=np.float32)[idx]


def as_list(pred) -> list[np.ndarray]:
    return list(pred) if isinstance(pred, (list, tuple)) else [pred]


def max_rel_diff(pred: list[np.ndarray], ref: list[np.ndarray]) -> float:
    """Largest |pred - ref| / max(1, max |ref|) over the outputs."""
    return max(float(np.abs(p - r).max() / max(1.0, float(np.abs(r).max())))
               for p, r in zip(pred, ref))


# ----------------------------------------------------------------------------
# tf.keras 2 writer (subprocess)
# ----------------------------------------------------------------------------

def save_weights_npz(weights: dict, path: Path, X: np.ndarray, ref: list[np.ndarray]) -> None:
    """Weights keyed "<layer>/<index>" plus X and the outputs for the writer to check."""
    arrays = {"__X__": X, "__profile__": ref[0], "__counts__": ref[1]}
    for layer_name, w in weights.items():
        for i, a in enumerate(w):
            arrays[f"{layer_name}/{i}"] = a
    np.savez(path, **arrays)


def write_tf_keras_model(name: str, weights: dict, out_path: Path,
                         X: np.ndarray, ref: list[np.ndarray]) -> None:
    """Write a genuine Keras-2 HDF5 file with tf_keras in a separate process."""
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "weights.npz"
        save_weights_npz(weights, npz, X, ref)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_tf-keras-writer",
                        name, str(npz), str(out_path)], check=True, env=env)


def tf_keras_writer(name: str, npz_path: str, out_path: str) -> None:
    """(subprocess) Rebuild ``name`` with tf_keras, set the weights, check, save as HDF5."""
    import tf_keras

    data = np.load(npz_path)
    model = build_model(tf_keras, name)
    weights = {}
    for key in data.files:
        if not key.startswith("__"):
            layer_name, i = key.rsplit("/", 1)
            weights.setdefault(layer_name, {})[int(i)] = data[key]
    set_weights_by_name(model, {k: [v[i] for i in sorted(v)] for k, v in weights.items()})
    pred = as_list(model.predict(data["__X__"], verbose=0))
    diff = max_rel_diff(pred, [data["__profile__"], data["__counts__"]])
    if diff > TOLERANCE:
        sys.exit(f"error: tf_keras rebuild of {name} predicts differently (rel diff {diff:.2e})")
    with warnings.catch_warnings():                   # "HDF5 ... is considered legacy"
        warnings.simplefilter("ignore", UserWarning)
        model.save(out_path, save_format="h5")
    print(f"tf_keras {tf_keras.__version__} wrote {out_path} (rel diff {diff:.1e})")


# ----------------------------------------------------------------------------
# Keras 3: build, save, check
# ----------------------------------------------------------------------------

def model_paths(out: Path, name: str) -> list[Path]:
    """Keras 3 native, Keras 3 legacy HDF5, tf.keras 2 HDF5."""
    return [out / f"{name}.keras", out / f"{name}_keras3.h5", out / f"{name}.h5"]


def check_models(name: str, paths: list[Path], X: np.ndarray, ref: list[np.ndarray]) -> None:
    """Keras 3 must load every file in safe mode, with the expected outputs, and predict ref."""
    import h5py
    import keras

    spec = SPECS[name]
    want_names = [spec["profile_name"], spec["counts_name"]]
    want_shapes = [(N_EXAMPLES, *s) for s in output_shapes(spec)]
    for path in paths:
        m = keras.saving.load_model(str(path), compile=False, safe_mode=True)
        names = list(m.output_names)
        if names != want_names:
            sys.exit(f"error: {path.name} output names {names} != {want_names}")
        pred = as_list(m.predict(X, verbose=0))
        shapes = [p.shape for p in pred]
        if shapes != want_shapes:
            sys.exit(f"error: {path.name} output shapes {shapes} != {want_shapes}")
        diff = max_rel_diff(pred, ref)
        if diff > TOLERANCE:
            sys.exit(f"error: {path.name} predicts differently (rel diff {diff:.2e})")
        print(f"checked {path.name}: Keras 3 loads it, outputs {names} {shapes}, "
              f"rel diff {diff:.1e}")
    for path, major in ((paths[1], "3."), (paths[2], "2.")):
        with h5py.File(path, "r") as f:
            version = f.attrs["keras_version"]
            version = version.decode() if isinstance(version, bytes) else str(version)
            if not version.startswith(major) or "model_config" not in f.attrs:
                sys.exit(f"error: {path.name} has keras_version {version}, expected {major}x")


def make_model_files(out: Path, name: str) -> None:
    """Build ``name`` with random weights, write its three model files and predictions."""
    import keras

    model = build_model(keras, name)
    weights = random_weights(model, name)
    set_weights_by_name(model, weights)
    X = random_one_hot(name, SPECS[name]["length"])
    ref = [p.astype(np.float32) for p in as_list(model.predict(X, verbose=0))]
    for p, label in zip(ref, ("profile", "counts")):
        print(f"{name} {label}: shape {p.shape}, mean {p.mean():+.3f}, std {p.std():.3f}, "
              f"range [{p.min():+.3f}, {p.max():+.3f}]")
    np.savez(out / f"{name}_predictions.npz", X=X, profile=ref[0], counts=ref[1])
    paths = model_paths(out, name)
    for p in paths:
        p.unlink(missing_ok=True)
    model.save(paths[0])
    model.save(paths[1])
    write_tf_keras_model(name, weights, paths[2], X, ref)
    check_models(name, paths, X, ref)


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------

def summarize(out: Path, seconds: float) -> None:
    """Print the sizes of the files written; fail if one is over MAX_FILE_BYTES."""
    for name in SPECS:
        for path in [*model_paths(out, name), out / f"{name}_predictions.npz"]:
            size = path.stat().st_size
            print(f"  {path.name:36s} {size:>10,d} bytes")
            if size > MAX_FILE_BYTES:
                sys.exit(f"error: {path.name} is larger than {MAX_FILE_BYTES:,d} bytes")
    print(f"done in {seconds:.0f} s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=root / "test_data",
                        help="output directory (default: test_data/ of the repository)")
    parser.add_argument("--_tf-keras-writer", nargs=3, metavar=("NAME", "NPZ", "H5"),
                        dest="tf_keras_writer", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"            # CPU only, before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.tf_keras_writer:
        tf_keras_writer(*args.tf_keras_writer)
        return
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SPECS:
        make_model_files(args.out, name)
    summarize(args.out, time.time() - t0)


if __name__ == "__main__":
    main()
