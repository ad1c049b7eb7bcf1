"""Assertions shared by the test modules."""

from __future__ import annotations

import numpy as np

#: Summation-to-delta tolerance, relative to 1 + |Δt| (float32 round-off on these models).
TOLERANCE = 1e-5


def assert_sums_to_delta(contributions, predictions, reference_predictions, deltas=None, tol: float = TOLERANCE):
    """Summation-to-delta for n sequences against K references each.

    Parameters
    ----------
    contributions : (n, L, 4) projected scores (mean over references), or None to skip the mean check.
    predictions : (n,) t(x).
    reference_predictions : (n, K) t(r_k).
    deltas : (n, K) per-pair residuals t(x) − t(r_k) − Σ m_k·(x − r_k), or None to skip.

    Per pair |delta| ≤ tol·(1 + |Δt|); Σ contributions = mean_k Δt within tol·(1 + max |Δt|).
    """
    dt = np.asarray(predictions)[:, None] - np.asarray(reference_predictions)
    if deltas is not None:
        deltas = np.asarray(deltas)
        assert deltas.shape == dt.shape, (deltas.shape, dt.shape)
        worst = np.abs(deltas) / (1 + np.abs(dt))
        assert np.all(worst <= tol), f"per-pair |delta| up to {worst.max():.2e}·(1+|Δt|) > {tol:.0e}"
    if contributions is not None:
        np.testing.assert_allclose(np.asarray(contributions).sum(axis=(1, 2)), dt.mean(axis=1),
                                   atol=tol * (1 + np.abs(dt).max()))


def assert_result_sums_to_delta(res, tol: float = TOLERANCE):
    """:func:`assert_sums_to_delta` on an attribution result (its contributions, predictions and deltas)."""
    assert_sums_to_delta(res.contributions, res.predictions, res.reference_predictions, res.deltas, tol)


def save_load(model, tmp_path, name: str = "m.keras"):
    """Save a Keras model under tmp_path and read it back as genolift does (a Graph)."""
    import genolift

    path = tmp_path / name
    model.save(path)
    return genolift.load_model(path)


def score_example(out, shuffles: int, chunk_size: int, *extra):
    """``genolift score`` of the shipped example model on the example FASTA, in-process; the output path."""
    from click.testing import CliRunner

    from genolift.cli.main import cli

    from .conftest import TEST_DATA

    result = CliRunner().invoke(cli, ["score", str(TEST_DATA / "example_model.h5"), str(TEST_DATA / "example_seqs.fa"),
                                      "-k", str(shuffles), "--chunk-size", str(chunk_size), "-q", "-o", str(out),
                                      *extra])
    assert result.exit_code == 0, result.output
    return out


def tiered(values, fast) -> list:
    """pytest params of ``values``, those not in ``fast`` marked slow (the fast tier runs a few cases)."""
    import pytest

    return [pytest.param(v, marks=[] if v in fast else [pytest.mark.slow]) for v in values]
