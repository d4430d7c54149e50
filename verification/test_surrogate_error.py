"""T5: the Taylor-DV (second-order cumulant) error M − ½ Var T of a bilinear critic grows with the
excess kurtosis of the data across non-Gaussian families with identical covariances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mitheory.closed_forms import bilinear_taylor_error
from mitheory.nongaussian_study import (
    kurtosis_slope,
    random_correlation,
    study_config,
    taylor_error_rows,
)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return taylor_error_rows(study_config(quick=True, seed=0))


def test_T5_error_grows_with_excess_kurtosis(rows: list[dict]) -> None:
    # across symmetric families with finite M: OLS slope of (error / Gaussian error) on κ4 has a
    # 95 % t-interval above zero at every dimension, and the ranks agree
    for dim in study_config(quick=True, seed=0).dims:
        fit = kurtosis_slope(rows, dim)
        assert fit["n"] >= 5
        assert fit["ci_low"] > 0, fit
        assert fit["spearman"] > 0.9, fit


def test_T5_errors_are_resolved_by_the_monte_carlo(rows: list[dict]) -> None:
    # every finite error is known far better than its size (exact, or MC SE < 1 % of it)
    for r in rows:
        if r["taylor_error"] is not None:
            assert r["se"] < 0.01 * abs(r["taylor_error"]), r


def test_T5_gaussian_rows_equal_the_T3_closed_form(rows: list[dict]) -> None:
    cfg = study_config(quick=True, seed=0)
    for r in rows:
        if r["family"] == "gaussian":
            corr = random_correlation(r["dim"], cfg.seed + r["dim"])
            w = r["scale"] * np.eye(r["dim"])
            assert r["taylor_error"] == pytest.approx(bilinear_taylor_error(w, corr, corr),
                                                      rel=1e-10)


def test_T5_heavy_tails_make_the_marginal_term_infinite(rows: list[dict]) -> None:
    # exponential-or-heavier tails on both views: E e^{aᵀWb} = +∞ for every W ≠ 0, while the
    # Taylor surrogate stays finite — the error is unbounded
    for r in rows:
        if r["family"].startswith(("laplace", "student_t", "exponential")):
            assert r["M"] is None and math.isfinite(r["taylor2"]), r


def test_T5_fourth_order_surrogate_reduces_the_error(rows: list[dict]) -> None:
    for r in rows:
        if r["taylor_error"] is not None:
            assert abs(r["taylor4_error"]) < abs(r["taylor_error"]), r
