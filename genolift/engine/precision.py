"""Half precision where a device may lack kernels: one pair run before any region is read."""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError


def _failed_op(exc: Exception) -> str:
    """The op named in a kernel error ('Detected at node …/Conv2DBackpropInput'), or ''."""
    import re

    found = re.search(r"node '?([\w/.-]+)'?", str(exc))
    return found.group(1).rsplit("/", 1)[-1] if found else ""


def probe(engine) -> None:
    """Run the step once on one pair in the engine's precision on each device; refuse if it cannot run.

    Half-precision kernels depend on the device: on a CPU without native
    half-precision support a backend's fallback may lack, for instance, the
    float16 gradient of a convolution.  The probe turns that into a
    :class:`DeviceError` naming the device, before any region is read.
    """
    step = engine._step(True, 1, 1)
    one = np.zeros((1, engine.length, 4), engine.dtype)
    one[:, :, 0] = 1.0
    extras = [np.zeros((1, *shape), engine.dtype) for _, shape in engine.network.graph.extra_inputs]
    for device in engine.devices or [None]:
        try:
            with engine.dispatcher.placed(device):
                step(one[:, ::-1].copy(), one, np.ones(1, engine.dtype), *extras, device=device)  # waits
        except engine.xp.KERNEL_ERRORS as exc:
            where = device or engine.xp.default_device()
            op = _failed_op(exc)
            raise DeviceError(
                f"--precision {engine.precision} cannot run on {where}: {engine.backend} has no "
                f"{engine.precision} kernel{' for ' + op if op else ''} there; use --precision {_alternative(engine, device)}"
            ) from None


def _alternative(engine, device) -> str:
    """'bfloat16 or float32' when bfloat16 runs where float16 cannot, else 'float32'."""
    if engine.precision == "float16":
        try:
            type(engine)(engine.network.graph, output=engine.target.output_name, task=engine.target.task,
                   precision="bfloat16", devices=[device] if device else None, backend=engine.backend)
            return "bfloat16 or float32"
        except DeviceError:
            pass
    return "float32"
