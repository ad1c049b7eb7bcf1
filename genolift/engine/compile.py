"""Step functions compiled by the backend; on TensorFlow, plain or XLA, the faster one chosen by measuring.

Each backend offers its compilations (:data:`COMPILATIONS` of its module):
TensorFlow graphs plain or under XLA, JAX's ``jit`` (XLA), PyTorch eager.
Which of TensorFlow's two is faster depends on the model and the device:
on a CPU, XLA runs dilated-convolution models markedly faster than plain
TensorFlow, and some convolution stacks slower.  A :class:`Step` in ``auto``
mode therefore runs the first batch of its shape through both compilations,
times them, and keeps the faster; every result it returns, that first batch's
included, comes from the chosen compilation, so a run gives the results of
that compilation alone (the two differ by float round-off only).

The choice is made once per model file, settings, batch shape and device
kind: it is kept for the process (engines live with the loaded model,
:func:`~genolift.engine.cache.cached_engine`, and steps of an equal key share
it) and on disk (:mod:`.choices`), so that the other processes of a run (a
resumed run, shards, a workflow's jobs) read it instead of measuring, and
all give the same bits.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from . import choices

log = logging.getLogger("genolift")

#: Compilation modes of :class:`Step`: measure the backend's (auto), plain (graphs, or eager), or XLA.
COMPILE_MODES = ("auto", "plain", "xla")
#: Environment variable giving the compilation when none is asked for (the command line's and the API's
#: default; ``auto`` where it is unset): ``plain`` on a host where XLA's memory or compile time is unwanted.
COMPILE_ENV = "GENOLIFT_COMPILE"


def default_compile() -> str:
    """``$GENOLIFT_COMPILE`` when set (read on every call), else ``auto``."""
    import os

    return os.environ.get(COMPILE_ENV, "").strip().lower() or "auto"
#: Most timed runs of each compilation on the first batch before ``auto`` chooses.
TIMED_CALLS = 2
#: ``auto`` chooses after one timed run each when one is faster by this factor.
CLEAR_MARGIN = 1.25
#: Choices made by ``auto`` in this process, by (step key, device kind): a step of the same model, settings
#: and shape (another engine, or the model read again) takes the same compilation and gives the same bits.
_CHOICES: dict = {}


class Step:
    """A step function compiled by a backend: plain, XLA, or the faster of both (``auto``).

    Parameters
    ----------
    fn : the Python step function ``fn(weights, *args)``, ops of backend ``xp`` on its arguments; ``weights``
        is a network's weights on the device of the call (see ``weights`` below).
    signature : the arguments' :class:`~genolift.engine.backends.Spec`, one per argument after the weights.
    mode : one of :data:`COMPILE_MODES`; ``auto`` measures where the backend offers more than one
        compilation, else takes its one.
    key : what identifies the step's computation (model digest, settings, shape): ``auto`` takes the
        compilation chosen for an equal key and device kind earlier in the process, or recorded on disk
        by another process when the key starts with a model file's digest (:mod:`.choices`), instead of
        measuring again.
    xp : the backend module (default: :func:`~genolift.engine.backends.default_backend`).
    weights : ``weights(device)`` → the weights nest passed as the first argument (default: no weights, {}).

    Attributes
    ----------
    choice : the compilation once chosen (at once unless ``auto`` with two to choose from), else None.
    origin : where ``auto``'s choice came from: ``"measured"`` (here), ``"process"`` (an earlier step of
        this process), ``"record"`` (the on-disk record); ``""`` before it is made and for fixed modes.
    record : the path of the step's on-disk record (``auto`` with a lasting key, once called), else None.
    seconds : {compilation: seconds of its timed runs on the first batch} (``auto`` when measured).
    startup_seconds : seconds of tracing, compiling and measuring: per device,
        the first call less the fastest run of the chosen compilation.
    """

    def __init__(self, fn: Callable, signature: list, mode: str = "auto", key=None, xp=None,
                 weights: Callable | None = None):
        if xp is None:
            from .backends import load

            xp = load()
        if mode not in COMPILE_MODES:
            raise ValueError(f"compile {mode!r} is not one of {', '.join(COMPILE_MODES)}")
        wanted = xp.COMPILATIONS if mode == "auto" else (mode,)
        if not set(wanted) <= set(xp.COMPILATIONS):
            raise ValueError(f"compile {mode!r}: the {xp.NAME} backend compiles {', '.join(xp.COMPILATIONS)}")
        self.xp, self.key, self.signature = xp, key, signature
        self.weights = weights or (lambda device: {})
        example = self.weights(None)
        from .backends import Spec

        weight_specs = {name: [Spec(xp.shape(w), xp.dtype_name(w)) for w in ws] for name, ws in example.items()}
        self.functions = {name: xp.compile(fn, name, [weight_specs, *signature]) for name in wanted}
        self.choice = None if len(wanted) > 1 else wanted[0]
        self.origin = ""
        self.record = None
        self.seconds: dict[str, list[float]] = {name: [] for name in wanted}
        self.refusal = ""  # why XLA was dropped, if it could not compile the step
        self._first: dict = {}  # device -> seconds of its first call
        self._startup: dict = {}
        self._pending: set = set()  # devices whose second call still sets the start-up (fixed modes)
        self._weights: dict = {}  # device -> weights there

    @property
    def startup_seconds(self) -> float:
        return sum(self._startup.values())

    def tracing_count(self) -> int:
        """Traces made so far, over the compilations."""
        return sum(f.tracing_count() for f in self.functions.values())

    def _run(self, name: str, args: tuple, device):
        if device not in self._weights:
            self._weights[device] = self.weights(device)
        inputs = [self.xp.put(a, device, spec.dtype) for a, spec in zip(args, self.signature)]
        out = self.functions[name](self._weights[device], *inputs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def __call__(self, *args, device: str | None = None) -> list:
        """Run the step on ``args`` (numpy arrays); returns its outputs (numpy where timed, else tensors)."""
        if device not in self._first:
            t0 = time.perf_counter()
            out = self._choose(args, device) if self.choice is None else self._timed(self.choice, args, device)[0]
            self._first[device] = self._startup[device] = time.perf_counter() - t0
            self._pending.add(device)
            return out
        if device not in self._pending:
            return self._run(self.choice, args, device)
        out, seconds = self._timed(self.choice, args, device)
        fastest = min([seconds, *self.seconds.get(self.choice, [])])
        self._startup[device] = max(0.0, self._first[device] - fastest)
        self._pending.discard(device)
        return out

    def _timed(self, name: str, args: tuple, device) -> tuple[list, float]:
        """Outputs (numpy) of compilation ``name`` on args, and the seconds it took."""
        t0 = time.perf_counter()
        out = [self.xp.to_numpy(o) for o in self._run(name, args, device)]  # waits for the device
        return out, time.perf_counter() - t0

    def _choose(self, args: tuple, device: str | None) -> list:
        """``auto`` on the first call: the choice of the process or the record, else measured; its outputs.

        A step that measured and then found another process's record (written
        while it measured) takes the recorded compilation, and returns that
        compilation's outputs of the measured batch.
        """
        if self.key is None:
            self.origin = "measured"
            return self._measure(args, device)[self.choice]
        local = (self.key, choices.device_kind(device, self.xp))
        fields = (choices.record_fields(self.key, self.signature, device, self.xp)
                  if choices.lasting(self.key) else None)
        self.record = choices.record_path(fields) if fields else None
        known, self.origin = _CHOICES.get(local), "process"
        if known is None and fields:
            known, self.origin = choices.recall(fields), "record"
        if known in self.functions:
            self.choice = _CHOICES[local] = known
            self.functions, self.seconds = {known: self.functions[known]}, {known: []}
            log.debug("compile: %s for step %s (from the %s)", known, self.key[1:], self.origin)
            return self._timed(known, args, device)[0]
        outputs, self.origin = self._measure(args, device), "measured"
        if fields:
            recorded = choices.keep(fields, self.choice, self.seconds)
            if recorded != self.choice and recorded in outputs:  # another process recorded first
                log.debug("compile: measured %s, recorded %s: step %s takes %s", self.choice, recorded,
                          self.key[1:], recorded)
                self.choice, self.origin = recorded, "record"
        _CHOICES[local] = self.choice
        return outputs[self.choice]

    def _measure(self, args: tuple, device) -> dict:
        """``auto`` on the first batch: compile both, time both, keep the faster; {compilation: outputs}."""
        outputs = {}
        for name in list(self.functions):  # the first run of each traces and compiles
            try:
                outputs[name] = self._timed(name, args, device)[0]
            except self.xp.XLA_REFUSALS if name == "xla" else () as exc:
                del self.functions[name], self.seconds[name]
                self.refusal = str(exc).splitlines()[0]
        for _ in range(TIMED_CALLS if len(self.functions) > 1 else 0):
            for name in self.functions:
                outputs[name], seconds = self._timed(name, args, device)
                self.seconds[name].append(seconds)
            best = sorted(min(s) for s in self.seconds.values())
            if best[1] > CLEAR_MARGIN * best[0]:
                break
        self.choice = min(self.functions, key=lambda n: min(self.seconds[n] or [0.0]))
        return outputs
