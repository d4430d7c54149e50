"""Token data (``paradigms.data.tokens``) and token encoders (``paradigms.networks.tokens``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from paradigms.data import load_dataset
from paradigms.data.tokens import (
    SequenceCrop,
    bag_class_mi,
    ball_latents,
    markov_sequences,
    paired_bags,
)
from paradigms.methods import METHODS
from paradigms.networks.tokens import BagEncoder, PairEncoder, SequenceEncoder
from paradigms.training.config import TrainConfig
from paradigms.training.loop import train

torch.set_num_threads(1)


# --------------------------------------------------------------------------- exact MI


def test_bag_mi_matches_monte_carlo_with_the_true_posterior() -> None:
    """The enumeration against an independent Monte Carlo mean of log p(n|c)/p(n) over sampled
    bags (same π); tolerance 4 standard errors of the Monte Carlo mean."""
    rng = np.random.default_rng(3)
    pi = rng.dirichlet(np.full(6, 0.7), size=4)
    exact = bag_class_mi(pi, 5)
    n = 40_000
    c = rng.integers(4, size=n)
    counts = np.stack([rng.multinomial(5, pi[k]) for k in c])
    log_lik = counts @ np.log(pi).T  # the multinomial coefficient cancels in the ratio
    log_ratio = log_lik[np.arange(n), c] - (logsumexp(log_lik, axis=1) - math.log(4))
    se = log_ratio.std(ddof=1) / math.sqrt(n)
    assert abs(log_ratio.mean() - exact) < 4 * se, (exact, log_ratio.mean(), se)


def test_bag_mi_limits() -> None:
    """Identical classes share nothing; classes on disjoint tokens are read exactly (log K)."""
    same = np.full((3, 5), 0.2)
    assert abs(bag_class_mi(same, 4)) < 1e-12
    disjoint = np.full((3, 6), 1e-300)
    for k in range(3):
        disjoint[k, 2 * k : 2 * k + 2] = 0.5
    disjoint /= disjoint.sum(1, keepdims=True)
    assert bag_class_mi(disjoint, 2) == pytest.approx(math.log(3), abs=1e-9)
    with pytest.raises(ValueError, match="positive rows"):
        bag_class_mi(np.array([[0.5, 0.6]]), 2)
    with pytest.raises(ValueError, match="count vectors"):
        bag_class_mi(np.full((2, 40), 1 / 40), 30)


def test_paired_bags_class_is_a_function_of_the_latent() -> None:
    """I(X_A; X_B) = I(C; X_B) needs C to be a function of view A: the latents of different
    classes lie in disjoint balls (the nearest mean is always the class; the map to view A is
    injective by construction), and a 1-NN rule on view A alone is nearly exact."""
    g = torch.Generator().manual_seed(0)
    means = torch.randn(8, 2, generator=g, dtype=torch.float64)  # crowded: small radius
    y = torch.randint(8, (20_000,), generator=g)
    u = ball_latents(means, y, g)
    assert torch.equal(torch.cdist(u, means).argmin(1), y)
    radius = (u - means[y]).norm(dim=1).max()
    assert radius <= 0.45 * torch.pdist(means).min() + 1e-12
    data = paired_bags(n_train=4096, n_test=512, seed=1)
    a_train, a_test = data.train_x[:, :16], data.test_x[:, :16]  # the informative columns
    nearest = torch.cdist(a_test, a_train).argmin(1)
    assert (data.train_y[nearest] == data.test_y).float().mean() > 0.98
    assert 0 < data.true_mi < math.log(data.num_classes)


def test_paired_bags_views_and_seed() -> None:
    data = paired_bags(n_train=64, n_test=32, seed=5)
    g = torch.Generator()
    x_a, x_b = data.views(data.test_x, g)
    assert x_a.dtype == torch.float32 and x_a.shape == (32, 24)
    assert x_b.dtype == torch.long and x_b.shape == (32, 6)
    assert 0 <= int(x_b.min()) and int(x_b.max()) < 16
    again = paired_bags(n_train=64, n_test=32, seed=5)
    assert torch.equal(again.test_x, data.test_x) and again.true_mi == data.true_mi
    assert not torch.equal(paired_bags(n_train=64, n_test=32, seed=6).test_x, data.test_x)
    rows = slice(4, 9)
    assert torch.equal(data.views(data.test_x, g, rows)[1], x_b[rows])


# --------------------------------------------------------------------------- sequences


def _counts(tokens: torch.Tensor, vocab: int, bigram: bool) -> torch.Tensor:
    ids = tokens[:, :-1] * vocab + tokens[:, 1:] if bigram else tokens
    size = vocab * vocab if bigram else vocab
    ones = torch.ones_like(ids, dtype=torch.float)
    return torch.zeros(tokens.shape[0], size).scatter_add_(1, ids, ones)


def test_sequence_classes_differ_in_transitions_not_frequencies() -> None:
    """Unigram frequencies are uniform in every class (χ² test of the pooled class counts,
    Bonferroni over classes at family-wise 1 %); a nearest-centroid rule on bigram counts reads
    the class, the same rule on unigram counts far less well (a sequence's own counts still
    carry some class information: which tokens its chain visits)."""
    data = markov_sequences(n_train=4000, n_test=1000, seed=2)
    k, v = data.num_classes, 16
    for c in range(k):
        counts = _counts(data.train_x[data.train_y == c], v, bigram=False).sum(0).numpy()
        assert stats.chisquare(counts).pvalue > 0.01 / k, (c, counts)

    def centroid_accuracy(bigram: bool) -> float:
        f_train = _counts(data.train_x, v, bigram)
        f_test = _counts(data.test_x, v, bigram)
        centroids = torch.stack([f_train[data.train_y == c].mean(0) for c in range(k)])
        pred = torch.cdist(f_test, centroids).argmin(1)
        return float((pred == data.test_y).float().mean())

    assert centroid_accuracy(bigram=False) < 0.4
    assert centroid_accuracy(bigram=True) > 0.9


def test_sequence_crop_is_a_masked_window() -> None:
    x = torch.arange(40).repeat(500, 1)  # token = position: a window is a run of consecutive ids
    crop = SequenceCrop(12, mask_id=99, mask_prob=0.25)
    g = torch.Generator().manual_seed(0)
    view = crop(x, g)
    assert view.shape == (500, 12)
    kept = view != 99
    first = torch.where(kept[:, 0], view[:, 0], view.masked_fill(~kept, 10**6).min(1).values)
    assert first.min() >= 0 and first.max() <= 40 - 1
    offsets = view - torch.arange(12)
    for row, keep in zip(offsets, kept, strict=True):
        assert row[keep].unique().numel() <= 1  # one start per row
    rate = float((~kept).float().mean())
    se = math.sqrt(0.25 * 0.75 / kept.numel())
    assert abs(rate - 0.25) < 4 * se
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(crop(x, g1, slice(3, 7)), crop(x, g2)[3:7])
    with pytest.raises(ValueError, match="longer"):
        SequenceCrop(50, mask_id=99)(x, g)


# --------------------------------------------------------------------------- encoders


def test_sequence_encoder_reads_order_and_bag_encoder_does_not() -> None:
    torch.manual_seed(0)
    x = torch.randint(10, (8, 20))
    reversed_x = x.flip(1)
    seq, bag = SequenceEncoder(10).eval(), BagEncoder(10).eval()
    with torch.no_grad():
        assert not torch.allclose(seq(x), seq(x[:, torch.randperm(20)]), atol=1e-4)
        assert torch.allclose(bag(x), bag(reversed_x), atol=1e-6)
    with pytest.raises(ValueError, match="integer token ids"):
        seq(x.float())


def test_pair_encoder_dispatches_by_modality() -> None:
    torch.manual_seed(0)
    enc = PairEncoder(5, vocab=7, hidden_dim=16).eval()
    cont = torch.randn(4, 5)
    tokens = torch.randint(7, (4, 3))
    stored = torch.cat([cont, tokens.float()], dim=1)
    with torch.no_grad():
        assert torch.equal(enc(cont), enc(stored))
        assert torch.equal(enc(tokens), enc.tokens(tokens))
        assert enc(tokens).shape == enc(cont).shape == (4, 16)
    with pytest.raises(ValueError, match="PairEncoder expects"):
        enc(torch.randn(4, 3))


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("data", ["markov-sequences", "paired-bags"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_on_token_data(method: str, data: str) -> None:
    config = TrainConfig(
        method=method, data=data, steps=4, batch_size=32, eval_every=2, eval_pairs=64,
        probe_train=64, probe_test=64, progress=False,
        data_options={"n_train": 128, "n_test": 64},
    )  # fmt: skip
    summary = train(config)
    assert summary["status"] == "ok", summary["reason"]
    assert summary["backbone"] == ("seqcnn" if data == "markov-sequences" else "pair")
    assert math.isfinite(summary["mi_cosdv"]) and 0.0 <= summary["knn_acc"] <= 1.0


def test_token_data_by_name_and_bad_options() -> None:
    assert load_dataset("paired-bags", n_train=16, n_test=8).name == "paired-bags"
    with pytest.raises(ValueError, match="crop"):
        markov_sequences(length=10, crop=11)
    with pytest.raises(ValueError, match="continuous_dim"):
        paired_bags(latent_dim=8, continuous_dim=4)
    with pytest.raises(ValueError, match="paired-bags"):
        load_dataset("paired-bag")
