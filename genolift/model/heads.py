"""A model's profile head and log-counts head, found by shape: ``--output profile|counts`` and the variant scores.

A **profile head** is an output with positions: a shape of two or more axes
((P, strands)), or one axis of several units whose name says ``profile`` (the rule
genolift's profile targets use).  A **log-counts head** is, beside one profile head,
its only other output, or the one output whose name says ``count``; without a profile
head, only a one-unit output whose name says ``count``.  ``--heads PROFILE,COUNTS``
names them (output names or indices; ``-`` for none) where that is ambiguous, and an
``--output`` that names one of several profile heads picks it.  A model with neither
head is scored by its explained output unit (:mod:`.scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..errors import TargetError

REMEDY = "name them with --heads PROFILE,COUNTS (output names or indices, '-' for none)"


class Heads(NamedTuple):
    """Output indices of the profile head and the log-counts head (None where absent)."""

    profile: int | None
    counts: int | None

    @property
    def any(self) -> bool:
        return self.profile is not None or self.counts is not None

    def describe(self, names: Sequence[str]) -> str:
        """e.g. ``profile=profile,counts=counts`` (``-`` for an absent head), as recorded in the files."""
        return ",".join(f"{what}={'-' if i is None else names[i]}" for what, i in zip(self._fields, self))


def is_profile(name: str, shape: Sequence[int]) -> bool:
    """Whether an output of per-sequence ``shape`` is a profile (positions, maybe strands)."""
    return len(shape) > 1 or (len(shape) == 1 and shape[0] > 1 and "profile" in name.lower())


def _index(names: Sequence[str], value: str, what: str) -> int | None:
    value = value.strip()
    if value in ("-", ""):
        return None
    if value in names:
        return list(names).index(value)
    if value.isdigit() and int(value) < len(names):
        return int(value)
    raise TargetError(f"--heads: {what} {value!r} is not an output of the model ({', '.join(names)})")


def _named(names: Sequence[str], shapes, spec: str) -> Heads:
    parts = spec.split(",")
    if len(parts) != 2:
        raise TargetError(f"--heads {spec!r}: give PROFILE,COUNTS (output names or indices, '-' for none)")
    profile, counts = (_index(names, part, what) for part, what in zip(parts, ("profile", "counts")))
    if profile is not None and not is_profile(names[profile], shapes[profile]):
        raise TargetError(f"--heads: output {names[profile]!r} has shape {tuple(shapes[profile])}, not a profile")
    if counts is not None and is_profile(names[counts], shapes[counts]):
        raise TargetError(f"--heads: output {names[counts]!r} has shape {tuple(shapes[counts])}, a profile, "
                          "not log counts")
    return Heads(profile, counts)


def _counts_beside(names: Sequence[str], others: list[int]) -> int | None:
    if len(others) == 1:
        return others[0]
    named = [i for i in others if "count" in names[i].lower()]
    if len(named) > 1:
        raise TargetError(f"several outputs could be the log counts ({', '.join(names[i] for i in named)}); "
                          + REMEDY)
    return named[0] if named else None


def find_heads(names: Sequence[str], shapes: Sequence[Sequence[int]], spec: str | None = None,
               output: str | int | None = None) -> Heads:
    """The profile and log-counts heads of a model with outputs ``names`` of ``shapes`` (per sequence).

    ``spec`` is ``--heads`` (``PROFILE,COUNTS``); ``output`` is ``--output``, which picks the
    profile head among several.  Raises :class:`TargetError` when the heads are ambiguous.
    """
    if spec:
        return _named(names, shapes, spec)
    profiles = [i for i, (name, shape) in enumerate(zip(names, shapes)) if is_profile(name, shape)]
    others = [i for i in range(len(names)) if i not in profiles]
    if len(profiles) > 1:
        chosen = [i for i in profiles if output is not None and str(output) in (names[i], str(i))]
        if not chosen:
            raise TargetError(f"the model has several profile outputs ({', '.join(names[i] for i in profiles)}); "
                              + REMEDY)
        profiles = chosen
    if profiles:
        return Heads(profiles[0], _counts_beside(names, others))
    single = [i for i in others if tuple(shapes[i]) in ((1,), ()) and "count" in names[i].lower()]
    return Heads(None, single[0] if len(single) == 1 else None)
