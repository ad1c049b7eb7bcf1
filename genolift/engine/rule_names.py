"""The attribution rules by name (plain data, no TensorFlow: the CLI and the run read it too)."""

#: DeepLIFT rules (pairs of branches) and gradient-based baselines (points).
RULE_NAMES = ("rescale", "revealcancel", "genomics-default", "gradient", "grad-x-input", "guided-backprop",
              "integrated-gradients")
GRADIENT_RULES = ("gradient", "grad-x-input", "guided-backprop", "integrated-gradients")
