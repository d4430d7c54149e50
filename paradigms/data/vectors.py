"""Vector data: the ``gaussian-mixture`` data set and the augmentation of vector samples.

``gaussian-mixture`` has ground-truth structure: K clusters in a low-dimensional latent space
pushed through a fixed random nonlinear map to a higher dimension (:func:`gaussian_mixture`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paradigms.data.types import SSLData


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
