"""``batch_size="auto"``: the largest batch of (sequence, reference) pairs that fits a memory budget.

A batch's memory grows with the activations the engine keeps per pair: every
node's output of the taped row (for the backward pass and the rules), and the
recorded row it shares with its batch's other references.  :func:`row_bytes`
adds up the outputs of the explained target's nodes for one row in the
compute precision (found by running one row through the network); a pair is
taken to need :data:`PAIR_FACTOR` times that.  Measured peak memory per pair,
over this sum, on a CPU: 0.44 (TensorFlow) and 0.36 (JAX) for a ChromBPNet-size
dilated model (512 filters, 2114 bp), 0.95 and 0.83 for a Basset-size CNN
(300 filters, 1000 bp, max pools): a factor of 1 keeps a batch within its
budget on both.  A recurrent loop's output is a small part of what it keeps
(every step's gates, in both branches and for the backward pass): its nodes
add :data:`LOOP_VALUES` per step, unit and gate.

The budget is the device's memory, not what happens to be free at the start
of a run, so that a run, its resumption and its shards on machines of one
kind choose the same batch (and give the same bits):

* a GPU: :data:`GPU_FRACTION` of its memory (the backend's allocator limit
  where it has one);
* a CPU: :data:`CPU_FRACTION` of the host's memory (or of a cgroup's limit,
  as in a SLURM job), at most :data:`CPU_BUDGET`; on a CPU a batch larger
  than a few dozen pairs of a large model computes no faster.

``memory`` (GB) sets the budget instead.  Batches are capped at
:data:`MAX_PAIRS` and are at least 1 pair.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Memory of one pair in a batch, in units of :func:`row_bytes` (see the module docstring).
PAIR_FACTOR = 1.0
#: Share of a GPU's memory a batch may take by default.
GPU_FRACTION = 0.75
#: Share of the host's memory a CPU batch may take by default, and its ceiling.
CPU_FRACTION = 0.25
CPU_BUDGET = 2 * 2**30
#: Largest batch chosen, by device type.
MAX_PAIRS = {"cpu": 256, "gpu": 4096}
#: Values a pair keeps per step, unit and gate of a recurrent loop, both branches and the backward pass's
#: residuals together: measured 23 MiB a pair beyond the batch's fixed cost for the real-size DanQ (BiLSTM 320
#: over 75 steps) with TensorFlow on a CPU, i.e. about 30 float32 values per step, unit and gate.
LOOP_VALUES = 30
_LOOP_GATES = {"lstm": 4, "gru": 3}
_ITEMSIZE = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}


def row_bytes(network) -> int:
    """Bytes of every node output of ``network`` for one sequence row, in its compute precision."""
    xp = network.xp
    zeros = np.zeros((1, network.graph.length, 4), np.float32)
    extras = [np.zeros((1, *shape), np.float32) for _, shape in network.graph.extra_inputs]
    values = network.evaluate(network._inputs(xp.put(zeros, network.device, network.dtype),
                                              [xp.put(e, network.device, network.dtype) for e in extras]),
                              network.nodes)
    elements = sum(int(np.prod(xp.shape(v)[1:])) for v in values.values())
    for node in network.nodes:  # a loop keeps every step's gate values for the backward pass, not only its output
        if node.op in _LOOP_GATES:
            steps = int(xp.shape(values[node.inputs[0]])[1])
            elements += LOOP_VALUES * _LOOP_GATES[node.op] * steps * node.params["units"]
    return elements * _ITEMSIZE[network.dtype]


def host_bytes() -> int:
    """The host's memory, or the memory limit of this process's cgroup where that is lower (bytes)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def budget(xp, device: str | None, memory_gb: float | None = None) -> int:
    """Bytes a batch may take on ``device`` of backend ``xp`` (``memory_gb`` when given)."""
    if memory_gb is not None:
        return int(memory_gb * 2**30)
    if xp.is_gpu(device):
        total = xp.device_memory(device)
        if total:
            return int(GPU_FRACTION * total)
    return int(min(CPU_FRACTION * host_bytes(), CPU_BUDGET))


def auto_batch(network, memory_gb: float | None = None) -> tuple[int, str]:
    """The batch size (pairs) for ``network`` on its device, and how it was found, in words."""
    xp, device = network.xp, network.device
    per_pair = PAIR_FACTOR * row_bytes(network)
    limit = budget(xp, device, memory_gb)
    cap = MAX_PAIRS["gpu" if xp.is_gpu(device) else "cpu"]
    pairs = int(max(1, min(cap, limit // max(per_pair, 1))))
    words = (f"auto: {pairs} pairs ({per_pair / 2**20:.1f} MiB a pair estimated, budget {limit / 2**30:.2f} GiB"
             f"{' from --memory' if memory_gb is not None else ''}{', capped' if pairs == cap else ''})")
    return pairs, words
