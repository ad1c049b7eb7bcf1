"""Several devices: the CPU split into two logical devices exercises the multi-device path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .conftest import ROOT

SCRIPT = textwrap.dedent("""
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import genolift
    from genolift.engine import Engine
    g = genolift.load_model("test_data/example_model.h5")
    X = np.load("test_data/example_model_predictions.npz")["X"]
    R = genolift.dinucleotide_shuffle(X, 4, seed=0)
    one = Engine(g, batch_size=8).run(X, R)
    both = Engine(g, batch_size=8, devices="/CPU:0,/CPU:1")
    assert both.devices == ["/device:CPU:0", "/device:CPU:1"], both.devices
    two = both.run(X, R)
    np.testing.assert_allclose(two.hypothetical, one.hypothetical, atol=1e-6)
    np.testing.assert_allclose(two.deltas, one.deltas, atol=1e-6)
    try:
        Engine(g, devices="/GPU:7")
    except ValueError as exc:
        assert "not available" in str(exc)
    else:
        raise AssertionError("an unknown device was accepted")
    print("ok", len(tf.config.list_logical_devices("CPU")))
""")


@pytest.mark.slow
def test_two_logical_cpu_devices_give_the_same_scores():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok 2")
