"""Non-Gaussian families with controlled second moments, and their exact marginal terms (T4, T5).

A :class:`Source` is a zero-mean, unit-variance scalar distribution with closed-form skewness,
excess kurtosis and moment-generating function. A :class:`LinearMixture` x = A s of independent
sources has covariance A Aᵀ (so it matches any chosen Gaussian) and 4th joint cumulant
κ_ijkl = Σ_m A_im A_jm A_km A_lm κ4(s_m) — the amount by which Isserlis fails.

For the bilinear critic T = aᵀ W b with a = A s, b = B u independent (product of marginals),
T = sᵀ G u with G = Aᵀ W B, and conditionally on s

    E_u[e^T | s] = Π_n M_{u_n}((Gᵀ s)_n),

the product of the sources' MGFs. :func:`bilinear_marginal_term` uses this to compute
M = log E e^T exactly by enumeration when the conditioning side is discrete or both sides are
Gaussian scale mixtures, and otherwise by Monte Carlo over the conditioning side only, with
polynomial control variates whose means are known in closed form. It also decides when M = +∞
(tails of T heavier than exponential), which is the case for many heavy-tailed families.
All values in nats.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr

from mitheory.closed_forms import RHO_LIMIT, bilinear_log_partition

FAMILIES = ("gaussian", "laplace", "student_t", "uniform", "rademacher", "gsm", "exponential",
            "skew_normal", "bernoulli")
_MAX_ENUMERATION = 4096


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


@dataclass(frozen=True)
class Source:
    """A zero-mean, unit-variance scalar source.

    ``family`` is one of :data:`FAMILIES`; ``params`` are the family's parameters:
    ``student_t`` (ν > 4), ``gsm`` (p, v_hi): variance V = v_hi with probability p, else
    v_lo = (1 − p v_hi)/(1 − p) ≥ 0 (requires v_hi > 1, p v_hi ≤ 1), ``skew_normal`` (α),
    ``bernoulli`` (p ∈ (0, 1)), standardized; the others take none.
    """

    family: str
    params: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        n_params = {"student_t": 1, "gsm": 2, "skew_normal": 1, "bernoulli": 1}.get(self.family, 0)
        if not isinstance(self.params, tuple) or len(self.params) != n_params:
            raise ValueError(f"family {self.family!r} takes {n_params} parameter(s) as a tuple, "
                             f"got {self.params!r}")
        p = tuple(_real(v, f"{self.family} parameter") for v in self.params)
        object.__setattr__(self, "params", p)
        if self.family == "student_t" and not p[0] > 4:
            raise ValueError(f"student_t needs ν > 4 (finite kurtosis), got ν = {p[0]}")
        if self.family == "gsm":
            prob, v_hi = p
            if not (0 < prob < 1 and v_hi > 1 and prob * v_hi <= 1):
                raise ValueError(f"gsm needs 0 < p < 1, v_hi > 1 and p·v_hi ≤ 1 (so v_lo ≥ 0), "
                                 f"got p = {prob}, v_hi = {v_hi}")
        if self.family == "bernoulli" and not 0 < p[0] < 1:
            raise ValueError(f"bernoulli needs p in (0, 1), got {p[0]}")

    @property
    def name(self) -> str:
        """A stable label, e.g. ``student_t(6)``."""
        if not self.params:
            return self.family
        return f"{self.family}({', '.join(f'{v:g}' for v in self.params)})"

    # -- closed-form properties ---------------------------------------------------------------

    def _skew_normal_consts(self) -> tuple[float, float, float]:
        delta = self.params[0] / math.sqrt(1 + self.params[0] ** 2)
        mu_z = delta * math.sqrt(2 / math.pi)
        omega = 1 / math.sqrt(1 - mu_z**2)
        return delta, omega, -omega * mu_z

    def _gsm_variances(self) -> tuple[np.ndarray, np.ndarray]:
        prob, v_hi = self.params
        return np.array([v_hi, (1 - prob * v_hi) / (1 - prob)]), np.array([prob, 1 - prob])

    @property
    def skewness(self) -> float:
        """E[s³] (= skewness, unit variance)."""
        if self.family == "exponential":
            return 2.0
        if self.family == "bernoulli":
            p = self.params[0]
            return (1 - 2 * p) / math.sqrt(p * (1 - p))
        if self.family == "skew_normal":
            delta = self._skew_normal_consts()[0]
            mu_z = delta * math.sqrt(2 / math.pi)
            return (4 - math.pi) / 2 * mu_z**3 / (1 - mu_z**2) ** 1.5
        return 0.0

    @property
    def excess_kurtosis(self) -> float:
        """κ4 = E[s⁴] − 3 (unit variance), closed form."""
        f = self.family
        if f == "gaussian":
            return 0.0
        if f == "laplace":
            return 3.0
        if f == "student_t":
            return 6 / (self.params[0] - 4)
        if f == "uniform":
            return -1.2
        if f == "rademacher":
            return -2.0
        if f == "gsm":
            v, w = self._gsm_variances()
            return 3 * (float(w @ v**2) - 1)
        if f == "exponential":
            return 6.0
        if f == "bernoulli":
            pq = self.params[0] * (1 - self.params[0])
            return (1 - 6 * pq) / pq
        delta = self._skew_normal_consts()[0]
        mu_z = delta * math.sqrt(2 / math.pi)
        return 2 * (math.pi - 3) * mu_z**4 / (1 - mu_z**2) ** 2

    @property
    def support(self) -> tuple[float, float]:
        """Closed interval holding the support."""
        if self.family == "uniform":
            return (-math.sqrt(3), math.sqrt(3))
        if self.family in ("rademacher", "bernoulli"):
            vals = self.atoms[0]
            return (float(vals.min()), float(vals.max()))
        if self.family == "exponential":
            return (-1.0, math.inf)
        return (-math.inf, math.inf)

    @property
    def mgf_domain(self) -> tuple[float, float]:
        """Open interval of t where E e^{ts} < ∞ (``(0, 0)`` means only t = 0)."""
        if self.family == "laplace":
            return (-math.sqrt(2), math.sqrt(2))
        if self.family == "student_t":
            return (0.0, 0.0)
        if self.family == "exponential":
            return (-math.inf, 1.0)
        return (-math.inf, math.inf)

    @property
    def tail(self) -> tuple[str, float]:
        """Tail class and scale: ("bounded", 0), ("gaussian", τ) with log M(t) ~ τ t²/2, or
        ("heavy", inf) for tails heavier than Gaussian."""
        if self.family in ("uniform", "rademacher", "bernoulli"):
            return ("bounded", 0.0)
        if self.family == "gaussian":
            return ("gaussian", 1.0)
        if self.family == "gsm":
            return ("gaussian", float(self._gsm_variances()[0].max()))
        if self.family == "skew_normal":
            return ("gaussian", self._skew_normal_consts()[1] ** 2)
        return ("heavy", math.inf)

    @property
    def atoms(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, probabilities) for a discrete source, else None."""
        if self.family == "rademacher":
            return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
        if self.family == "bernoulli":
            p = self.params[0]
            sd = math.sqrt(p * (1 - p))
            return np.array([-p / sd, (1 - p) / sd]), np.array([1 - p, p])
        return None

    @property
    def variance_atoms(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(variances, probabilities) when the source is a Gaussian scale mixture with discrete
        variance (Gaussian: one atom), else None."""
        if self.family == "gaussian":
            return np.array([1.0]), np.array([1.0])
        if self.family == "gsm":
            return self._gsm_variances()
        return None

    def log_mgf(self, t: np.ndarray) -> np.ndarray:
        """log E e^{t s} elementwise (+inf outside :attr:`mgf_domain`)."""
        t = np.asarray(t, dtype=np.float64)
        f = self.family
        lo, hi = self.mgf_domain
        out = np.full(t.shape, np.inf)
        ok = (t > lo) & (t < hi) if lo < hi else (t == 0)
        x = t[ok]
        if f == "gaussian":
            val = x**2 / 2
        elif f == "laplace":
            val = -np.log1p(-(x**2) / 2)
        elif f == "student_t":
            val = np.zeros_like(x)
        elif f == "uniform":
            y = np.abs(x) * math.sqrt(3)
            small = y < 1e-4
            ys = np.where(small, 1.0, y)
            val = np.where(small, y**2 / 6 - y**4 / 180,
                           ys + np.log1p(-np.exp(-2 * ys)) - math.log(2) - np.log(ys))
        elif f == "rademacher":
            y = np.abs(x)
            val = y + np.log1p(np.exp(-2 * y)) - math.log(2)
        elif f == "gsm":
            v, w = self._gsm_variances()
            val = np.logaddexp(math.log(w[0]) + v[0] * x**2 / 2, math.log(w[1]) + v[1] * x**2 / 2)
        elif f == "exponential":
            val = -x - np.log1p(-x)
        elif f == "bernoulli":
            (v0, v1), (w0, w1) = self.atoms
            val = np.logaddexp(math.log(w0) + v0 * x, math.log(w1) + v1 * x)
        else:
            delta, omega, xi = self._skew_normal_consts()
            val = math.log(2) + xi * x + omega**2 * x**2 / 2 + log_ndtr(omega * delta * x)
        out[ok] = val
        return out

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n independent draws (zero mean, unit variance)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        f = self.family
        if f == "gaussian":
            return rng.standard_normal(n)
        if f == "laplace":
            return rng.laplace(0.0, 1 / math.sqrt(2), n)
        if f == "student_t":
            nu = self.params[0]
            return rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)
        if f == "uniform":
            return rng.uniform(-math.sqrt(3), math.sqrt(3), n)
        if f == "exponential":
            return rng.standard_exponential(n) - 1.0
        if f == "gsm":
            v, w = self._gsm_variances()
            return rng.standard_normal(n) * np.sqrt(rng.choice(v, size=n, p=w))
        if f in ("rademacher", "bernoulli"):
            vals, w = self.atoms
            return rng.choice(vals, size=n, p=w)
        delta, omega, xi = self._skew_normal_consts()
        z0, z1 = np.abs(rng.standard_normal(n)), rng.standard_normal(n)
        return xi + omega * (delta * z0 + math.sqrt(1 - delta**2) * z1)


@dataclass(frozen=True)
class LinearMixture:
    """x = A s with independent unit-variance sources s (one per column of A); Cov x = A Aᵀ."""

    sources: tuple[Source, ...]
    mixing: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.sources, tuple) or not all(isinstance(s, Source)
                                                         for s in self.sources):
            raise TypeError("sources must be a tuple of Source objects")
        a = np.asarray(self.mixing, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != len(self.sources) or not np.all(np.isfinite(a)):
            raise ValueError(f"mixing must be a finite matrix [dim, {len(self.sources)}] (one "
                             f"column per source), got shape {a.shape}")
        object.__setattr__(self, "mixing", a)

    @classmethod
    def with_covariance(cls, source: Source, cov: np.ndarray) -> LinearMixture:
        """i.i.d. sources of one family mixed by the symmetric square root of ``cov``."""
        cov = np.asarray(cov, dtype=np.float64)
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or not np.allclose(cov, cov.T):
            raise ValueError(f"cov must be a symmetric square matrix, got shape {cov.shape}")
        lam, vec = np.linalg.eigh(cov)
        if lam.min() <= 0:
            raise ValueError("cov must be positive definite")
        return cls((source,) * cov.shape[0], (vec * np.sqrt(lam)) @ vec.T)

    @property
    def dim(self) -> int:
        return self.mixing.shape[0]

    @property
    def covariance(self) -> np.ndarray:
        return self.mixing @ self.mixing.T

    @property
    def source_kurtosis(self) -> np.ndarray:
        return np.array([s.excess_kurtosis for s in self.sources])

    def fourth_cumulant(self) -> np.ndarray:
        """κ_ijkl = Σ_m A_im A_jm A_km A_lm κ4(s_m) (cumulants are additive over independent
        sources and multilinear); zero for Gaussian sources."""
        a = self.mixing
        return np.einsum("im,jm,km,lm,m->ijkl", a, a, a, a, self.source_kurtosis)

    def sample(self, n: int, seed: int | np.random.Generator) -> np.ndarray:
        """n draws of x [n, dim]."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        s = np.stack([src.sample(n, rng) for src in self.sources], axis=1)
        return s @ self.mixing.T


@dataclass(frozen=True)
class MarginalTerm:
    """M = log E_{p(a)p(b)} e^{aᵀWb} (nats) with its standard error and the cumulant surrogates.

    ``method``: "enumeration" (exact), "gaussian-mixture-enumeration" (exact),
    "conditional-mc" (Monte Carlo, ``se`` > 0) or "infinite" (M = +∞, ``reason`` says why).
    ``taylor2`` = ½ Var T, ``taylor4`` = ½ κ2 + κ3/6 + κ4/24 (population cumulants of T),
    ``gaussian`` = M for Gaussian data with the same covariances (−½ log det(I − K)).
    """

    value: float
    se: float
    method: str
    taylor2: float
    taylor4: float
    kappa3: float
    kappa4: float
    gaussian: float
    reason: str = ""

    @property
    def taylor_error(self) -> float:
        """M − (E T + ½ Var T): the error of the second-order Taylor-DV surrogate."""
        return self.value - self.taylor2

    @property
    def gaussian_taylor_error(self) -> float:
        return self.gaussian - self.taylor2


def _cumulants_of_t(g: np.ndarray, ks: np.ndarray, ku: np.ndarray, m3s: np.ndarray,
                    m3u: np.ndarray) -> tuple[float, float, float]:
    """Var, κ3, κ4 of T = sᵀGu for independent unit-variance sources (derivation: E T⁴ =
    E_s[3|Gᵀs|⁴ + Σ_n κu_n (g_nᵀs)⁴] with E(sᵀHs)² = 2 tr H² + (tr H)² + Σ_i κs_i H_ii²)."""
    h = g @ g.T
    var = float(np.trace(h))
    k3 = float(np.einsum("mn,m,n->", g**3, m3s, m3u))
    col = (g**2).sum(0)
    k4 = float(6 * np.trace(h @ h) + 3 * ks @ np.diag(h) ** 2 + 3 * ku @ col**2
               + np.einsum("mn,m,n->", g**4, ks, ku))
    return var, k3, k4


def _c_range(g: np.ndarray, outer: tuple[Source, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Range of c = Gᵀs over the support box of s (interval arithmetic; 0·∞ counts as 0)."""
    lo = np.array([s.support[0] for s in outer])[:, None]
    hi = np.array([s.support[1] for s in outer])[:, None]
    with np.errstate(invalid="ignore"):
        a, b = g * lo, g * hi
    a, b = np.where(g == 0, 0.0, a), np.where(g == 0, 0.0, b)
    return np.minimum(a, b).sum(0), np.maximum(a, b).sum(0)


def _finiteness(outer: tuple[Source, ...], inner: tuple[Source, ...], g: np.ndarray
                ) -> tuple[str, str]:
    """Decide E_s Π_n M_{u_n}((Gᵀs)_n) < ∞ from this orientation: "finite", "infinite" or
    "undetermined", with the reason."""
    cmin, cmax = _c_range(g, outer)
    for n, src in enumerate(inner):
        lo, hi = src.mgf_domain
        if cmin[n] == cmax[n] == 0:
            continue
        if lo >= hi or (lo > -math.inf and cmin[n] <= lo) or (hi < math.inf and cmax[n] >= hi):
            return "infinite", (f"(Gᵀs)_{n} reaches [{cmin[n]:.3g}, {cmax[n]:.3g}] with positive "
                                f"probability, outside the MGF domain ({lo:.3g}, {hi:.3g}) of "
                                f"{src.name}")
    if all(s.tail[0] == "bounded" for s in outer):
        return "finite", "bounded conditioning side, c inside the MGF domain"
    inner_tail = [s.tail for s in inner]
    outer_tail = [s.tail for s in outer]
    if all(t == "bounded" for t, _ in inner_tail):
        if all(t != "heavy" for t, _ in outer_tail):
            return "finite", "Gaussian-tailed side against a bounded side"
        return "undetermined", "heavy-tailed conditioning side against a bounded side"
    if any(t == "heavy" for t, _ in outer_tail):
        for n, (t, _) in enumerate(inner_tail):
            if t == "gaussian" and not (math.isfinite(cmin[n]) and math.isfinite(cmax[n])):
                return "infinite", ("a heavy-tailed source meets a Gaussian-tailed one: "
                                    "E exp(τc²/2) diverges, T has tails heavier than exponential")
        return "undetermined", "heavy-tailed conditioning side"
    ts = np.sqrt(np.array([v for _, v in outer_tail]))
    tu = np.sqrt(np.array([v for _, v in inner_tail]))
    rho = float(np.linalg.norm(ts[:, None] * g * tu[None, :], 2) ** 2)
    if rho < RHO_LIMIT:  # the closed form's own limit, so enumeration never meets ρ ≥ 1
        return "finite", f"Gaussian tails with ρ = {rho:.3g} < 1"
    return "infinite", f"Gaussian tails with ρ = {rho:.3g} ≥ 1"


def _log_cond_mgf(inner: tuple[Source, ...], c: np.ndarray) -> np.ndarray:
    """Σ_n log M_{u_n}(c_n) for rows of c [n_points, n_inner]."""
    return sum(src.log_mgf(c[:, n]) for n, src in enumerate(inner))


def _enumerate_discrete(outer: tuple[Source, ...], inner: tuple[Source, ...], g: np.ndarray
                        ) -> float:
    values = [s.atoms[0] for s in outer]
    probs = [s.atoms[1] for s in outer]
    pts = np.array(list(itertools.product(*values)))
    logw = np.log(np.array(list(itertools.product(*probs)))).sum(1)
    logf = _log_cond_mgf(inner, pts @ g)
    top = (logw + logf).max()
    return float(top + np.log(np.exp(logw + logf - top).sum()))


def _enumerate_gaussian_mixtures(outer: tuple[Source, ...], inner: tuple[Source, ...],
                                 g: np.ndarray) -> float:
    """Exact M when every source is a Gaussian scale mixture with discrete variances: condition
    on all variances, use the Gaussian closed form −½ log det(I − K), average the MGFs."""
    atoms = [s.variance_atoms for s in outer + inner]
    logs, logw = [], []
    for combo in itertools.product(*[range(len(v)) for v, _ in atoms]):
        var = np.array([atoms[i][0][k] for i, k in enumerate(combo)])
        logw.append(sum(math.log(atoms[i][1][k]) for i, k in enumerate(combo)))
        p = len(outer)
        logs.append(bilinear_log_partition(g, np.diag(var[:p]), np.diag(var[p:])))
    z = np.array(logw) + np.array(logs)
    return float(z.max() + np.log(np.exp(z - z.max()).sum()))


def _control_variates(c: np.ndarray, g: np.ndarray, outer: tuple[Source, ...],
                      inner: tuple[Source, ...]) -> np.ndarray:
    """Zero-mean polynomials of c = Gᵀs with closed-form means: Σ c², Σ μ3(u) c³, Σ κ4(u) c⁴,
    (Σ c²)² (means from the source moments; see :func:`_cumulants_of_t`)."""
    ks = np.array([s.excess_kurtosis for s in outer])
    m3s = np.array([s.skewness for s in outer])
    ku = np.array([s.excess_kurtosis for s in inner])
    m3u = np.array([s.skewness for s in inner])
    h = g @ g.T
    col = (g**2).sum(0)
    sq = (c**2).sum(1)
    e_c3 = np.einsum("mn,m->n", g**3, m3s)
    e_c4 = 3 * col**2 + np.einsum("mn,m->n", g**4, ks)
    return np.stack([
        sq - np.trace(h),
        (c**3) @ m3u - e_c3 @ m3u,
        (c**4) @ ku - e_c4 @ ku,
        sq**2 - (2 * np.trace(h @ h) + np.trace(h) ** 2 + ks @ np.diag(h) ** 2),
    ], axis=1)


def _conditional_mc(outer: tuple[Source, ...], inner: tuple[Source, ...], g: np.ndarray,
                    n_mc: int, seed: int) -> tuple[float, float]:
    """log E_s[f(s)], f(s) = Π_n M_{u_n}((Gᵀs)_n), by Monte Carlo with regression control
    variates; returns (estimate, standard error by the delta method)."""
    rng = np.random.default_rng(seed)
    s = np.stack([src.sample(n_mc, rng) for src in outer], axis=1)
    c = s @ g
    f = np.exp(_log_cond_mgf(inner, c))
    h = _control_variates(c, g, outer, inner)
    keep = h.std(0) > 0
    h = h[:, keep]
    if h.shape[1]:
        hc = h - h.mean(0)
        beta, *_ = np.linalg.lstsq(hc, f - f.mean(), rcond=None)
        f = f - h @ beta
    mean = float(f.mean())
    se = float(f.std(ddof=1) / math.sqrt(n_mc))
    if not mean > 0:
        raise ArithmeticError("control-variate estimate of E e^T is not positive; raise n_mc")
    return math.log(mean), se / mean


def bilinear_marginal_term(view_a: LinearMixture, view_b: LinearMixture, weight: np.ndarray,
                           n_mc: int = 200_000, seed: int = 0, method: str = "auto"
                           ) -> MarginalTerm:
    """M = log E_{a⊥b} e^{aᵀWb} for independent non-Gaussian views, with cumulant surrogates.

    Chooses the best available computation (see the module docstring): exact enumeration when
    one side's sources are discrete (≤ 4096 atoms in all) or when every source is a discrete-
    variance Gaussian scale mixture (≤ 4096 variance combinations), else conditional Monte Carlo
    over one side with ``n_mc`` draws. ``method="mc"`` forces the Monte Carlo path (to check it
    against the exact ones). Returns ``value = inf`` when M is infinite.
    """
    if method not in ("auto", "mc"):
        raise ValueError(f"method must be 'auto' or 'mc', got {method!r}")
    for name, v in (("view_a", view_a), ("view_b", view_b)):
        if not isinstance(v, LinearMixture):
            raise TypeError(f"{name} must be a LinearMixture, got {type(v).__name__}")
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (view_a.dim, view_b.dim) or not np.all(np.isfinite(w)):
        raise ValueError(f"weight must be a finite matrix of shape ({view_a.dim}, {view_b.dim}), "
                         f"got {w.shape}")
    if isinstance(n_mc, bool) or not isinstance(n_mc, int) or n_mc < 1000:
        raise ValueError(f"n_mc must be an integer >= 1000, got {n_mc!r}")
    g = view_a.mixing.T @ w @ view_b.mixing
    sa, sb = view_a.sources, view_b.sources
    var, k3, k4 = _cumulants_of_t(g, view_a.source_kurtosis, view_b.source_kurtosis,
                                  np.array([s.skewness for s in sa]),
                                  np.array([s.skewness for s in sb]))
    taylor2 = var / 2
    taylor4 = taylor2 + k3 / 6 + k4 / 24
    rho = float(np.linalg.norm(g, 2) ** 2)
    gauss = (bilinear_log_partition(g, np.eye(len(sa)), np.eye(len(sb))) if rho < RHO_LIMIT
             else math.inf)
    base = {"taylor2": taylor2, "taylor4": taylor4, "kappa3": k3, "kappa4": k4,
            "gaussian": gauss}
    orientations = [(sa, sb, g), (sb, sa, g.T)]
    verdicts = [_finiteness(o, i, m) for o, i, m in orientations]
    for verdict, reason in verdicts:
        if verdict == "infinite":
            return MarginalTerm(math.inf, 0.0, "infinite", reason=reason, **base)
    finite = [k for k, (v, _) in enumerate(verdicts) if v == "finite"]
    if not finite:
        raise ValueError(f"cannot decide whether M is finite: {verdicts[0][1]}")
    for k in finite if method == "auto" else []:
        outer, inner, m = orientations[k]
        atoms = [s.atoms for s in outer]
        if all(a is not None for a in atoms) and math.prod(len(a[0]) for a in atoms) <= \
                _MAX_ENUMERATION:
            return MarginalTerm(_enumerate_discrete(outer, inner, m), 0.0, "enumeration", **base)
    mixtures = [s.variance_atoms for s in sa + sb]
    if method == "auto" and all(a is not None for a in mixtures) and \
            math.prod(len(a[0]) for a in mixtures) <= _MAX_ENUMERATION:
        return MarginalTerm(_enumerate_gaussian_mixtures(sa, sb, g), 0.0,
                            "gaussian-mixture-enumeration", **base)
    bounded = [k for k in finite if all(s.tail[0] == "bounded" for s in orientations[k][0])]
    k = bounded[0] if bounded else finite[0]
    outer, inner, m = orientations[k]
    if not bounded:
        ts = np.sqrt(np.array([s.tail[1] for s in outer]))
        tu = np.sqrt(np.array([s.tail[1] for s in inner]))
        rho_eff = float(np.linalg.norm(ts[:, None] * m * tu[None, :], 2) ** 2)
        if rho_eff >= 0.5:
            raise ValueError(f"Monte Carlo variance of e^T is infinite (ρ = {rho_eff:.3g} ≥ ½); "
                             "scale the critic down")
    value, se = _conditional_mc(outer, inner, m, n_mc, seed)
    return MarginalTerm(value, se, "conditional-mc", **base)


def small_scale_error_ratio(excess_kurtosis: float) -> float:
    """lim_{s→0} (M − ½ Var T) / (Gaussian error) for T = s·Σ_k a_k b_k, both views made of i.i.d.
    zero-mean, unit-variance, *symmetric* sources of excess kurtosis κ (T5):

        κ₄(T) = s⁴ (E a⁴ E b⁴ − 3) = s⁴ [(3 + κ)² − 3] per coordinate, κ₃(T) = 0,
        error = κ₄(T)/24 + O(s⁶),  Gaussian error = s⁴/4 + O(s⁶),

    so the ratio tends to [(3 + κ)² − 3]/6 = 1 + κ + κ²/6 (a = 1, b = 1/6), whatever the
    dimension. Skewed sources add κ₃(T) = s³ γ_a γ_b, so their error is O(s³) instead.
    """
    kappa = _real(excess_kurtosis, "excess_kurtosis")
    if kappa < -2.0:
        raise ValueError(f"excess kurtosis is at least −2 for any distribution, got {kappa}")
    return 1.0 + kappa + kappa**2 / 6.0
