"""Symbolic derivations (sympy) behind the surrogate analysis (DESIGN.md §3, claims T4 and T6).

Every derivation returns a :class:`Derivation`: the sympy result, a LaTeX string for the report and
the residual of the check it passed (an expression that simplifies to zero). Nothing is asserted by
hand: moments come from differentiating the Gaussian moment-generating function, cumulants from the
series of a logarithm, variances from those moments, and the Barlow Twins form from substituting
the stated assumptions into the second-order Taylor-DV objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp


@dataclass(frozen=True)
class Derivation:
    """A derived identity: ``result`` (sympy objects), its ``latex`` and the ``residual`` of the
    check it passed (``sympy.simplify(residual) == 0`` was verified before returning)."""

    name: str
    result: Any
    latex: str
    residual: sp.Expr


def _verified(name: str, result: Any, latex: str, residual: sp.Expr) -> Derivation:
    residual = sp.simplify(sp.expand(residual))
    if residual != 0:
        raise ArithmeticError(f"derivation {name!r} failed its check; residual {residual}")
    return Derivation(name, result, latex, residual)


def symmetric_matrix(name: str, dim: int) -> sp.Matrix:
    """A symbolic symmetric ``dim``×``dim`` matrix with entries ``name_ij`` (i ≤ j, 1-based)."""
    if not (isinstance(dim, int) and dim >= 1):
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    syms = {(i, j): sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True) for i in range(dim)
            for j in range(i, dim)}
    return sp.Matrix(dim, dim, lambda i, j: syms[(min(i, j), max(i, j))])


def gaussian_moment(indices: Sequence[int], sigma: sp.Matrix) -> sp.Expr:
    """E[x_{i1} ⋯ x_{in}] for x ~ N(0, Σ), derived from the moment-generating function.

    M(t) = exp(½ tᵀΣt); the moment is ∂ⁿM/∂t_{i1}⋯∂t_{in} at t = 0. Derivatives in distinct
    variables commute with setting the other variables to zero, so each t_i is set to 0 as soon as
    its last derivative is taken (this keeps the expression small; the result is unchanged).
    """
    sigma = sp.Matrix(sigma)
    if sigma.shape[0] != sigma.shape[1] or sigma != sigma.T:
        raise ValueError(f"sigma must be a symmetric square matrix, got shape {sigma.shape}")
    dim = sigma.shape[0]
    idx = sorted(int(i) for i in indices)
    if any(i < 0 or i >= dim for i in idx):
        raise ValueError(f"indices must lie in [0, {dim - 1}], got {list(indices)}")
    t = sp.symbols(f"t0:{dim}", real=True)
    tvec = sp.Matrix(t)
    expr = sp.exp((tvec.T * sigma * tvec)[0, 0] / 2)
    for pos, i in enumerate(idx):
        expr = sp.diff(expr, t[i])
        if pos + 1 == len(idx) or idx[pos + 1] != i:
            expr = expr.subs(t[i], 0)
    return sp.expand(expr.subs({ti: 0 for ti in t}))


def isserlis_pairing_sum(indices: Sequence[int], sigma: sp.Matrix) -> sp.Expr:
    """Σ over perfect matchings of Π σ_{pair} (the Isserlis/Wick formula); 0 for an odd count."""
    idx = list(indices)
    if len(idx) % 2:
        return sp.Integer(0)
    if not idx:
        return sp.Integer(1)
    first, rest = idx[0], idx[1:]
    total = sp.Integer(0)
    for k, partner in enumerate(rest):
        total += sigma[first, partner] * isserlis_pairing_sum(rest[:k] + rest[k + 1:], sigma)
    return sp.expand(total)


def _isserlis(order: int) -> Derivation:
    sigma = symmetric_matrix(r"\sigma", order)
    idx = list(range(order))
    moment = gaussian_moment(idx, sigma)
    pairing = isserlis_pairing_sum(idx, sigma)
    lhs = r"\mathbb{E}[" + " ".join(f"x_{{{i + 1}}}" for i in idx) + "]"
    latex = (
        r"\left.\frac{\partial^{" + str(order) + "}}{"
        + " ".join(rf"\partial t_{{{i + 1}}}" for i in idx)
        + r"}\, e^{\frac12 t^\top \Sigma t}\right|_{t=0} = " + lhs + " = " + sp.latex(moment)
    )
    n_terms = len(sp.Add.make_args(moment))
    return _verified(f"isserlis_{order}", {"moment": moment, "n_pairings": n_terms}, latex,
                     moment - pairing)


def isserlis_fourth() -> Derivation:
    """E[x1x2x3x4] = σ12σ34 + σ13σ24 + σ14σ23 from the Gaussian MGF (3 pairings)."""
    return _isserlis(4)


def isserlis_sixth() -> Derivation:
    """E[x1⋯x6] from the Gaussian MGF: the sum over the 15 pairings."""
    return _isserlis(6)


def cumulant_expansion(order: int = 4) -> Derivation:
    """log E e^{sT} = Σ_{n≤order} κ_n sⁿ/n! + O(s^{order+1}), κ_n in terms of raw moments m_n.

    Derived as the Taylor series in s of log(1 + Σ_n m_n sⁿ/n!). ``result`` maps n → κ_n(m_1..m_n).
    The check: exp of the truncated cumulant series reproduces the moment series to that order.
    """
    if not (isinstance(order, int) and 1 <= order <= 8):
        raise ValueError(f"order must be an integer in [1, 8], got {order!r}")
    s = sp.Symbol("s")
    m = sp.symbols(f"m1:{order + 1}", real=True)
    mgf = 1 + sum(m[n - 1] * s**n / sp.factorial(n) for n in range(1, order + 1))
    series = sp.series(sp.log(mgf), s, 0, order + 1).removeO()
    kappas = {n: sp.expand(series.coeff(s, n) * sp.factorial(n)) for n in range(1, order + 1)}
    back = sp.series(sp.exp(sum(kappas[n] * s**n / sp.factorial(n) for n in kappas)), s, 0,
                     order + 1).removeO()
    latex = r"\log \mathbb{E}\, e^{sT} = " + " + ".join(
        rf"\frac{{s^{{{n}}}}}{{{sp.factorial(n)}}}\left({sp.latex(kappas[n])}\right)"
        for n in kappas) + rf" + O(s^{{{order + 1}}})"
    return _verified(f"cumulants_{order}", kappas, latex, sp.expand(back - mgf))


def bilinear_variances(dim: int) -> Derivation:
    """Var_joint[T] and Var_marg[T] for T = Σ_k a_k b_k, (a, b) zero-mean jointly Gaussian.

    Joint covariance [[C^aa, C^ab], [C^abᵀ, C^bb]]; E[T²] = Σ_kl E[a_k b_k a_l b_l] from
    :func:`gaussian_moment` (4th order), E[T] = tr C^ab. Under the product of marginals C^ab = 0.
    Checked against DESIGN.md §3: Var_joint = Σ_kl (C^aa_kl C^bb_kl + C^ab_kl C^ab_lk),
    Var_marg = Σ_kl C^aa_kl C^bb_kl.
    """
    if not (isinstance(dim, int) and 1 <= dim <= 4):
        raise ValueError(f"dim must be an integer in [1, 4] (symbolic cost), got {dim!r}")
    caa, cbb = symmetric_matrix("Caa", dim), symmetric_matrix("Cbb", dim)
    cab = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"Cab_{i + 1}{j + 1}", real=True))
    joint = sp.Matrix(sp.BlockMatrix([[caa, cab], [cab.T, cbb]]))

    def variance(cov: sp.Matrix) -> sp.Expr:
        second = sum(gaussian_moment([k, dim + k, l, dim + l], cov)
                     for k in range(dim) for l in range(dim))
        mean = sum(cov[k, dim + k] for k in range(dim))
        return sp.expand(second - mean**2)

    var_joint = variance(joint)
    marg = sp.Matrix(sp.BlockMatrix([[caa, sp.zeros(dim)], [sp.zeros(dim), cbb]]))
    var_marg = variance(marg)
    rng = range(dim)
    formula_joint = sum(caa[k, l] * cbb[k, l] + cab[k, l] * cab[l, k] for k in rng for l in rng)
    formula_marg = sum(caa[k, l] * cbb[k, l] for k in rng for l in rng)
    latex = (
        r"\mathrm{Var}_{\mathrm{joint}}[T] = \sum_{k,l}\left(C^{aa}_{kl}C^{bb}_{kl} + "
        r"C^{ab}_{kl}C^{ab}_{lk}\right),\quad \mathrm{Var}_{\mathrm{marg}}[T] = "
        r"\sum_{k,l} C^{aa}_{kl}C^{bb}_{kl}\qquad (T=\textstyle\sum_k a_k b_k,\ d=" + f"{dim})"
    )
    result = {"var_joint": var_joint, "var_marg": var_marg, "C_aa": caa, "C_bb": cbb, "C_ab": cab}
    residual = (var_joint - formula_joint) ** 2 + (var_marg - formula_marg) ** 2
    return _verified(f"bilinear_variances_{dim}", result, latex, residual)


def taylor_dv_barlow_reduction(dim: int) -> Derivation:
    """Second-order Taylor-DV → Barlow Twins, with the exact constant and scaling.

    Taylor-DV objective for T = s·Σ_k a_k b_k (DESIGN.md §3):
        L_TDV = s·tr C^ab − ½ s² Σ_kl C^aa_kl C^bb_kl.
    Assumption A (near-aligned views): C^aa = C^bb = C^ab = C, entrywise. Then
        L_TDV = d/2 − (s²/2)·[Σ_k (1/s − C_kk)² + Σ_{k≠l} C_kl²],
    i.e. at s = 1: L_TDV = d/2 − ½·L_BT(C; λ = 1) with L_BT = Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl².
    For s ≠ 1 the invariance target is 1/s and the overall weight s²/2 (equivalently λ = 1 with
    targets 1/s). Without assumption A the exact residual is
        L_TDV − [d/2 − (s²/2) L_BT^{(1/s)}(C^ab)] = −½ s² Σ_kl (C^aa_kl C^bb_kl − (C^ab_kl)²),
    which for standardized features (C^aa_kk = C^bb_kk = 1) splits into a diagonal part
    −½ s² Σ_k (1 − (C^ab_kk)²) and an off-diagonal part −½ s² Σ_{k≠l}(C^aa_kl C^bb_kl − C^ab_kl²).
    Without the diagonal assumption, standardized features give exactly
        L_TDV = −s Σ_k (1 − C^ab_kk) + s d − ½ s² d − ½ s² Σ_{k≠l} C^aa_kl C^bb_kl:
    a *linear* invariance term (= (s/2)·Σ_k E(a_k − b_k)², VICReg's MSE) plus the redundancy
    term. The diagonal residual ≈ −s² Σ_k (1 − C_kk) near alignment is first order in the
    misalignment, as large as the invariance term itself, so Barlow Twins' *squared* invariance
    is the assumption's doing, not a consequence of the expansion.
    ``result`` holds these expressions; the check verifies all three identities for symbolic C, s.
    """
    if not (isinstance(dim, int) and 1 <= dim <= 6):
        raise ValueError(f"dim must be an integer in [1, 6], got {dim!r}")
    s = sp.Symbol("s", positive=True)
    caa, cbb = symmetric_matrix("Caa", dim), symmetric_matrix("Cbb", dim)
    c_sym = symmetric_matrix("C", dim)
    cab = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"Cab_{i + 1}{j + 1}", real=True))
    rng = range(dim)

    def taylor(c_aa: sp.Matrix, c_bb: sp.Matrix, c_ab: sp.Matrix) -> sp.Expr:
        return s * c_ab.trace() - s**2 / 2 * sum(c_aa[k, l] * c_bb[k, l] for k in rng for l in rng)

    def barlow(c: sp.Matrix, target: sp.Expr, lam: sp.Expr) -> sp.Expr:
        inv = sum((target - c[k, k]) ** 2 for k in rng)
        red = sum(c[k, l] ** 2 for k in rng for l in rng if k != l)
        return inv + lam * red

    l_tdv = taylor(caa, cbb, cab)
    l_assumed = taylor(c_sym, c_sym, c_sym)
    bt_assumed = sp.Rational(dim, 2) - s**2 / 2 * barlow(c_sym, 1 / s, 1)
    bt_form = sp.Rational(dim, 2) - s**2 / 2 * barlow(cab, 1 / s, 1)
    residual_exact = -s**2 / 2 * sum(caa[k, l] * cbb[k, l] - cab[k, l] ** 2
                                     for k in rng for l in rng)
    std = {caa[k, k]: 1 for k in rng} | {cbb[k, k]: 1 for k in rng}
    diag_part = -s**2 / 2 * sum(1 - cab[k, k] ** 2 for k in rng)
    offdiag_part = -s**2 / 2 * sum(caa[k, l] * cbb[k, l] - cab[k, l] ** 2
                                   for k in rng for l in rng if k != l)
    standardized = sp.expand(l_tdv.subs(std))
    linear_form = (-s * sum(1 - cab[k, k] for k in rng) + s * dim - s**2 * dim / 2
                   - s**2 / 2 * sum(caa[k, l] * cbb[k, l] for k in rng for l in rng if k != l))
    at_s1 = (l_assumed - (sp.Rational(dim, 2) - barlow(c_sym, 1, 1) / 2)).subs(s, 1)
    check = ((l_assumed - bt_assumed) ** 2 + (l_tdv - bt_form - residual_exact) ** 2
             + (residual_exact.subs(std) - diag_part - offdiag_part) ** 2 + at_s1**2
             + (standardized - linear_form) ** 2)
    latex = (
        r"L_{\mathrm{TDV}} = s\,\mathrm{tr}\,C^{ab} - "
        r"\tfrac{s^2}{2}\sum_{k,l}C^{aa}_{kl}C^{bb}_{kl}"
        r"\;\overset{C^{aa}=C^{bb}=C^{ab}=C}{=}\; \frac{d}{2} - \frac{s^2}{2}\Big[\sum_k"
        r"\big(\tfrac1s - C_{kk}\big)^2 + \sum_{k\neq l} C_{kl}^2\Big]"
        r"\;\overset{s=1}{=}\; \frac{d}{2} - \frac12 L_{\mathrm{BT}}(C;\lambda=1);\quad"
        r" \text{residual } = "
        r"-\tfrac{s^2}{2}\sum_{k,l}\big(C^{aa}_{kl}C^{bb}_{kl}-(C^{ab}_{kl})^2\big)"
    )
    result = {"taylor_dv": l_tdv, "taylor_dv_assumed": sp.expand(l_assumed),
              "barlow_form_assumed": sp.expand(bt_assumed), "barlow_form": sp.expand(bt_form),
              "residual": residual_exact, "taylor_dv_standardized": standardized,
              "residual_diagonal": diag_part, "residual_offdiagonal": offdiag_part,
              "s": s, "C": c_sym, "C_aa": caa, "C_bb": cbb, "C_ab": cab}
    return _verified(f"taylor_dv_barlow_{dim}", result, latex, check)


def all_derivations() -> list[Derivation]:
    """The derivations the report prints (small dimensions, a few seconds in total)."""
    return [isserlis_fourth(), isserlis_sixth(), cumulant_expansion(4), bilinear_variances(2),
            taylor_dv_barlow_reduction(3)]
