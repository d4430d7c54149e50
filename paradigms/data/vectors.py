"""Vector data: the ``gaussian-mixture`` and ``nuisance-views`` data sets and the augmentation of
vector samples.

``gaussian-mixture`` has ground-truth structure: K clusters in a low-dimensional latent space
pushed through a fixed random nonlinear map to a higher dimension (:func:`gaussian_mixture`).

``nuisance-views`` (:func:`nuisance_views`) has two views that share a label part and a nuisance
part of tunable strength s, with the MI of each part known (P9, open question 2). View v ∈ {A, B}
of a sample with label y is the concatenation

    x_v = [L_v, N_v],   L_v = μ_y + σ_l ε_v ∈ R^{d_l},   N_v = s·u_v + σ_n η_v ∈ R^k,

y uniform on {0, …, K−1}, class means μ_y ~ N(0, c² I) (fixed by the seed), ε_v, η_v ~ N(0, I)
drawn per view. Shared nuisance (``shared=True``): u_A = u_B = u ~ N(0, I_k), drawn once per
sample; the control (``shared=False``): u_A, u_B ~ N(0, I_k) independent, drawn per view. Each
view's law is the same in both cases (N_v ~ N(0, (s² + σ_n²) I_k), independent of L_v); only the
dependence between the views differs. Since (L_A, L_B) ⊥ (N_A, N_B),

    I(X_A; X_B) = I(L_A; L_B) + I(N_A; N_B)   (nats).

Nuisance part (closed form, Gaussian): with ρ = s²/(s² + σ_n²) the correlation of each nuisance
coordinate across the views, I(N_A; N_B) = −(k/2) log(1 − ρ²) when shared
(= ½ [log det Σ_A + log det Σ_B − log det Σ_AB], DESIGN.md §3), 0 when not.

Label part: the only thing the two label parts share is y (L_A − Y − L_B is a Markov chain), so

    I(L_A; L_B) ≤ I(L_A; Y) ≤ H(Y) = log K,

    I(L_A; L_B) = E[log K + lse_k(a_k + b_k) − lse_k(a_k) − lse_k(b_k)],
    a_k = −‖L_A − μ_k‖²/(2σ_l²), b_k = −‖L_B − μ_k‖²/(2σ_l²),

I(L_A; Y) = E[log K + a_Y − lse_k(a_k)], no closed form; :func:`label_part` gives both by Monte
Carlo on exact draws with their standard errors, and the Bayes accuracy of y from one view,
E[max_k p(k | L_A)]. ``SSLData.true_mi`` is I(L_A; L_B) (that Monte Carlo value) + I(N_A; N_B).
The stored samples hold μ_y itself, so a probe of samples (the training loop's) reads the label
off a clean class mean; probes of views (P9's) face the view noise (Bayes accuracy above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from paradigms.data.types import SSLData

#: the name of :func:`nuisance_views` in ``load_dataset``
NUISANCE_VIEWS = "nuisance-views"
#: the test rows of ``nuisance-views`` with seed s come from a generator seeded s + this
TEST_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class VectorAugmentation:
    """Random view of a batch of vectors: per-sample scaling, random masking, additive noise.

    view = m ⊙ (s·x) + σ·ε with s ~ U[scale_low, scale_high] per sample, m_k ~ Bernoulli(1 − p_mask)
    per entry, ε ~ N(0, I). The defaults keep the cluster identity recoverable from one view (the
    noise std is a fraction of the per-dimension unit variance of the standardized data).
    """

    noise_std: float = 0.5
    mask_prob: float = 0.2
    scale_low: float = 0.8
    scale_high: float = 1.2

    def __post_init__(self) -> None:
        if not (self.noise_std >= 0 and math.isfinite(self.noise_std)):
            raise ValueError(f"noise_std must be a finite number >= 0, got {self.noise_std!r}")
        if not 0.0 <= self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in [0, 1), got {self.mask_prob!r}")
        if not 0.0 < self.scale_low <= self.scale_high:
            raise ValueError(
                f"need 0 < scale_low <= scale_high, got ({self.scale_low!r}, {self.scale_high!r})"
            )

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> torch.Tensor:
        n = x.shape[0]
        kw = {"generator": generator, "device": x.device, "dtype": x.dtype}
        scale = self.scale_low + (self.scale_high - self.scale_low) * torch.rand(n, 1, **kw)
        keep = (torch.rand(x.shape, **kw) >= self.mask_prob).to(x.dtype)
        noise = torch.randn(x.shape, **kw)
        if rows is not None:
            x, scale, keep, noise = x[rows], scale[rows], keep[rows], noise[rows]
        return keep * (scale * x) + self.noise_std * noise


def gaussian_mixture(
    *,
    n_clusters: int = 10,
    latent_dim: int = 8,
    data_dim: int = 32,
    n_train: int = 4096,
    n_test: int = 1024,
    cluster_std: float = 0.6,
    sample_noise_std: float = 1.0,
    seed: int = 0,
    augmentation: VectorAugmentation | None = None,
) -> SSLData:
    """K-cluster Gaussian mixture in R^latent_dim pushed through a fixed random nonlinear map.

    u = μ_y + cluster_std·ε with μ_k ~ N(0, I) and y uniform on {0..K−1}; then
    x = W₂ tanh(W₁ u + b₁), W₁ [h, latent_dim] with entries N(0, 2/latent_dim) (gain 2 makes tanh
    saturate: the classes are not linearly separable in x), W₂ [data_dim, h] N(0, 1/h),
    h = 2·data_dim.
    x is standardized per dimension with the train statistics, then isotropic nuisance noise
    sample_noise_std·ν, ν ~ N(0, I_data_dim), is added once per sample (it is part of the sample, so
    both views share it). The nuisance makes raw and random-network features poor for a linear probe
    with few labels, while the cluster identity stays recoverable from the 8-d signal manifold.
    One seed fixes means, map, samples and split; labels are the cluster ids.
    """
    for label, value, low in (
        ("n_clusters", n_clusters, 2),
        ("latent_dim", latent_dim, 1),
        ("n_train", n_train, 2),
        ("n_test", n_test, 2),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    if not isinstance(data_dim, int) or data_dim <= latent_dim:
        raise ValueError(
            f"data_dim must be an integer > latent_dim = {latent_dim}, got {data_dim!r}"
        )
    if not (cluster_std > 0 and math.isfinite(cluster_std)):
        raise ValueError(f"cluster_std must be a positive finite number, got {cluster_std!r}")
    if not (sample_noise_std >= 0 and math.isfinite(sample_noise_std)):
        raise ValueError(f"sample_noise_std must be a finite number >= 0, got {sample_noise_std!r}")

    g = torch.Generator().manual_seed(seed)
    hidden = 2 * data_dim
    means = torch.randn(n_clusters, latent_dim, generator=g)
    w1 = torch.randn(hidden, latent_dim, generator=g) * math.sqrt(2.0 * 2.0 / latent_dim)
    b1 = 0.5 * torch.randn(hidden, generator=g)
    w2 = torch.randn(data_dim, hidden, generator=g) / math.sqrt(hidden)

    n = n_train + n_test
    y = torch.randint(n_clusters, (n,), generator=g)
    u = means[y] + cluster_std * torch.randn(n, latent_dim, generator=g)
    x = torch.tanh(u @ w1.T + b1) @ w2.T
    mean, std = x[:n_train].mean(0), x[:n_train].std(0)
    x = (x - mean) / std + sample_noise_std * torch.randn(n, data_dim, generator=g)
    return SSLData(
        name="gaussian-mixture",
        train_x=x[:n_train].contiguous(),
        train_y=y[:n_train].contiguous(),
        test_x=x[n_train:].contiguous(),
        test_y=y[n_train:].contiguous(),
        num_classes=n_clusters,
        augment=augmentation if augmentation is not None else VectorAugmentation(),
    )


@dataclass(frozen=True)
class NuisanceAugmentation:
    """The views of ``nuisance-views`` (module docstring): a sample holds [μ_y, s·u]; a view adds
    σ_l ε to the label part and σ_n η to the nuisance part, and with ``shared=False`` replaces
    s·u by s·u_v, u_v ~ N(0, I_k) drawn for this view."""

    label_dim: int
    label_noise: float
    nuisance: float
    nuisance_noise: float
    shared: bool

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> torch.Tensor:
        kw = {"generator": generator, "device": x.device, "dtype": x.dtype}
        d = self.label_dim
        noise = torch.randn(x.shape, **kw)  # [ε, η], the whole batch's draws (``rows``: a slice)
        own = None if self.shared else torch.randn(x.shape[0], x.shape[1] - d, **kw)
        if rows is not None:
            x, noise = x[rows], noise[rows]
            own = None if own is None else own[rows]
        nuisance = x[:, d:] if own is None else self.nuisance * own
        return torch.cat([x[:, :d] + self.label_noise * noise[:, :d],
                          nuisance + self.nuisance_noise * noise[:, d:]], dim=1)  # fmt: skip


def nuisance_part_mi(nuisance: float, nuisance_dim: int, nuisance_noise: float,
                     shared: bool = True) -> float:  # fmt: skip
    """I(N_A; N_B) in nats: −(k/2) log(1 − ρ²), ρ = s²/(s² + σ_n²), when shared; 0 when not."""
    if not shared or nuisance == 0:
        return 0.0
    rho = nuisance**2 / (nuisance**2 + nuisance_noise**2)
    return -0.5 * nuisance_dim * math.log1p(-(rho**2))


def label_part(means: torch.Tensor, label_noise: float, samples: int = 2**15,
               seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Monte Carlo over ``samples`` exact draws (float64) of the label part's information
    (module docstring): ``view_mi`` = I(L_A; L_B), ``label_mi`` = I(L_A; Y), ``bayes_acc`` =
    E max_k p(k | L_A), each with its standard error (``*_se``), and ``log_k`` = log K, the
    bound of both MIs. Uniform labels."""
    g = torch.Generator().manual_seed(seed)
    mu = means.double()
    k, d = mu.shape
    y = torch.randint(k, (samples,), generator=g)
    a = mu[y] + label_noise * torch.randn(samples, d, generator=g, dtype=torch.float64)
    b = mu[y] + label_noise * torch.randn(samples, d, generator=g, dtype=torch.float64)
    la = -torch.cdist(a, mu).square() / (2 * label_noise**2)
    lb = -torch.cdist(b, mu).square() / (2 * label_noise**2)
    lse = torch.logsumexp
    view = math.log(k) + lse(la + lb, 1) - lse(la, 1) - lse(lb, 1)
    label = math.log(k) + la[torch.arange(samples), y] - lse(la, 1)
    bayes = torch.softmax(la, 1).max(1).values
    out = {"log_k": math.log(k)}
    for name, terms in (("view_mi", view), ("label_mi", label), ("bayes_acc", bayes)):
        out[name] = float(terms.mean())
        out[name + "_se"] = float(terms.std() / math.sqrt(samples))
    return out


@lru_cache(maxsize=64)
def nuisance_label_part(seed: int, n_classes: int, label_dim: int, class_sep: float,
                   label_noise: float) -> dict[str, float]:  # fmt: skip
    """:func:`label_part` of the means that ``nuisance_views`` draws from ``seed`` (cached: every
    run on one data set computes it once per process)."""
    g = torch.Generator().manual_seed(seed)
    return label_part(class_sep * torch.randn(n_classes, label_dim, generator=g), label_noise,
                      seed=seed)  # fmt: skip


def nuisance_views(
    *,
    n_classes: int = 8,
    label_dim: int = 4,
    class_sep: float = 1.0,
    label_noise: float = 0.5,
    nuisance_dim: int = 4,
    nuisance: float = 1.0,
    nuisance_noise: float = 0.5,
    shared: bool = True,
    n_train: int = 4096,
    n_test: int = 1024,
    encoder_width: int = 128,
    seed: int = 0,
) -> SSLData:
    """Two views sharing a label part and a nuisance part of strength ``nuisance`` (module
    docstring); ``shared=False`` draws each view's nuisance apart (same marginals). The stored
    sample is [μ_y, s·u] ∈ R^{label_dim + nuisance_dim}; one seed fixes the class means (drawn
    first: they do not depend on the sizes) and the train rows; the test rows (labels and u) come
    from their own generator (seed + ``TEST_SEED_OFFSET``), so any ``n_test`` gives fresh rows of
    the same law, held out from the train split. ``encoder_width`` is the
    width (and feature dimension) of the data set's ``mlp`` backbone. ``true_mi`` = I(X_A; X_B)
    (the label part by Monte Carlo, :func:`label_part`; SE < 0.005 nats)."""
    for label, value, low in (("n_classes", n_classes, 2), ("label_dim", label_dim, 1),
                              ("nuisance_dim", nuisance_dim, 1), ("n_train", n_train, 2),
                              ("n_test", n_test, 2),
                              ("encoder_width", encoder_width, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    for label, value, positive in (("class_sep", class_sep, True),
                                   ("label_noise", label_noise, True),
                                   ("nuisance", nuisance, False),
                                   ("nuisance_noise", nuisance_noise, True)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and (value > 0 if positive else value >= 0)
        ):
            bound = "> 0" if positive else ">= 0"
            raise ValueError(f"{label} must be a finite number {bound}, got {value!r}")
    if not isinstance(shared, bool):
        raise ValueError(f"shared must be True or False, got {shared!r}")
    g = torch.Generator().manual_seed(seed)
    means = class_sep * torch.randn(n_classes, label_dim, generator=g)

    def rows(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(n_classes, (n,), generator=gen)
        u = torch.randn(n, nuisance_dim, generator=gen)
        return torch.cat([means[y], nuisance * u], dim=1), y

    train_x, train_y = rows(n_train, g)
    test_x, test_y = rows(n_test, torch.Generator().manual_seed(TEST_SEED_OFFSET + seed))
    label = nuisance_label_part(seed, n_classes, label_dim, float(class_sep), float(label_noise))
    nuisance_mi = nuisance_part_mi(nuisance, nuisance_dim, nuisance_noise, shared)
    return SSLData(
        name=NUISANCE_VIEWS,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        num_classes=n_classes,
        augment=NuisanceAugmentation(label_dim, label_noise, nuisance, nuisance_noise, shared),
        encoder=("mlp", {"hidden_dim": encoder_width}),
        true_mi=label["view_mi"] + nuisance_mi,
    )
