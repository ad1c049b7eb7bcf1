"""genolift: DeepLIFT contribution and hypothetical scores for genomics models.

The small Python API (``load_model``, ``load_regions``, ``attribute``, ``ism``,
``occlusion``, ``dinucleotide_shuffle``) runs the same engine as the command
line; its functions take ``f(model, X, ...)``.  Importing this package does not
import TensorFlow (or JAX, or PyTorch); the first call that needs one does.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_regions", "attribute", "ism", "occlusion", "dinucleotide_shuffle",
           "Attribution", "ISMScores", "OcclusionScores", "Regions"]

_API = ("load_model", "load_regions", "attribute", "ism", "occlusion", "Attribution", "ISMScores", "OcclusionScores",
        "Regions")


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "dinucleotide_shuffle":
        from .references import dinucleotide_shuffle

        return dinucleotide_shuffle
    raise AttributeError(f"module 'genolift' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
