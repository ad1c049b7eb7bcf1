#!/usr/bin/env python
"""Write the supported layers, activations and operations of docs/models.md from genolift's one table.

The section between the markers of docs/models.md is rendered from
``genolift/model/support.py`` (``LAYERS``, ``ACTIVATIONS``, ``OPERATIONS``, ``REFUSED``,
``CODE_CLASSES``), the table the model reader, the engine and ``genolift info`` read.
``tests/test_docs.py`` fails when the section differs from what this script writes: run it after
adding a layer.

Usage::

    python scripts/make_model_docs.py            # rewrite the section of docs/models.md
    python scripts/make_model_docs.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "models.md"
SCRIPT = "make_model_docs"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _words(support, row) -> str:
    """A row's rule in words, as ``genolift info`` prints it (its activation aside)."""
    if row.ops == ("identity",) and row.activation:  # the Activation layer
        return "its activation (below)"
    words = row.words or ", ".join(dict.fromkeys(support.RULE_WORDS[support.OPS[op]] for op in row.ops))
    return words + (" + its activation (below)" if row.activation else "")


def _layers(support) -> list[str]:
    lines = [f"### Layers ({len(support.LAYERS)})", "",
             "| Keras layer | DeepLIFT rule |", "| --- | --- |"]
    for name, row in support.LAYERS.items():
        note = " (CREsted's, read by its registered name)" if ">" in name else ""
        lines.append(f"| `{name}`{note} | {_words(support, row)} |")
    return lines


def _activations(support) -> list[str]:
    lines = ["### Activations", "",
             "Fused into a layer (`activation=` of Conv1D, Dense, SeparableConv1D) or as an `Activation` layer.", "",
             "| activation | DeepLIFT rule |", "| --- | --- |"]
    for name, act in support.ACTIVATIONS.items():
        if name is None:
            continue
        if act.op == "identity":
            words = "identity"
        elif act.op == "softmax":
            words = support.RULE_WORDS[support.SOFTMAX]
        else:
            words = support.RULE_WORDS[support.OPS[act.op]] + ("" if act.op == name else f" (as `{act.op}`)")
        if act.params:
            words += " (" + ", ".join(f"{k} = {v}" for k, v in act.params.items()) + ")"
        if act.tf_keras2:
            words += f"; refused in tf.keras 2 files: {act.tf_keras2}"
        lines.append(f"| `{name}` | {words} |")
    return lines


def _operations(support) -> list[str]:
    lines = ["### Keras operations", "",
             "`keras.ops` calls stored between layers of a functional model (`.keras` and Keras 3 `.h5` files).", "",
             "| operation | DeepLIFT rule |", "| --- | --- |"]
    for name, row in support.OPERATIONS.items():
        lines.append(f"| `{name}` | {_words(support, row)} |")
    return lines


def _refused(support) -> list[str]:
    lines = ["### Refused", "", "| class | why |", "| --- | --- |"]
    for name in support.CODE_CLASSES:
        lines.append(f"| `{name}` | {support.CODE_WORDS[0]}: refused, never run |")
    lines.append("| ChromBPNet's `logcount_predictions` Lambda, recognised by its place (unless "
                 f"`--no-known-lambdas`) | not run: replaced by {support.LOGSUMEXP.words} |")
    for name, why in support.REFUSED.items():
        lines.append(f"| `{name}` | {why} |")
    lines.append(f"| any other class (a custom or registered layer) | {support.CODE_WORDS[1]}, or a layer type "
                 "without a genolift rule |")
    return lines


def render() -> str:
    """The generated section's text."""
    from genolift.model import support

    parts = [_layers(support), _activations(support), _operations(support), _refused(support)]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


if __name__ == "__main__":
    from docs_sections import main

    sys.exit(main(PAGE, SCRIPT, render, __doc__))
