"""Batched DeepLIFT over (sequence, reference) pairs.

The unit of work is a pair.  A device batch holds S sequences × J of their
references (J = min(K, batch size), S = batch size // J), so small K does
not starve the device and large K does not blow its memory.  Per batch the
device does one recorded forward pass of the S sequences (shared by their J
references), one forward and one input-only backward pass of the S·J
references, and the hypothetical projection summed over each sequence's
references, so only (S, L, 4) comes back to the host.  When every sequence
shares one reference (a GC background) the roles swap: the reference is the
recorded row and B sequences are taped.  The gradient rules
(:mod:`.gradients`) and in-silico mutagenesis (:mod:`.ism`) run on the same
batches and devices (:mod:`.batching`).

Shapes are fixed per engine (a short last batch takes one of a few smaller
shapes), so each step function is traced once per shape.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError, ModelError
from ..model.graph import Graph
from ..scores import average_strands, reference_mean
from ..sequences import reverse_complement
from . import backends
from .batching import Dispatcher, pad_rows, resolve_devices, row_blocks, run_pairs
from .compile import COMPILE_MODES, default_compile
from .forward import ForwardPass
from .gradients import make_gradient_step
from .ism import Mutagenesis
from .network import Network
from .pair_step import make_pair_step
from .results import ChunkResult
from .rule_names import DEEPLIFT_RULES, Method
from .sampling import shapley_pairs, smoothgrad_pairs
from .targets import select_target

PRECISIONS = ("float32", "float64", "bfloat16", "float16")
#: Precisions whose kernels some devices lack: probed before a run (:func:`.precision.probe`).
LOW_PRECISIONS = ("bfloat16", "float16")


class Engine:
    """DeepLIFT for one model target.

    Parameters
    ----------
    graph : the model.
    output : output name or index (default the first).
    task : unit of that output.
    rule : DeepLIFT rule name, or another rule of :data:`~.rule_names.RULE_NAMES` (gradients, modified
        gradients, Shapley value sampling).
    batch_size : pairs per device batch (rounded down to a multiple of K when ≥ K), or ``"auto"``
        (default): the largest that fits a memory budget (:mod:`.memory`; ``memory`` GB sets it).
    target : ``auto``, ``task``, ``profile`` or ``profile-chrombpnet`` (see targets).
    precision : what the network computes in: ``float32`` (default), ``float64``
        (slower; for checks against float64 references), or ``bfloat16`` /
        ``float16`` (faster on GPUs; the deltas show the accuracy traded).
        Results come back in float32 (float64 for ``float64``); deltas and
        hypothetical scores are formed in that precision from the multipliers.
    steps : integration steps of ``integrated-gradients``.
    epsilon, alpha, beta, maxpool, samples, noise, times_input, width, seed : the rule's options
        (:class:`~.rule_names.Method`; a rule ignores the options it does not read).
    devices : None (the backend's default device: the first GPU, else the CPU), ``"all"`` (every GPU,
        else the CPU), or device names / GPU indices; batches are spread over them.
    backend : ``tensorflow``, ``jax`` or ``torch`` (:mod:`.backends`; default ``KERAS_BACKEND`` when it
        names one, else ``tensorflow``): the array library the engine runs on.  Matrix products and
        convolutions run in IEEE float32 on every backend and device (TensorFloat-32 off).
    compile : how step functions are compiled (:mod:`.compile`; None: ``$GENOLIFT_COMPILE`` where the backend
        offers it, else ``auto``): ``auto``
        (default: the faster of plain and XLA, measured on the first batch of
        each batch shape and kept for the process and, for a model read from a
        file, on disk (:mod:`.choices`), so that the other processes of a run
        take the same one and give the same bits), ``plain`` or ``xla``.

    Attributes
    ----------
    target, network, length : the explained target, its runnable network, the input length.
    devices : the resolved device names, or None.
    startup_seconds : seconds spent tracing and compiling step functions so far.
    compilations : {step key: the compilation chosen, or None while measuring} (:meth:`compilations`).
    """

    def __init__(self, graph: Graph, *, output=None, task: int = 0, rule: str = "rescale", batch_size="auto",
                 memory: float | None = None, target: str = "auto", precision: str = "float32", steps: int = 50,
                 devices=None,
                 compile: str | None = None, backend: str | None = None, epsilon: float = 1e-4, alpha: float = 1.0,
                 beta: float = 0.0, maxpool: str = "cross-max", samples: int = 50, noise: float = 0.15,
                 times_input: bool = False, width: int = 1, seed: int = 0):
        self.method = Method(rule, int(steps), epsilon, alpha, beta, maxpool, int(samples), noise, bool(times_input),
                             int(width), int(seed))
        asked, compile = compile, compile or default_compile()
        if compile not in COMPILE_MODES:
            raise DeviceError(f"compile {compile!r} is not one of {', '.join(COMPILE_MODES)}")
        if precision not in PRECISIONS:
            raise DeviceError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.xp = backends.load(backend)
        self.backend = self.xp.NAME
        if asked is None and compile not in self.xp.COMPILATIONS:  # $GENOLIFT_COMPILE names another backend's
            compile = "auto"
        if compile != "auto" and compile not in self.xp.COMPILATIONS:
            raise DeviceError(f"--compile {compile}: the {self.backend} backend compiles "
                              f"{' or '.join(self.xp.COMPILATIONS)} (or auto)")
        self.float32_switches = self.xp.exact_float32()
        self.dtype = np.dtype(np.float64 if precision == "float64" else np.float32)  # host arrays and results
        self.precision = precision  # what the network computes in
        self.target = select_target(graph, output, task, target)
        self.dispatcher = Dispatcher(resolve_devices(devices, self.xp), self.xp)
        self.devices = self.dispatcher.devices
        first = self.devices[0] if self.devices else None
        self.network = Network(graph, self.target, rule, dtype=precision, xp=self.xp, device=first,
                               maxpool=self.method.maxpool)
        self._weights = {None: self.network.consts, first: self.network.consts}
        self.rule, self.steps = rule, int(steps)
        self.length = graph.length
        self.batch_size, self.batch_words = self._batch(batch_size, memory)
        self.compile = compile
        self._steps: dict[tuple, object] = {}
        self._ism: tuple | None = None  # (fast, Mutagenesis)
        self._forward_pass: ForwardPass | None = None
        if precision in LOW_PRECISIONS:
            from .precision import probe

            probe(self)

    def _batch(self, batch_size, memory) -> tuple[int, str]:
        """The batch size in pairs (``auto``: :func:`.memory.auto_batch`), and how it was chosen, in words."""
        if batch_size == "auto":
            from .memory import auto_batch

            return auto_batch(self.network, memory)
        if isinstance(batch_size, str) and not batch_size.isdigit() or int(batch_size) < 1:
            raise DeviceError(f"batch size {batch_size!r} is not a positive number of pairs or 'auto'")
        return int(batch_size), "fixed"

    def device_name(self) -> str:
        """Where the engine computes, in words: the backend's device names (GPU model where there is one)."""
        names = self.devices or [self.xp.default_device()]
        return ", ".join(f"{n} ({self.xp.gpu_name(n)})" if self.xp.is_gpu(n) else n for n in names)

    def describe(self) -> str:
        """One line for the log: backend and version, device(s), precision, compilation."""
        exact = " (TensorFloat-32 off)" if self.precision == "float32" and any(
            self.xp.is_gpu(d) for d in (self.devices or [None])) else ""
        return (f"{self.backend} {self.xp.version()} on {self.device_name()}, {self.precision}{exact}, "
                f"compile {self.compile}, batch {self.batch_size} pairs ({self.batch_words})")

    def circumstances(self) -> dict:
        """What a score file records of where it was computed: backend version and device(s)."""
        return {"backend_version": str(self.xp.version()), "device": self.device_name()}

    def weights_on(self, device: str | None) -> dict:
        """The network's weights on ``device`` (None: the first device), made once per device."""
        if device not in self._weights:
            self._weights[device] = self.network.put_weights(device)
        return self._weights[device]

    @property
    def startup_seconds(self) -> float:
        """Seconds of tracing and compiling: per step compilation and device, its first call less its fastest."""
        return self.dispatcher.startup_seconds

    def compilations(self) -> dict:
        """{(kind, rows...): "plain", "xla", or None while still measuring} of every step made so far."""
        steps = dict(self._steps)
        if self._ism is not None:
            steps.update({("ism", rows): step for rows, step in self._ism[1].steps.items()})
        if self._forward_pass is not None:
            steps.update({("forward", rows): step for rows, step in self._forward_pass.steps.items()})
        return {key: step.choice for key, step in steps.items()}

    def tracing_count(self) -> int:
        """Traces of step functions made so far (a repeated call with the same shapes adds none)."""
        steps = list(self._steps.values()) + (list(self._ism[1].steps.values()) if self._ism else [])
        steps += list(self._forward_pass.steps.values()) if self._forward_pass else []
        return sum(step.tracing_count() for step in steps)

    # -- compiled steps -------------------------------------------------
    def _step_key(self, *shape) -> tuple:
        """What identifies a step's computation across engines: the model file, the settings, the shape."""
        t = self.target
        return (self.network.graph.sha256 or id(self.network.graph), t.node, t.kind, t.normalise, t.all_tasks,
                self.method.label(), self.precision, self.steps, *shape)

    def _step(self, taped_is_reference: bool, s: int, j: int):
        """The traced step of s sequences × j references (taped references), or of 1 reference × j sequences."""
        key = (taped_is_reference, s, j)
        if key not in self._steps:
            if self.rule not in DEEPLIFT_RULES:
                self._steps[key] = make_gradient_step(self.network, self.method, s, j, self.dtype, self.compile,
                                                      self._step_key("gradient", s, j), self.weights_on,
                                                      rows=self.batch_size)
            else:
                self._steps[key] = make_pair_step(self.network, *key, self.dtype, self.compile,
                                                  self._step_key("pair", *key), self.weights_on)
        return self._steps[key]

    # -- public ---------------------------------------------------------
    def run(self, X: np.ndarray, references: np.ndarray, revcomp: bool = False, extras=None,
            keys=None) -> ChunkResult:
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
        keys : a stable key per sequence (default its row index as text) seeding the rule's random draws
            (SmoothGrad's noise, Shapley permutations) with the engine's ``seed``, as for references.
        """
        return self.run_tasks(X, references, revcomp, extras, keys)[0]

    def run_tasks(self, X: np.ndarray, references: np.ndarray, revcomp: bool = False,
                  extras=None, keys=None) -> list[ChunkResult]:
        """Like :meth:`run`, one result per task of the target (``task="all"``)."""
        if revcomp:
            return [average_strands(f, r) for f, r in
                    zip(self.run_tasks(X, references, extras=extras, keys=keys),
                        self.run_tasks(_rc_contiguous(X), _rc_contiguous(references), extras=extras, keys=keys))]
        X = np.ascontiguousarray(X, dtype=self.dtype)
        extras = self._check_extras(extras, len(X))
        references = np.asarray(references, dtype=self.dtype)
        if references.ndim == 2 and not extras and self.rule in DEEPLIFT_RULES:
            return self._run_shared(X, references)
        if references.ndim == 2:  # each sequence needs its own reference row (extras, or another rule)
            references = np.broadcast_to(references, (len(X), 1, *references.shape))
        references = np.ascontiguousarray(references)
        keys = _keys(keys, len(X))
        if self.rule == "shapley-sampling":
            if extras:
                raise ModelError("Shapley value sampling of models with several inputs is not supported")
            return shapley_pairs(self._forward(), X, references, keys, self.method)
        if self.rule in ("smoothgrad", "smoothgrad-x-input"):
            step_for = lambda s, j: self._step(True, s, j)  # noqa: E731
            summed = smoothgrad_pairs(self.dispatcher, step_for, X, references, extras, keys, self.method,
                                      self.batch_size, len(self.target.all_tasks))
            return [res._replace(hypothetical=reference_mean(res.hypothetical, references.shape[1]))
                    for res in summed]
        return self._run_paired(X, references, extras)

    def _check_extras(self, extras, n: int) -> list:
        wanted = self.network.graph.extra_inputs
        extras = [np.asarray(e, self.dtype) for e in (extras or ())]
        if len(extras) != len(wanted) or any(e.shape != (n, *shape) for e, (_, shape) in zip(extras, wanted)):
            shapes = ", ".join(f"{name} (N, {', '.join(map(str, shape))})" for name, shape in wanted)
            raise ModelError(f"the model's other inputs need values: extras=[{shapes}] (got {len(extras)})")
        return extras

    def _run_paired(self, X: np.ndarray, R: np.ndarray, extras=()) -> list[ChunkResult]:
        """X (n, L, 4) against R (n, K, L, 4), per task; the hypothetical scores are the mean over the K."""
        step_for = lambda s, j: self._step(True, s, j)  # noqa: E731
        summed = run_pairs(self.dispatcher, step_for, X, R, extras, self.batch_size, len(self.target.all_tasks))
        return [res._replace(hypothetical=reference_mean(res.hypothetical, R.shape[1])) for res in summed]

    def _run_shared(self, X: np.ndarray, r: np.ndarray) -> list[ChunkResult]:
        """X (n, L, 4) against one reference r (L, 4): the reference is recorded once per batch."""
        n, T = X.shape[0], len(self.target.all_tasks)
        hyp = np.zeros((T, n, self.length, 4), self.dtype)
        t_x, t_r, delta = (np.zeros((T, n), self.dtype) for _ in range(3))
        jobs = [((i0, i1), self._step(False, 1, rows), (pad_rows(X[i0:i1], rows), r[None], np.ones(rows, self.dtype)))
                for i0, i1, rows in row_blocks(n, self.batch_size)]
        for (i0, i1), out in self.dispatcher.run(jobs):
            hyp[:, i0:i1] = out[0][:, : i1 - i0]
            t_x[:, i0:i1], t_r[:, i0:i1], delta[:, i0:i1] = (o[:, : i1 - i0] for o in out[1:])
        return [ChunkResult(hyp[t], t_x[t], t_r[t][:, None], delta[t][:, None]) for t in range(T)]

    def run_background_tasks(self, X: np.ndarray, background: np.ndarray, revcomp: bool = False,
                             extras=None, keys=None) -> list[ChunkResult]:
        """Per task, X (n, L, 4) against one background (L, 4) zeroed where a sequence has N.

        Sequences without N share the background (one recorded row per
        batch); the few with N get their own copy, zeroed at the Ns.
        """
        if revcomp:
            return [average_strands(f, r) for f, r in
                    zip(self.run_background_tasks(X, background, extras=extras, keys=keys),
                        self.run_background_tasks(_rc_contiguous(X), _rc_contiguous(background), extras=extras,
                                                  keys=keys))]
        X = np.ascontiguousarray(X, dtype=self.dtype)
        background = np.asarray(background, self.dtype)
        own = _own_background(X, background)
        has_n = (~X.any(axis=-1)).any(axis=-1)
        if self.rule not in DEEPLIFT_RULES or extras is not None:
            return self.run_tasks(X, own, extras=extras, keys=keys)
        if not has_n.any():
            return self._run_shared(X, background)
        parts = [(np.flatnonzero(has_n), self._run_paired(X[has_n], own[has_n]))]
        if not has_n.all():
            parts.append((np.flatnonzero(~has_n), self._run_shared(X[~has_n], background)))
        return [_scatter([(rows, res[t]) for rows, res in parts], len(X)) for t in range(len(parts[0][1]))]

    def mutagenesis(self, X: np.ndarray, window: tuple[int, int] | None = None, fast: bool | None = None) -> list:
        """In-silico mutagenesis per task: [(ism (n, L, 4), predictions (n,)), ...] for X (n, L, 4).

        ``window``: mutate positions [start, end) only (default all).
        ``fast``: receptive-field recomputation on (True), off (False), or chosen by input length (None).
        """
        if self.network.graph.extra_inputs:
            raise ModelError("in-silico mutagenesis of models with several inputs is not supported")
        if self._ism is None or self._ism[0] != fast:
            self._ism = fast, Mutagenesis(self.network, self.batch_size, self.dtype, self.dispatcher, fast,
                                          self.compile, self._step_key("ism"), self.weights_on)
        return self._ism[1].run(X, window)

    def occlusion(self, X: np.ndarray, references: np.ndarray | None, width: int, stride: int,
                  revcomp: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Occlusion per task: [(scores (n, L), predictions (n,)), ...] for X (n, L, 4) (:mod:`.occlusion`).

        ``references``: (n, K, L, 4) per sequence, (L, 4) a background shared by all (zeroed where a
        sequence has N), or None to fill the windows with zeros.  ``revcomp``: also occlude the reverse
        complements and average, mapped back to the forward strand.
        """
        from .occlusion import occlusion

        if self.network.graph.extra_inputs:
            raise ModelError("occlusion of models with several inputs is not supported")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if references is None:
            R = np.zeros((len(X), 1, *X.shape[1:]), self.dtype)
        else:
            references = np.asarray(references, self.dtype)
            R = _own_background(X, references) if references.ndim == 2 else np.ascontiguousarray(references)
        results = occlusion(self._forward(), X, R, width, stride)
        if not revcomp:
            return results
        back = occlusion(self._forward(), _rc_contiguous(X), _rc_contiguous(R), width, stride)
        return [((f[0] + r[0][:, ::-1]) / 2, (f[1] + r[1]) / 2) for f, r in zip(results, back)]

    def _forward(self) -> ForwardPass:
        """The batched forward pass of the target (occlusion, Shapley sampling), made once."""
        if self._forward_pass is None:
            self._forward_pass = ForwardPass(self.network, self.batch_size, self.dtype, self.dispatcher,
                                             self.compile, self._step_key("forward"), self.weights_on)
        return self._forward_pass

    def outputs(self, X: np.ndarray, extras=None) -> list[np.ndarray]:
        """Plain forward values of every model output for X (n, L, 4), in batches: [(n, *shape), ...] numpy.

        Shapes are the graph's ``output_shapes``; values in the engine's host dtype (float32, or float64).
        """
        X = np.asarray(X, self.dtype)
        extras = self._check_extras(extras, len(X))
        parts = []
        for i0 in range(0, len(X), self.batch_size):
            rows = slice(i0, i0 + self.batch_size)
            with self.dispatcher.placed():
                values = self.network.forward(self._put(X[rows]), extras=[self._put(e[rows]) for e in extras])
            parts.append([self.xp.to_numpy(v).astype(self.dtype) for v in values])
        if not parts:
            return [np.zeros((0, *shape), self.dtype) for shape in self.network.graph.output_shapes]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]

    def predict(self, X: np.ndarray, extras=None) -> np.ndarray:
        """Target t(x) of the first task for X (n, L, 4); returns (n,)."""
        extras = [self._put(e) for e in self._check_extras(extras, len(X))]
        with self.dispatcher.placed():
            t, _ = self.network.record(self._put(X), extras)
        return self.xp.to_numpy(t).astype(self.dtype)[:, 0]

    def _put(self, a: np.ndarray):
        """A host array on the engine's first device, in the host dtype."""
        return self.xp.put(np.asarray(a, self.dtype), self.network.device, self.dtype.name)


def _scatter(parts: list, n: int) -> ChunkResult:
    """Put the results of row subsets back in row order."""
    first = parts[0][1]
    out = ChunkResult(*(np.zeros((n, *a.shape[1:]), a.dtype) for a in first))
    for rows, res in parts:
        for target, values in zip(out, res):
            target[rows] = values
    return out


def _own_background(X: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(n, 1, L, 4): the background (L, 4) per sequence of X (n, L, 4), zeroed where the sequence has N."""
    return (background[None] * X.any(axis=-1, keepdims=True))[:, None].astype(X.dtype)


def _keys(keys, n: int) -> list[str]:
    """Region keys of n sequences: the given ones, else each row's index as text."""
    from ..references.seeding import region_keys

    return region_keys(keys, n)


def _rc_contiguous(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(reverse_complement(a))
