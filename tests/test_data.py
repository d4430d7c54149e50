"""Synthetic data, augmentations and the data-set entry point (paradigms.data)."""

from __future__ import annotations

import math

import pytest
import torch

from paradigms.data import VectorAugmentation, gaussian_mixture, load_dataset


def test_gaussian_mixture_shapes_labels_and_seed() -> None:
    data = gaussian_mixture(
        n_clusters=5, latent_dim=4, data_dim=16, n_train=300, n_test=100, seed=3
    )
    assert data.train_x.shape == (300, 16) and data.test_x.shape == (100, 16)
    assert data.input_shape == (16,) and data.num_classes == 5
    assert data.train_y.dtype == torch.int64
    assert set(data.train_y.tolist()) == set(range(5))
    again = gaussian_mixture(
        n_clusters=5, latent_dim=4, data_dim=16, n_train=300, n_test=100, seed=3
    )
    other = gaussian_mixture(
        n_clusters=5, latent_dim=4, data_dim=16, n_train=300, n_test=100, seed=4
    )
    assert torch.equal(data.train_x, again.train_x) and torch.equal(data.test_y, again.test_y)
    assert not torch.equal(data.train_x, other.train_x)


def test_gaussian_mixture_moments() -> None:
    """Signal standardized on train, plus N(0, σ²) nuisance: per-dimension train mean ~ N(0,
    (1 + σ²)/n) (the standardized part has mean exactly 0), variance ≈ 1 + σ². 5-sigma bounds on
    each of the 32 dimensions (chance of a false alarm < 32·6e-7)."""
    sigma, n = 1.0, 4096
    data = gaussian_mixture(sample_noise_std=sigma, n_train=n, seed=0)
    mean_se = math.sqrt((1 + sigma**2) / n)
    assert data.train_x.mean(0).abs().max() < 5 * mean_se
    # Var of a sample variance of a non-Gaussian mixture: bounded here by 2·(1+σ²)²/n ·(kurtosis
    # factor ≤ 3 for tanh-bounded signal plus Gaussian noise).
    var_se = (1 + sigma**2) * math.sqrt(3 * 2 / n)
    assert (data.train_x.var(0) - (1 + sigma**2)).abs().max() < 5 * var_se


def test_clusters_carry_the_labels() -> None:
    """Without nuisance noise the nearest class mean (train means, data space) classifies held-out
    points far above chance 1/K = 0.1: the map keeps the cluster structure."""
    data = gaussian_mixture(sample_noise_std=0.0, seed=1)
    means = torch.stack([data.train_x[data.train_y == k].mean(0) for k in range(data.num_classes)])
    pred = torch.cdist(data.test_x, means).argmin(1)
    acc = (pred == data.test_y).float().mean().item()
    # chance 0.1 with SE sqrt(0.09/1024) ≈ 0.009; 0.5 is > 40 SE above it.
    assert acc > 0.5


def test_augmentation_statistics() -> None:
    """Masking keeps each entry with prob 1 − p (binomial, 5-SE bound); noise has std σ (chi-square
    SE σ/√(2n)); scaling multiplies each row by one factor in [low, high]."""
    g = torch.Generator().manual_seed(0)
    x = torch.ones(2000, 50)
    mask_only = VectorAugmentation(noise_std=0.0, mask_prob=0.3, scale_low=1.0, scale_high=1.0)
    kept = (mask_only(x, g) != 0).float().mean().item()
    assert abs(kept - 0.7) < 5 * math.sqrt(0.7 * 0.3 / x.numel())

    noise_only = VectorAugmentation(noise_std=0.5, mask_prob=0.0, scale_low=1.0, scale_high=1.0)
    residual = noise_only(x, g) - x
    assert abs(residual.std().item() - 0.5) < 5 * 0.5 / math.sqrt(2 * x.numel())

    scale_only = VectorAugmentation(noise_std=0.0, mask_prob=0.0, scale_low=0.5, scale_high=2.0)
    y = scale_only(x, g)
    row = y[:, :1]
    assert torch.equal(y, row.expand_as(y))  # one factor per sample
    assert row.min() >= 0.5 and row.max() <= 2.0 and row.std() > 0.3  # U[0.5, 2] has std 0.43


def test_views_are_independent_draws_and_reproducible() -> None:
    data = gaussian_mixture(n_train=64, n_test=16, seed=0)
    x = data.train_x[:32]
    a1, b1 = data.views(x, torch.Generator().manual_seed(5))
    a2, b2 = data.views(x, torch.Generator().manual_seed(5))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(a1, b1)
    # The views share the sample: they are far more alike than views of different samples.
    same = torch.nn.functional.cosine_similarity(a1, b1).mean()
    shuffled = torch.nn.functional.cosine_similarity(a1, b1.roll(1, 0)).mean()
    assert same > shuffled + 0.2


def test_views_of_rows_are_the_rows_of_the_views() -> None:
    """The shard a distributed rank computes equals its rows of the whole-batch views."""
    data = gaussian_mixture(n_train=64, n_test=16, seed=0)
    x = data.train_x[:32]
    a, b = data.views(x, torch.Generator().manual_seed(5))
    a_rows, b_rows = data.views(x, torch.Generator().manual_seed(5), slice(8, 16))
    assert torch.equal(a_rows, a[8:16]) and torch.equal(b_rows, b[8:16])


def test_data_moves_to_device() -> None:
    data = gaussian_mixture(n_train=16, n_test=8).to("cpu")
    assert data.train_x.device.type == "cpu"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clusters": 1}, "n_clusters"),
        ({"data_dim": 4, "latent_dim": 8}, "data_dim"),
        ({"cluster_std": 0.0}, "cluster_std"),
        ({"sample_noise_std": -1.0}, "sample_noise_std"),
        ({"n_train": 1}, "n_train"),
    ],
)
def test_gaussian_mixture_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gaussian_mixture(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask_prob": 1.0}, "mask_prob"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"scale_low": 2.0}, "scale"),
    ],
)
def test_augmentation_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VectorAugmentation(**kwargs)


def test_load_dataset_dispatch_and_errors() -> None:
    data = load_dataset("gaussian-mixture", seed=2, n_train=32, n_test=8)
    assert data.name == "gaussian-mixture" and data.train_x.shape[0] == 32
    with pytest.raises(ValueError, match=r"unknown data set 'mnist-typo'.*gaussian-mixture"):
        load_dataset("mnist-typo")
    with pytest.raises(TypeError, match="must be a str"):
        load_dataset(3)  # type: ignore[arg-type]
