"""Non-Gaussian sources, mixtures and the exact bilinear marginal term."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mitheory.closed_forms import bilinear_log_partition
from mitheory.nongaussian import LinearMixture, Source, bilinear_marginal_term

FAMILIES = [Source("gaussian"), Source("laplace"), Source("student_t", (12.0,)),
            Source("uniform"), Source("rademacher"), Source("gsm", (0.2, 2.5)),
            Source("exponential"), Source("skew_normal", (4.0,)), Source("bernoulli", (0.2,))]


@pytest.mark.parametrize("src", FAMILIES, ids=lambda s: s.name)
def test_sample_moments_match_closed_forms(src: Source) -> None:
    # raw moments of a zero-mean unit-variance source; SE of each sample mean of x^k is
    # sd(x^k)/√n (estimated; every family here has finite 8th moments); 5 SE (zero SE for a
    # degenerate x^k, e.g. Rademacher x², with 1e-12 for rounding).
    n = 200_000
    x = src.sample(n, np.random.default_rng(0))
    for k, target in ((1, 0.0), (2, 1.0), (3, src.skewness), (4, src.excess_kurtosis + 3)):
        se = (x**k).std() / math.sqrt(n)
        assert abs((x**k).mean() - target) <= 5 * se + 1e-12, (k, (x**k).mean(), target)


@pytest.mark.parametrize("src", [s for s in FAMILIES if s.family != "student_t"],
                         ids=lambda s: s.name)
def test_log_mgf_matches_monte_carlo(src: Source) -> None:
    n = 200_000
    x = src.sample(n, np.random.default_rng(1))
    for t in (-0.4, 0.3):
        e = np.exp(t * x)
        se = e.std() / e.mean() / math.sqrt(n)  # delta method for log of a mean
        assert abs(math.log(e.mean()) - float(src.log_mgf(np.array(t)))) < 5 * se


def test_student_t_has_no_mgf_and_domains_are_open() -> None:
    assert np.isinf(Source("student_t", (6.0,)).log_mgf(np.array([0.1, -0.1]))).all()
    assert float(Source("student_t", (6.0,)).log_mgf(np.array(0.0))) == 0.0
    assert np.isinf(Source("laplace").log_mgf(np.array(math.sqrt(2))))
    assert np.isinf(Source("exponential").log_mgf(np.array(1.0)))
    assert Source("student_t", (6.0,)).excess_kurtosis == pytest.approx(3.0)


def test_mixture_has_the_requested_covariance_and_cumulant() -> None:
    cov = np.array([[1.0, 0.4, 0.1], [0.4, 2.0, -0.3], [0.1, -0.3, 1.5]])
    mix = LinearMixture.with_covariance(Source("laplace"), cov)
    assert np.allclose(mix.covariance, cov, atol=1e-12)
    a = mix.mixing
    assert mix.fourth_cumulant()[0, 1, 2, 2] == pytest.approx(3.0 * np.sum(a[0] * a[1] * a[2]**2))
    assert np.allclose(LinearMixture.with_covariance(Source("gaussian"), cov).fourth_cumulant(), 0)


def _views(sa: Source, sb: Source, d: int) -> tuple[LinearMixture, LinearMixture]:
    return LinearMixture((sa,) * d, np.eye(d)), LinearMixture((sb,) * d, np.eye(d))


def test_gaussian_sources_give_the_gaussian_closed_form() -> None:
    g = np.array([[0.3, -0.2], [0.1, 0.25]])
    r = bilinear_marginal_term(*_views(Source("gaussian"), Source("gaussian"), 2), g)
    assert r.method == "gaussian-mixture-enumeration" and r.se == 0
    assert r.value == pytest.approx(bilinear_log_partition(g, np.eye(2), np.eye(2)), abs=1e-14)
    assert r.value == pytest.approx(r.gaussian, abs=1e-14)


def test_discrete_sources_match_one_dimensional_closed_forms() -> None:
    g = np.array([[0.7]])
    r = bilinear_marginal_term(*_views(Source("rademacher"), Source("rademacher"), 1), g)
    assert r.method == "enumeration" and r.value == pytest.approx(math.log(math.cosh(0.7)))
    r = bilinear_marginal_term(*_views(Source("uniform"), Source("rademacher"), 1), g)
    y = 0.7 * math.sqrt(3)  # E cosh(g u), u uniform on ±√3: sinh(√3 g)/(√3 g)
    assert r.method == "enumeration" and r.value == pytest.approx(math.log(math.sinh(y) / y))


@pytest.mark.parametrize("sa, sb", [(Source("rademacher"), Source("bernoulli", (0.2,))),
                                    (Source("bernoulli", (0.3,)), Source("bernoulli", (0.1,)))])
def test_cumulant_formulas_match_exact_enumeration(sa: Source, sb: Source) -> None:
    g = np.array([[0.5, -0.3], [0.2, 0.4]])
    r = bilinear_marginal_term(*_views(sa, sb, 2), g)
    (va, pa), (vb, pb) = sa.atoms, sb.atoms
    t, w = [], []
    for s in itertools.product(range(2), repeat=2):
        for u in itertools.product(range(2), repeat=2):
            t.append(np.array(va[list(s)]) @ g @ np.array(vb[list(u)]))
            w.append(np.prod(pa[list(s)]) * np.prod(pb[list(u)]))
    t, w = np.array(t), np.array(w)
    m = [float(w @ t**k) for k in range(1, 5)]
    assert m[0] == pytest.approx(0.0, abs=1e-14)
    assert 2 * r.taylor2 == pytest.approx(m[1], abs=1e-13)
    assert r.kappa3 == pytest.approx(m[2], abs=1e-13)
    assert r.kappa4 == pytest.approx(m[3] - 3 * m[1] ** 2, abs=1e-13)
    assert r.value == pytest.approx(math.log(w @ np.exp(t)), abs=1e-13)


def test_monte_carlo_path_agrees_with_exact_paths() -> None:
    # forced Monte Carlo vs exact enumeration/closed form; tolerance 4 SE (delta-method SE).
    # Finite MC variance needs 2·v_max²·ρ(GᵀG) < 1 (v_max = 2.5 for this scale mixture).
    g = np.array([[0.15, -0.1], [0.05, 0.125]])
    for src in (Source("gaussian"), Source("gsm", (0.2, 2.5))):
        views = _views(src, src, 2)
        exact = bilinear_marginal_term(*views, g)
        mc = bilinear_marginal_term(*views, g, n_mc=100_000, seed=3, method="mc")
        assert mc.method == "conditional-mc" and mc.se > 0
        assert abs(mc.value - exact.value) < 4 * mc.se
        assert mc.se < 0.01 * abs(exact.taylor_error)  # resolves the Taylor error


def test_uniform_monte_carlo_matches_quadrature() -> None:
    # Uniform × uniform (d = 2) has no enumeration: compare conditional MC with a 2-D
    # Gauss–Legendre quadrature over the conditioning side (entire integrand: exact to 1e-12).
    g = np.array([[0.3, -0.2], [0.1, 0.25]])
    src = Source("uniform")
    r = bilinear_marginal_term(*_views(src, src, 2), g, n_mc=100_000, seed=4)
    nodes, weights = np.polynomial.legendre.leggauss(40)
    nodes, weights = nodes * math.sqrt(3), weights / 2
    s = np.array(list(itertools.product(nodes, nodes)))
    w = np.prod(np.array(list(itertools.product(weights, weights))), axis=1)
    c = s @ g
    exact = math.log(w @ np.exp(src.log_mgf(c[:, 0]) + src.log_mgf(c[:, 1])))
    assert r.method == "conditional-mc"
    assert abs(r.value - exact) < 4 * r.se


def test_infinite_and_finite_cases_are_decided_correctly() -> None:
    g_small, g_big = np.array([[0.5]]), np.array([[1.0]])
    lap, gau, uni = Source("laplace"), Source("gaussian"), Source("uniform")
    assert bilinear_marginal_term(*_views(lap, gau, 1), g_small).method == "infinite"
    assert bilinear_marginal_term(*_views(Source("student_t", (9.0,)), uni, 1),
                                  g_small).method == "infinite"
    # Laplace × uniform: E_u[1/(1 − g²u²/2)] = log((1+√(3c))/(1−√(3c)))/(2√(3c)), c = g²/2,
    # finite iff √3 g < √2
    r = bilinear_marginal_term(*_views(lap, uni, 1), g_small)
    c = 0.5**2 / 2
    exact = math.log(math.log((1 + math.sqrt(3 * c)) / (1 - math.sqrt(3 * c)))
                     / (2 * math.sqrt(3 * c)))
    assert abs(r.value - exact) < 4 * r.se
    assert bilinear_marginal_term(*_views(lap, uni, 1), g_big).method == "infinite"
    # Gaussian tails: finite iff ρ(GᵀG) < 1
    assert bilinear_marginal_term(*_views(gau, gau, 1), g_big).method == "infinite"
    with pytest.raises(ValueError, match="cannot decide"):
        bilinear_marginal_term(*_views(Source("exponential"), Source("exponential"), 1),
                               np.array([[-0.5]]))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: Source("cauchy"), ValueError, "family"),
    (lambda: Source("student_t", (3.0,)), ValueError, "ν > 4"),
    (lambda: Source("student_t"), ValueError, "parameter"),
    (lambda: Source("gsm", (0.5, 3.0)), ValueError, "v_lo"),
    (lambda: Source("bernoulli", (1.0,)), ValueError, "p in"),
    (lambda: Source("gaussian", ("a",)), ValueError, "parameter"),
    (lambda: Source("skew_normal", ("a",)), TypeError, "real number"),
    (lambda: Source("uniform").sample(0, np.random.default_rng(0)), ValueError, "positive"),
    (lambda: Source("uniform").sample(3, 0), TypeError, "Generator"),
    (lambda: LinearMixture((Source("uniform"),), np.eye(2)), ValueError, "column per source"),
    (lambda: LinearMixture.with_covariance(Source("uniform"), -np.eye(2)), ValueError,
     "positive definite"),
    (lambda: bilinear_marginal_term(*_views(Source("uniform"), Source("uniform"), 2),
                                    np.eye(3)), ValueError, "shape"),
    (lambda: bilinear_marginal_term(*_views(Source("uniform"), Source("uniform"), 1),
                                    np.eye(1), n_mc=10), ValueError, "n_mc"),
    (lambda: bilinear_marginal_term(*_views(Source("uniform"), Source("uniform"), 1),
                                    np.eye(1), method="exact"), ValueError, "method"),
    (lambda: bilinear_marginal_term(np.eye(2), np.eye(2), np.eye(2)), TypeError,
     "LinearMixture"),
])
def test_bad_input_is_rejected(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_report_sections_write_figures_and_return_claims(tmp_path) -> None:
    from mitheory.claims.surrogate_error import report_sections

    sections = report_sections(quick=True, seed=0, out=tmp_path)
    claims = {c.id: c for s in sections for c in s.claims}
    assert sorted(claims) == ["T4", "T5", "T6"]
    assert all("|" not in c.detail for c in claims.values())  # details go into a Markdown table
    for s in sections:
        for fig in s.figures:
            data = (tmp_path / fig).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert "|" in s.markdown and s.data
    assert "$$" in sections[0].markdown and "L_{\\mathrm{BT}}" in sections[2].markdown
    assert claims["T6"].figure < 1e-9  # the aligned-batch reduction
    import json

    json.dumps([s.data for s in sections], allow_nan=False)  # results.json must accept it
