"""Downstream probes of frozen features: linear probe and weighted kNN.

The online linear probe, trained alongside SSL training with the run's optimizer, is part of the
training loop (:mod:`paradigms.training.online_probe`).

Accuracies are fractions in [0, 1]. Offline probes accept numpy arrays or torch tensors
(features [n, d], integer labels [n]) and never back-propagate into the features.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

#: A training column whose std is at most this fraction of its largest magnitude is constant up to
#: float32 rounding (machine epsilon 1.2e-7, a few roundings through a network) and carries no
#: signal; the linear probe drops it.
CONSTANT_RTOL = 1e-6


def _as_features(x: object, name: str, device: torch.device) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"{name} must be a feature matrix [n >= 1, d >= 1], got shape {tuple(x.shape)}"
        )
    x = x.detach().to(device=device, dtype=torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite features")
    return x


def _as_labels(y: object, name: str, n: int, device: torch.device) -> torch.Tensor:
    if isinstance(y, np.ndarray):
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
        y = torch.from_numpy(np.ascontiguousarray(y))
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} must be a vector of {n} labels (one per row), got shape {tuple(y.shape)}"
        )
    return y.to(device=device, dtype=torch.long)


def _prepare(
    train_x: object,
    train_y: object,
    test_x: object,
    test_y: object,
    device: str | torch.device | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Validate both splits and move them to ``device`` (None: where ``train_x`` is, CPU for
    numpy); recode labels to 0..C−1 over the union of the two label sets."""
    if device is None:
        dev = train_x.device if isinstance(train_x, torch.Tensor) else torch.device("cpu")
    else:
        dev = torch.device(device)
    xtr = _as_features(train_x, "train_x", dev)
    xte = _as_features(test_x, "test_x", dev)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            "train_x and test_x must have the same feature dimension, "
            f"got {xtr.shape[1]} and {xte.shape[1]}"
        )
    ytr = _as_labels(train_y, "train_y", xtr.shape[0], dev)
    yte = _as_labels(test_y, "test_y", xte.shape[0], dev)
    classes, codes = torch.unique(torch.cat([ytr, yte]), return_inverse=True)
    return xtr, codes[: ytr.shape[0]], xte, codes[ytr.shape[0] :], int(classes.numel())


def linear_probe_accuracy(
    train_x: object,
    train_y: object,
    test_x: object,
    test_y: object,
    *,
    seed: int = 0,
    max_iter: int = 200,
    weight_decay: float = 1e-4,
    device: str | torch.device | None = None,
) -> float:
    """Test accuracy of multinomial logistic regression on standardized frozen features.

    Columns that are constant on the training set up to float32 rounding (training std ≤
    ``CONSTANT_RTOL`` = 1e-6 times the column's largest magnitude, or exactly 0) are dropped
    first: standardizing them would only blow rounding noise up to unit variance (with an exactly
    constant column the weight stays at 0 anyway, so dropping it changes nothing). When no column
    is left (a completely collapsed encoder) the optimum has W irrelevant and b = log class
    frequencies, so every test point gets the most frequent training class (the smallest such
    label on ties), returned without running the optimizer. The remaining features are
    standardized with the training mean and std, then W, b minimize
    mean_i CE(W x_i + b, y_i) + ½ λ ‖W‖²_F (λ = ``weight_decay``) by full-batch L-BFGS with
    strong-Wolfe line search from W = 0, b = 0, in float64. The problem is strictly convex, so
    the result is deterministic; ``seed`` is accepted for a uniform probe interface and does not
    change it. Test labels unseen in training count as errors. ``device`` None
    computes where ``train_x`` lives.
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (
        isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0
    ):
        raise ValueError(f"weight_decay must be a non-negative finite number, got {weight_decay!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    xtr, ytr, xte, yte, n_classes = _prepare(train_x, train_y, test_x, test_y, device)
    std = xtr.std(dim=0, unbiased=False)
    varying = std > CONSTANT_RTOL * xtr.abs().amax(dim=0)
    if not bool(varying.any()):
        majority = torch.bincount(ytr, minlength=n_classes).argmax()
        return float((yte == majority).double().mean())
    xtr, xte, std = xtr[:, varying], xte[:, varying], std[varying]
    mean = xtr.mean(dim=0)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    weight = torch.zeros(
        xtr.shape[1], n_classes, dtype=xtr.dtype, device=xtr.device, requires_grad=True
    )
    bias = torch.zeros(n_classes, dtype=xtr.dtype, device=xtr.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ weight + bias, ytr) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        pred = (xte @ weight + bias).argmax(dim=1)
    return float((pred == yte).double().mean())


@torch.no_grad()
def knn_accuracy(
    train_x: object,
    train_y: object,
    test_x: object,
    test_y: object,
    k: int = 200,
    temperature: float = 0.1,
    *,
    device: str | torch.device | None = None,
    chunk_size: int = 1024,
) -> float:
    """Weighted k-nearest-neighbour accuracy on cosine similarity (Wu et al. 2018, InstDisc §3.4).

    For a test feature x with its k most cosine-similar training features x_j (similarities s_j),
    class c scores Σ_{j: y_j = c} exp(s_j / τ) and the prediction is the best-scoring class.
    Defaults k = 200, τ = 0.1: the convention of lightly's ``knn_predict`` and of the kNN columns
    of the solo-learn and lightly benchmark tables (InstDisc used k = 200, τ = 0.07; solo-learn's
    online kNN callback defaults to k = 20). k is capped at the number of training samples. Test
    rows are processed in chunks of ``chunk_size``, on ``device`` (None: where ``train_x``
    lives).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not (
        isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0
    ):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    xtr, ytr, xte, yte, n_classes = _prepare(train_x, train_y, test_x, test_y, device)
    xtr = F.normalize(xtr.float(), dim=1)
    xte = F.normalize(xte.float(), dim=1)
    k = min(k, xtr.shape[0])
    correct = 0
    for start in range(0, xte.shape[0], chunk_size):
        sims, idx = (xte[start : start + chunk_size] @ xtr.T).topk(k, dim=1)
        # Shift by the row maximum (≤ 1) before exp: same argmax, no overflow for small τ.
        weights = torch.exp((sims - sims[:, :1]) / temperature)
        votes = torch.zeros(sims.shape[0], n_classes, dtype=weights.dtype, device=xte.device)
        votes.scatter_add_(1, ytr[idx], weights)
        correct += int((votes.argmax(dim=1) == yte[start : start + chunk_size]).sum())
    return correct / xte.shape[0]


__all__ = ["knn_accuracy", "linear_probe_accuracy"]
