"""Batched DeepLIFT over (sequence, reference) pairs.

The unit of work is a pair.  A device batch holds S sequences × J of their
references (J = min(K, batch size), S = batch size // J), so small K does
not starve the device and large K does not blow its memory.  Per batch the
device does one recorded forward pass of the S sequences (shared by their J
references), one forward and one input-only backward pass of the S·J
references, and the hypothetical projection summed over each sequence's
references, so only (S, L, 4) comes back to the host.  When every sequence
shares one reference (a GC background) the roles swap: the reference is the
recorded row and B sequences are taped.

Shapes are fixed per engine (the last batch is padded), so each step
function is traced once.
"""

from __future__ import annotations

import contextlib
import os
import time
import numpy as np
import tensorflow as tf

from ..errors import DeviceError
from ..model.graph import Graph
from ..scores import pair_hypothetical
from ..sequences import reverse_complement
from .batching import aligned_chunk, batch_layout, batch_rows, pad_rows, resolve_devices  # noqa: F401
from .network import GRADIENT_RULES, Network
from .results import ChunkResult
from .targets import select_target


PRECISIONS = ("float32", "float64", "bfloat16", "float16")
#: Precisions whose kernels some devices lack: probed before a run (see Engine._probe_precision).
LOW_PRECISIONS = ("bfloat16", "float16")


def _default_device() -> str:
    """The device TensorFlow places work on by default: the first GPU, else the CPU."""
    names = [d.name for d in tf.config.list_logical_devices()]
    return next((n for n in names if "GPU" in n), names[0] if names else "the CPU")


def _failed_op(exc: Exception) -> str:
    """The op named in a TensorFlow kernel error ('Detected at node …/Conv2DBackpropInput'), or ''."""
    import re

    found = re.search(r"node '?([\w/.-]+)'?", str(exc))
    return found.group(1).rsplit("/", 1)[-1] if found else ""


class Engine:
    """DeepLIFT for one model target.

    Parameters
    ----------
    graph : the model.
    output : output name or index (default the first).
    task : unit of that output.
    rule : DeepLIFT rule name.
    batch_size : pairs per device batch (rounded down to a multiple of K when ≥ K).
    target : ``auto``, ``task``, ``profile`` or ``profile-chrombpnet`` (see targets).
    precision : what the network computes in: ``float32`` (default), ``float64``
        (slower; for checks against float64 references), or ``bfloat16`` /
        ``float16`` (faster on GPUs; the deltas show the accuracy traded).
        Results come back in float32 (float64 for ``float64``); deltas and
        hypothetical scores are formed in that precision from the multipliers.
    devices : None (TensorFlow's placement), ``"all"`` (every GPU, else the CPU),
        or device names / GPU indices; batches are spread over them.
    """

    def __init__(self, graph: Graph, *, output=None, task: int = 0, rule: str = "rescale", batch_size: int = 256,
                 target: str = "auto", precision: str = "float32", steps: int = 50, devices=None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.dtype = np.dtype(np.float64 if precision == "float64" else np.float32)  # host arrays and results
        self.precision = precision  # what the network computes in
        self.target = select_target(graph, output, task, target)
        self.network = Network(graph, self.target, rule, dtype=precision)
        self.rule, self.steps = rule, int(steps)
        self.devices = resolve_devices(devices)
        self._points = None
        self.length = graph.length
        self.batch_size = int(batch_size)
        self._steps: dict[tuple, object] = {}
        self._calls: dict = {}
        self._first: dict = {}
        #: seconds of tracing and compiling: per step function and device, its first call less its second
        #: (the whole first call for a shape called once)
        self.startup_seconds = 0.0
        if precision in LOW_PRECISIONS:
            self._probe_precision()

    def _probe_precision(self) -> None:
        """Run the step once on one pair in the engine's precision on each device; refuse if it cannot run.

        Half-precision kernels depend on the device: on a CPU without native
        half-precision support TensorFlow's fallback lacks, for instance, the
        float16 gradient of a convolution.  The probe turns that into a
        :class:`DeviceError` naming the device, before any region is read.
        """
        step = self._step(True, 1, 1)
        one = np.zeros((1, self.length, 4), self.dtype)
        one[:, :, 0] = 1.0
        extras = [np.zeros((1, *shape), self.dtype) for _, shape in self.network.graph.extra_inputs]
        for device in self.devices or [None]:
            try:
                with tf.device(device) if device else contextlib.nullcontext():
                    [o.numpy() for o in step(one[:, ::-1].copy(), one, np.ones(1, self.dtype), *extras)]
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnimplementedError) as exc:
                where = device or _default_device()
                op = _failed_op(exc)
                raise DeviceError(
                    f"--precision {self.precision} cannot run on {where}: TensorFlow has no {self.precision} "
                    f"kernel{' for ' + op if op else ''} there; use --precision {self._alternative(device)}"
                ) from None

    def _alternative(self, device) -> str:
        """'bfloat16 or float32' when bfloat16 runs where float16 cannot, else 'float32'."""
        if self.precision == "float16":
            try:
                Engine(self.network.graph, output=self.target.output_name, task=self.target.task,
                       precision="bfloat16", devices=[device] if device else None)
                return "bfloat16 or float32"
            except DeviceError:
                pass
        return "float32"

    # -- compiled steps -------------------------------------------------
    def _make_step(self, taped_is_reference: bool, s: int, j: int):
        net, L, dt = self.network, self.length, tf.as_dtype(self.dtype)
        tasks = len(self.target.all_tasks)
        extra_specs = [tf.TensorSpec((s, *shape), dt) for _, shape in self.network.graph.extra_inputs]

        @tf.function(jit_compile=True, autograph=False)
        def finish(m, taped, other, t_taped, t_other, weight):
            """Hypothetical scores and per-pair deltas from the multipliers, in one fused loop.

            Shapes: m, taped (S·J, L, 4); other (S, L, 4); t_taped, weight (S·J,);
            t_other (S,).  Returns hyp, (S, L, 4) summed over each sequence's
            references when they are the taped rows, else (S·J, L, 4); deltas (S·J,).
            """
            m4, taped4, other4 = tf.reshape(m, [s, j, L, 4]), tf.reshape(taped, [s, j, L, 4]), other[:, None]
            x, r = (other4, taped4) if taped_is_reference else (taped4, other4)
            dt_pair = tf.reshape(t_taped, [s, j]) - t_other[:, None]  # t(taped) − t(other)
            if taped_is_reference:
                dt_pair = -dt_pair
            delta = dt_pair - tf.reduce_sum(m4 * (x - r), axis=[2, 3])
            hyp = pair_hypothetical(m4, r, xp=tf)
            if taped_is_reference:  # sum over each sequence's references
                hyp = tf.reduce_sum(hyp * tf.reshape(weight, [s, j, 1, 1]), axis=1)
            else:
                hyp = tf.reshape(hyp, [s * j, L, 4])
            return hyp, tf.reshape(delta, [-1])

        @tf.function(
            input_signature=[
                tf.TensorSpec((s * j, L, 4), dt),
                tf.TensorSpec((s, L, 4), dt),
                tf.TensorSpec((s * j,), dt),
                *extra_specs,
            ],
            autograph=False,
            jit_compile=os.environ.get("GENOLIFT_XLA", "0") == "1",
        )
        def step(taped, other, weight, *extras):
            t_other, acts = net.record(other, extras)
            t_other = tf.cast(t_other, dt)
            taped_extras = [tf.repeat(e, j, axis=0) for e in extras]  # equal in both branches of a pair
            with tf.GradientTape(persistent=tasks > 1) as tape:
                tape.watch(taped)
                t_taped = tf.cast(net.pair_target(taped, acts, j, taped_extras), dt)
                per_task = [t_taped[:, task] for task in range(tasks)]  # sliced under the tape
            hyps, deltas = [], []
            for task in range(tasks):  # one input-only backward pass per task, forward passes shared
                m = tape.gradient(per_task[task], taped)
                hyp, delta = finish(m, taped, other, t_taped[:, task], t_other[:, task], weight)
                hyps.append(hyp)
                deltas.append(delta)
            t_pair_other = tf.repeat(t_other, j, axis=0)
            t_x, t_r = (t_pair_other, t_taped) if taped_is_reference else (t_taped, t_pair_other)
            return tf.stack(hyps), tf.transpose(t_x), tf.transpose(t_r), tf.stack(deltas)

        return step

    def _step(self, taped_is_reference: bool, s: int, j: int):
        key = (taped_is_reference, s, j)
        if key not in self._steps:
            self._steps[key] = self._make_step(*key)
        return self._steps[key]

    # -- public ---------------------------------------------------------
    def run(self, X: np.ndarray, references: np.ndarray, revcomp: bool = False, extras=None) -> ChunkResult:
        """Attribute n sequences against their own references.

        Parameters
        ----------
        X : (n, L, 4) float32 one-hot sequences.
        references : (n, K, L, 4) float32, or (L, 4) for one reference shared
            by every sequence (K = 1).
        revcomp : also attribute the reverse complements (against the reverse
            complements of the references) and average, mapped back to the
            forward strand.
        extras : for models with more inputs than the sequence, their values,
            (n, ...) each in the graph's order; a sequence's references get the
            same values, so these inputs contribute nothing.
        """
        return self.run_tasks(X, references, revcomp, extras)[0]

    def run_tasks(self, X: np.ndarray, references: np.ndarray, revcomp: bool = False,
                  extras=None) -> list[ChunkResult]:
        """Like :meth:`run`, one result per task of the target (``task="all"``)."""
        if revcomp:
            return [average_strands(f, r) for f, r in
                    zip(self.run_tasks(X, references, extras=extras),
                        self.run_tasks(_rc_contiguous(X), _rc_contiguous(references), extras=extras))]
        X = np.ascontiguousarray(X, dtype=self.dtype)
        extras = self._check_extras(extras, len(X))
        if self.rule in GRADIENT_RULES:
            return self._run_gradient_rule(X, references, extras)
        if references.ndim == 2 and not extras:
            return self._run_shared(X, np.asarray(references, dtype=self.dtype))
        if references.ndim == 2:  # per-sequence extras: each sequence needs its own reference row
            references = np.broadcast_to(references, (len(X), 1, *references.shape))
        return self._run_paired(X, np.ascontiguousarray(references, dtype=self.dtype), extras)

    def _run_gradient_rule(self, X: np.ndarray, references: np.ndarray, extras: list) -> list[ChunkResult]:
        from .gradients import PointEvaluator, run_gradient_rule

        if self._points is None:
            self._points = PointEvaluator(self.network, self.batch_size, self.length, self.dtype,
                                          guided=self.rule == "guided-backprop")
        R = np.asarray(references, self.dtype)
        if R.ndim == 2:
            R = np.broadcast_to(R, (len(X), 1, *R.shape))
        return run_gradient_rule(self.rule, self._points, X, np.ascontiguousarray(R), self.steps, extras)

    def _check_extras(self, extras, n: int) -> list:
        wanted = self.network.graph.extra_inputs
        extras = [np.asarray(e, self.dtype) for e in (extras or ())]
        if len(extras) != len(wanted) or any(e.shape != (n, *shape) for e, (_, shape) in zip(extras, wanted)):
            shapes = ", ".join(f"{name} (N, {', '.join(map(str, shape))})" for name, shape in wanted)
            raise ValueError(f"the model's other inputs need values: extras=[{shapes}] (got {len(extras)})")
        return extras

    def _dispatch(self, jobs):
        """Run step(*args) for each (key, step, args) job, spread over the engine's devices.

        Calls are issued to every device before any result is read, so
        several devices compute at once; yields (key, numpy outputs).
        """
        devices = self.devices or [None]
        for g0 in range(0, len(jobs), len(devices)):
            pending = []
            for device, (key, step, args) in zip(devices, jobs[g0:g0 + len(devices)]):
                calls = self._calls.get((step, device), 0)
                self._calls[(step, device)] = calls + 1
                t0 = time.perf_counter()
                with tf.device(device) if device else contextlib.nullcontext():
                    out = step(*args)
                if calls < 2:  # the first two calls of a shape are timed on their own
                    out = [o.numpy() for o in out]
                    seconds = time.perf_counter() - t0
                    self.startup_seconds += seconds if calls == 0 else -min(seconds, self._first[(step, device)])
                    self._first[(step, device)] = seconds
                pending.append((key, out))
            for key, out in pending:
                yield key, [o if isinstance(o, np.ndarray) else o.numpy() for o in out]

    def _run_paired(self, X: np.ndarray, R: np.ndarray, extras=()) -> list[ChunkResult]:
        n, k = R.shape[:2]
        s_full, j = batch_layout(self.batch_size, k)
        T = len(self.target.all_tasks)
        hyp = np.zeros((T, n, self.length, 4), self.dtype)
        t_x = np.zeros((T, n), self.dtype)
        t_r, delta = np.zeros((T, n, k), self.dtype), np.zeros((T, n, k), self.dtype)
        jobs = []
        for i0 in range(0, n, s_full):
            i1 = min(i0 + s_full, n)
            s = batch_rows(i1 - i0, s_full)
            other = pad_rows(X[i0:i1], s)
            for j0 in range(0, k, j):
                j1 = min(j0 + j, k)
                block = np.zeros((s, j, self.length, 4), self.dtype)
                block[: i1 - i0, : j1 - j0] = R[i0:i1, j0:j1]
                weight = np.zeros((s, j), self.dtype)
                weight[:, : j1 - j0] = 1.0
                args = (block.reshape(s * j, self.length, 4), other, weight.reshape(-1),
                        *(pad_rows(e[i0:i1], s) for e in extras))
                jobs.append(((i0, i1, j0, j1, s), self._step(True, s, j), args))
        for (i0, i1, j0, j1, s), (h, tx, tr, d) in self._dispatch(jobs):
            hyp[:, i0:i1] += h[:, : i1 - i0]
            t_x[:, i0:i1] = tx.reshape(T, s, j)[:, : i1 - i0, 0]
            t_r[:, i0:i1, j0:j1] = tr.reshape(T, s, j)[:, : i1 - i0, : j1 - j0]
            delta[:, i0:i1, j0:j1] = d.reshape(T, s, j)[:, : i1 - i0, : j1 - j0]
        return [ChunkResult(hyp[t] / k, t_x[t], t_r[t], delta[t]) for t in range(T)]

    def _run_shared(self, X: np.ndarray, r: np.ndarray) -> list[ChunkResult]:
        n = X.shape[0]
        T = len(self.target.all_tasks)
        hyp = np.zeros((T, n, self.length, 4), self.dtype)
        t_x, t_r, delta = (np.zeros((T, n), self.dtype) for _ in range(3))
        jobs = []
        for i0 in range(0, n, self.batch_size):
            i1 = min(i0 + self.batch_size, n)
            b = batch_rows(i1 - i0, self.batch_size)
            jobs.append(((i0, i1), self._step(False, 1, b), (pad_rows(X[i0:i1], b), r[None], np.ones(b, self.dtype))))
        for (i0, i1), out in self._dispatch(jobs):
            hyp[:, i0:i1] = out[0][:, : i1 - i0]
            t_x[:, i0:i1], t_r[:, i0:i1], delta[:, i0:i1] = (o[:, : i1 - i0] for o in out[1:])
        return [ChunkResult(hyp[t], t_x[t], t_r[t][:, None], delta[t][:, None]) for t in range(T)]

    def run_background(self, X: np.ndarray, background: np.ndarray, revcomp: bool = False) -> ChunkResult:
        """Attribute against one background (L, 4) zeroed where a sequence has N (first task)."""
        return self.run_background_tasks(X, background, revcomp)[0]

    def run_background_tasks(self, X: np.ndarray, background: np.ndarray, revcomp: bool = False) -> list:
        """Per task: sequences without N share the background (one recorded row
        per batch); the few with N get their own copy, zeroed at the Ns."""
        if revcomp:
            return [average_strands(f, r) for f, r in zip(self.run_background_tasks(X, background),
                                                          self.run_background_tasks(_rc_contiguous(X), _rc_contiguous(background)))]
        X = np.ascontiguousarray(X, dtype=self.dtype)
        background = np.asarray(background, self.dtype)
        if self.rule in GRADIENT_RULES:
            own = (background[None] * X.any(axis=-1, keepdims=True))[:, None].astype(self.dtype)
            return self.run_tasks(X, own)
        has_n = (~X.any(axis=-1)).any(axis=-1)
        if not has_n.any():
            return self._run_shared(X, background)
        own = (background[None] * X.any(axis=-1, keepdims=True))[:, None].astype(self.dtype)
        parts = [(np.flatnonzero(has_n), self._run_paired(X[has_n], own[has_n]))]
        if not has_n.all():
            parts.append((np.flatnonzero(~has_n), self._run_shared(X[~has_n], background)))
        return [_scatter([(rows, res[t]) for rows, res in parts], len(X)) for t in range(len(parts[0][1]))]

    def mutagenesis(self, X: np.ndarray, window: tuple[int, int] | None = None, fast: bool | None = None) -> list:
        """In-silico mutagenesis per task: [(ism (n, L, 4), predictions (n,)), ...].

        ``fast``: receptive-field recomputation on (True), off (False), or chosen by input length (None).
        """
        from .ism import Mutagenesis

        if self.network.graph.extra_inputs:
            raise ValueError("in-silico mutagenesis of models with several inputs is not supported")
        if getattr(self, "_ism", None) is None or self._ism_fast != fast:
            self._ism, self._ism_fast = Mutagenesis(self, fast), fast
        return self._ism.run(X, window)

    def predict(self, X: np.ndarray, extras=None) -> np.ndarray:
        """Target t(x) of the first task for X (n, L, 4); returns (n,)."""
        t, _ = self.network.record(tf.constant(X, tf.as_dtype(self.dtype)), self._check_extras(extras, len(X)))
        return t.numpy().astype(self.dtype)[:, 0]


def average_strands(forward: ChunkResult, reverse: ChunkResult) -> ChunkResult:
    """Mean of the two strands' results, the reverse one mapped back to forward coordinates.

    Summation-to-delta carries over: Σ mean(hyp)·x = mean of the two strands' Δt.
    """
    return ChunkResult(
        (forward.hypothetical + _rc_contiguous(reverse.hypothetical)) / 2,
        (forward.predictions + reverse.predictions) / 2,
        (forward.reference_predictions + reverse.reference_predictions) / 2,
        (forward.deltas + reverse.deltas) / 2,
    )


def _scatter(parts: list, n: int) -> ChunkResult:
    """Put the results of row subsets back in row order."""
    first = parts[0][1]
    out = ChunkResult(*(np.zeros((n, *a.shape[1:]), a.dtype) for a in first))
    for rows, res in parts:
        for target, values in zip(out, res):
            target[rows] = values
    return out


def _rc_contiguous(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(reverse_complement(a))
