"""The attribution rules by name and their options (plain data, no TensorFlow: the CLI and the run read it too).

Rules come in four families, all written once against the backend seam:

* DeepLIFT (:data:`DEEPLIFT_RULES`): pairs of branches, one per (sequence, reference) pair;
* gradients (:data:`GRADIENT_RULES`): ∇t at the input or along a path to each reference;
* modified gradients at the input (:data:`POINT_RULES`): saliency, the LRP rules, SmoothGrad and
  connection weights — the same steps and outputs as the gradient rules;
* sampling (:data:`SAMPLING_RULES`): Shapley values by permutation sampling, forward passes only.

:class:`Method` holds a rule with its options, checked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import MethodError

DEEPLIFT_RULES = ("rescale", "revealcancel", "genomics-default")
GRADIENT_RULES = ("gradient", "grad-x-input", "guided-backprop", "integrated-gradients")
POINT_RULES = ("saliency", "lrp-epsilon", "lrp-alpha-beta", "smoothgrad", "smoothgrad-x-input", "connection-weights")
SAMPLING_RULES = ("shapley-sampling",)
#: Every rule of ``--rule``.
RULE_NAMES = DEEPLIFT_RULES + GRADIENT_RULES + POINT_RULES + SAMPLING_RULES
#: Rules whose scores ignore the references: hypothetical = the multipliers themselves (r = 0 in the projection).
REFERENCE_FREE = ("grad-x-input", "saliency", "lrp-epsilon", "lrp-alpha-beta", "smoothgrad-x-input")
#: Rules that ``--times-input`` turns reference-free (``smoothgrad`` becomes ``smoothgrad-x-input``).
TIMES_INPUT_RULES = ("smoothgrad", "connection-weights")
#: How DeepLIFT rules treat max pooling (``--maxpool``).
MAXPOOL_RULES = ("cross-max", "winner-takes-all", "average")
#: What occlusion puts in each window (``--fill``).
OCCLUSION_FILLS = ("reference", "zero")

#: Options and the rules that read them (a rule ignores the others; a file records only its rule's).
OPTION_RULES = {
    "epsilon": ("lrp-epsilon",),
    "alpha": ("lrp-alpha-beta",),
    "beta": ("lrp-alpha-beta",),
    "maxpool": DEEPLIFT_RULES,
    "samples": ("smoothgrad", "smoothgrad-x-input", "shapley-sampling"),
    "noise": ("smoothgrad", "smoothgrad-x-input"),
    "times_input": TIMES_INPUT_RULES + ("smoothgrad-x-input",),
    "width": ("shapley-sampling",),
}


@dataclass(frozen=True)
class Method:
    """An attribution rule and its options, checked on construction.

    Attributes
    ----------
    rule : a name of :data:`RULE_NAMES`.
    steps : integration steps of ``integrated-gradients``.
    epsilon : the stabiliser of ``lrp-epsilon`` (> 0).
    alpha, beta : the weights of ``lrp-alpha-beta``'s positive and negative parts, α − β = 1, β ≥ 0.
    maxpool : the max-pooling rule of the DeepLIFT rules (:data:`MAXPOOL_RULES`).
    samples : noisy copies of ``smoothgrad``, permutations of ``shapley-sampling`` (≥ 1).
    noise : SmoothGrad's standard deviation as a fraction of each input's range (max − min; 1 for one-hot).
    times_input : ``smoothgrad`` and ``connection-weights`` without a reference (contributions x·m).
    width : bases per feature of ``shapley-sampling`` (positions, or windows of ``width``).
    seed : seed of the random draws (SmoothGrad noise, Shapley permutations), combined with each row's key.

    Raises
    ------
    MethodError : an option out of range, or ``times_input`` for a rule without it.
    """

    rule: str = "rescale"
    steps: int = 50
    epsilon: float = 1e-4
    alpha: float = 1.0
    beta: float = 0.0
    maxpool: str = "cross-max"
    samples: int = 50
    noise: float = 0.15
    times_input: bool = False
    width: int = 1
    seed: int = 0

    def __post_init__(self):
        problem = self._problem()
        if problem:
            raise MethodError(problem)
        if self.rule == "smoothgrad-x-input" and not self.times_input:
            object.__setattr__(self, "times_input", True)

    def _problem(self) -> str | None:
        """Why the options do not hold together, in one line, or None."""
        if self.rule not in RULE_NAMES:
            return f"rule {self.rule!r} is not one of {', '.join(RULE_NAMES)}"
        if self.maxpool not in MAXPOOL_RULES:
            return f"--maxpool {self.maxpool!r} is not one of {', '.join(MAXPOOL_RULES)}"
        if not (isinstance(self.epsilon, (int, float)) and math.isfinite(self.epsilon) and self.epsilon > 0):
            return f"--epsilon {self.epsilon!r}: give a number > 0"
        if not (math.isfinite(self.alpha) and math.isfinite(self.beta)) or self.beta < 0 \
                or abs(self.alpha - self.beta - 1) > 1e-9:
            return f"--alpha {self.alpha:g} --beta {self.beta:g}: LRP-αβ needs α − β = 1 and β ≥ 0 (e.g. 1 and 0, 2 and 1)"
        if int(self.samples) < 1 or int(self.steps) < 1 or int(self.width) < 1:
            return f"--samples {self.samples}, --steps {self.steps}, --width {self.width}: each must be >= 1"
        if not (math.isfinite(self.noise) and self.noise >= 0):
            return f"--noise {self.noise!r}: give a standard deviation >= 0 (a fraction of the input's range)"
        if self.times_input and self.rule not in OPTION_RULES["times_input"]:
            return (f"--times-input applies to {', '.join(TIMES_INPUT_RULES)} (rule {self.rule!r}: use grad-x-input "
                    "for the gradient times the input)")
        return None

    @property
    def reference_free(self) -> bool:
        """Whether the scores ignore the references: hypothetical = m, contributions = x·m."""
        return self.rule in REFERENCE_FREE or (self.times_input and self.rule in TIMES_INPUT_RULES)

    @property
    def sums_to_delta(self) -> bool:
        """Whether the rule's contributions are meant to sum to t(x) − t(r) per pair (so large deltas are a fault)."""
        if self.rule in DEEPLIFT_RULES:
            return self.maxpool != "winner-takes-all"
        return self.rule in ("integrated-gradients", "shapley-sampling")

    def settings(self) -> dict:
        """{option: value} of every option, None where this rule does not read it (what a score file records)."""
        values = asdict(self)
        out = {name: (values[name] if self.rule in rules else None) for name, rules in OPTION_RULES.items()}
        if out["times_input"] is not None:
            out["times_input"] = bool(out["times_input"])
        return out

    def label(self) -> str:
        """The rule with the options it reads that differ from the defaults: what identifies its computation."""
        default = Method(self.rule)
        changed = [f"{name}={value}" for name, value in self.settings().items()
                   if value is not None and value != getattr(default, name)]
        return "/".join([self.rule, *changed])
