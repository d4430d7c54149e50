"""Probes (paradigms.measurement.probes, paradigms.training.online_probe): separable data is
classified, random labels sit at chance."""

import math

import numpy as np
import pytest
import torch

from paradigms.measurement.probes import knn_accuracy, linear_probe_accuracy
from paradigms.training.online_probe import OnlineLinearProbe


def _blobs(n, d, n_classes, separation, seed):
    """Gaussian blobs N(μ_c, I) with μ_c = (separation/√2)·e_c, so ‖μ_c − μ_c'‖ = separation."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)
    means = torch.zeros(n_classes, d)
    means[:, :n_classes] = torch.eye(n_classes) * separation / math.sqrt(2)
    return means[y] + torch.randn(n, d, generator=g), y


def _split(x, y, n_train):
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def test_separable_blobs_near_perfect():
    """Means 10 apart: a pairwise Bayes error Φ(−5) ≈ 2.9e-7, so with 3 rivals the Bayes accuracy is
    > 1 − 1e-6 and 1,000 test points should have no error; both probes must reach 0.99 (a fitted
    classifier in 32 dims on 1,000 points stays far inside that margin)."""
    x, y = _blobs(2000, 32, 4, 10.0, seed=0)
    split = _split(x, y, 1000)
    assert linear_probe_accuracy(*split) >= 0.99
    assert knn_accuracy(*split) >= 0.99


@pytest.mark.parametrize("n_classes", [2, 5])
def test_random_labels_at_chance(n_classes):
    """Test labels drawn uniformly and independently of everything else: every prediction is right
    with probability exactly 1/C, so the accuracy is Binomial(n, 1/C)/n; tolerance 4 SE."""
    n_test = 2000
    g = torch.Generator().manual_seed(n_classes)
    x = torch.randn(1000 + n_test, 16, generator=g)
    y = torch.randint(0, n_classes, (1000 + n_test,), generator=g)
    se = math.sqrt((1 / n_classes) * (1 - 1 / n_classes) / n_test)
    for probe in (linear_probe_accuracy, knn_accuracy):
        assert abs(probe(*_split(x, y, 1000)) - 1 / n_classes) < 4 * se


def test_linear_probe_matches_sklearn_logistic_regression():
    """Same objective as scikit-learn's multinomial logistic regression with C = 1/(λ n) on the
    same standardized features; on overlapping classes the two optima must predict alike."""
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(1200, 8, 3, 2.0, seed=1)
    xtr, ytr, xte, yte = _split(x.double().numpy(), y.numpy(), 600)
    lam = 1e-2
    mean, std = xtr.mean(0), xtr.std(0)
    model = LogisticRegression(C=1 / (lam * len(ytr)), tol=1e-10, max_iter=10_000)
    model.fit((xtr - mean) / std, ytr)
    expected = model.score((xte - mean) / std, yte)
    got = linear_probe_accuracy(xtr, ytr, xte, yte, weight_decay=lam)
    # Optima agree to solver tolerance; allow 2 of 600 points on the decision boundary to flip.
    assert abs(got - expected) <= 2 / 600
    # Deterministic.
    assert linear_probe_accuracy(xtr, ytr, xte, yte, weight_decay=lam) == got


def test_linear_probe_ignores_columns_constant_up_to_float32_rounding():
    """Columns constant up to rounding noise (1 + 1e-7·ε stored in float32: about the 6e-8–1.2e-7
    spacing of floats near 1, so a few quantized values, relative std ≈ 1e-7) carry no signal;
    the probe drops them, so adding them to informative features leaves the fitted problem, hence
    the accuracy, exactly unchanged. Kept in, standardization would blow the rounding noise up to
    unit variance and the fit would use it (the previous probe: 0.63 padded vs 0.675 clean)."""
    x, y = _blobs(400, 6, 3, 2.0, seed=2)
    g = torch.Generator().manual_seed(3)
    junk = 1.0 + 1e-7 * torch.randn(400, 10, generator=g)
    junk[:, :5] = 0.0  # exactly constant (dead ReLU units)
    padded = torch.cat([x, junk], dim=1)
    assert junk.std(dim=0).max() > 0  # some columns do vary, by rounding
    xtr, ytr, xte, yte = _split(x, y, 200)
    ptr, _, pte, _ = _split(padded, y, 200)
    assert linear_probe_accuracy(ptr, ytr, pte, yte) == linear_probe_accuracy(xtr, ytr, xte, yte)


def test_linear_probe_on_constant_features_predicts_the_majority_class():
    """A completely collapsed encoder (every column constant): the optimum is b = log class
    frequencies, so the accuracy is the test share of the most frequent training class (class 1
    here), returned without fitting."""
    ytr = torch.tensor([0, 1, 1, 2, 1, 0])
    yte = torch.tensor([1, 0, 1, 2])
    xtr, xte = torch.full((6, 50), 0.3), torch.full((4, 50), 0.3)
    assert linear_probe_accuracy(xtr, ytr, xte, yte) == 0.5


def test_knn_weighting_by_temperature():
    """One close neighbour of class 0 against two farther ones of class 1 (k = 3): with a small τ
    the exp(s/τ) weight of the close one wins, with a large τ the weights equalize and the
    majority wins."""
    train_x = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]])
    train_y = torch.tensor([0, 1, 1])
    test_x = torch.tensor([[1.0, 0.05]])
    # cos to the three: ≈ 0.999, 0.64, 0.56; weights at τ = 0.07: e^{0.999/0.07} ≫ 2 e^{0.64/0.07}.
    assert knn_accuracy(train_x, train_y, test_x, torch.tensor([0]), k=3, temperature=0.07) == 1.0
    assert knn_accuracy(train_x, train_y, test_x, torch.tensor([1]), k=3, temperature=100.0) == 1.0
    # k = 1 is the plain nearest neighbour; k larger than the train set is capped.
    assert knn_accuracy(train_x, train_y, test_x, torch.tensor([0]), k=1) == 1.0
    assert knn_accuracy(train_x, train_y, test_x, torch.tensor([1]), k=50, temperature=100.0) == 1.0


def test_knn_chunking_does_not_change_the_result():
    x, y = _blobs(600, 8, 3, 2.0, seed=2)
    split = _split(x, y, 300)
    assert knn_accuracy(*split, chunk_size=7) == knn_accuracy(*split)


def test_online_probe_learns_and_never_touches_features():
    x, y = _blobs(2000, 16, 4, 10.0, seed=3)
    probe = OnlineLinearProbe(16, 4, lr=1e-2)
    g = torch.Generator().manual_seed(4)
    features = x[:1000].clone().requires_grad_(True)
    for _ in range(300):
        idx = torch.randint(0, 1000, (64,), generator=g)
        probe.update(features[idx], y[idx])
    assert features.grad is None
    # Same separable blobs as above (Bayes accuracy > 1 − 1e-6); a linear model trained by 300 Adam
    # steps must reach 0.98 on held-out points.
    assert probe.accuracy(x[1000:], y[1000:]) >= 0.98
    assert probe(x[:5]).shape == (5, 4)


def test_bad_input():
    x, y = _blobs(40, 4, 2, 3.0, seed=5)
    xtr, ytr, xte, yte = _split(x, y, 20)
    with pytest.raises(ValueError, match="feature dimension"):
        linear_probe_accuracy(xtr, ytr, xte[:, :3], yte)
    with pytest.raises(ValueError, match="one per row"):
        knn_accuracy(xtr, ytr[:5], xte, yte)
    with pytest.raises(TypeError, match="integer class labels"):
        linear_probe_accuracy(xtr, ytr.float(), xte, yte)
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        knn_accuracy(xtr.tolist(), ytr, xte, yte)
    bad = xtr.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        linear_probe_accuracy(bad, ytr, xte, yte)
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(xtr, ytr, xte, yte, k=0)
    with pytest.raises(ValueError, match="temperature"):
        knn_accuracy(xtr, ytr, xte, yte, temperature=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        linear_probe_accuracy(xtr, ytr, xte, yte, max_iter=0)
    with pytest.raises(ValueError, match="num_classes"):
        OnlineLinearProbe(4, 1)
    probe = OnlineLinearProbe(4, 2)
    with pytest.raises(ValueError, match=r"features must be \[N, 4\]"):
        probe.update(torch.ones(8, 3), torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be"):
        probe.update(torch.ones(8, 4), torch.zeros(7, dtype=torch.long))
    # numpy inputs are accepted
    assert 0.0 <= knn_accuracy(np.asarray(xtr), np.asarray(ytr), np.asarray(xte), np.asarray(yte))
