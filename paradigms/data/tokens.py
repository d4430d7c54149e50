"""Non-image data for SDMI/JMI training (claim P8): token sequences, and a two-modality set.

``markov-sequences`` (:func:`markov_sequences`): one modality, order matters. Class c is a Markov
chain on ``vocab`` tokens whose transition matrix T_c = Σ_j w_cj P_cj is a random mixture of
``n_perms`` permutation matrices (w_c ~ Dirichlet(1)). T_c is doubly stochastic, so with a uniform
first token every position is uniform in every class: the classes have the same unigram
frequencies and differ in their transitions (bigrams), which an encoder has to read (a
nearest-centroid rule reads the class from bigram counts, hardly from unigram counts: the
tests). Views (:class:`SequenceCrop`): a random contiguous crop, then each token masked
(replaced by the id ``vocab``) with probability ``mask_prob``, the crop-and-mask augmentations
of sequence SSL. The encoder is ``seqcnn``
(:mod:`paradigms.networks.tokens`) over ``vocab + 1`` ids.

``paired-bags`` (:func:`paired_bags`): two modalities of one latent class c (uniform on K), with
asymmetric encoders (``pair``: an MLP for view A, an EmbeddingBag for view B).
- View A, continuous: u = μ_c + r·s with s uniform in the unit ball of R^latent_dim and
  r = 0.45·min_{c≠c'} ‖μ_c − μ_c'‖, so the balls are disjoint; pushed through the injective map
  x = W₂ tanh(W₁ u + b₁) (W₁, W₂ square or tall, full rank almost surely), standardized, and
  followed by ``nuisance_dim`` independent N(0, 1) columns.
- View B, a bag of ``bag_size`` tokens drawn i.i.d. from π_c ~ Dirichlet(concentration·1).
Because c is a function of view A (disjoint supports, injective map) and the nuisance columns are
independent of everything, I(X_A; X_B) = I(C; X_B) exactly, and I(C; X_B) = I(C; token counts)
(given the counts the order is uniform in every class) is a finite sum over the
C(bag_size + vocab − 1, vocab − 1) count vectors (:func:`bag_class_mi`): ``SSLData.true_mi``.
The two views are the sample's two modalities, drawn once (as image–caption pairs): the
augmentations only pick a modality, so the held-out pairs follow the same law and their
embeddings' MI is at most ``true_mi`` (data processing).

All values in nats. One seed fixes the generator, the samples and the split.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import gammaln, logsumexp

from paradigms.data.types import SSLData

TOKEN_DATASETS = ("markov-sequences", "paired-bags")


def _check_int(low: int, **values: object) -> None:
    for label, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")


def _check_positive(**values: object) -> None:
    for label, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            value > 0 and math.isfinite(value)
        ):
            raise ValueError(f"{label} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class SequenceCrop:
    """Random view of token sequences [N, L]: a contiguous crop of ``crop`` tokens at a uniform
    start, then each token replaced by ``mask_id`` with probability ``mask_prob``."""

    crop: int
    mask_id: int
    mask_prob: float = 0.15

    def __post_init__(self) -> None:
        _check_int(1, crop=self.crop)
        _check_int(0, mask_id=self.mask_id)
        if not 0.0 <= self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in [0, 1), got {self.mask_prob!r}")

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> torch.Tensor:
        n, length = x.shape
        if self.crop > length:
            raise ValueError(f"crop {self.crop} is longer than the sequences ({length} tokens)")
        start = torch.randint(length - self.crop + 1, (n, 1), generator=generator, device=x.device)
        mask = torch.rand(n, self.crop, generator=generator, device=x.device) < self.mask_prob
        if rows is not None:
            x, start, mask = x[rows], start[rows], mask[rows]
        view = x.gather(1, start + torch.arange(self.crop, device=x.device))
        return view.masked_fill(mask, self.mask_id)


@dataclass(frozen=True)
class ModalityView:
    """One modality of a stored two-modality sample [N, continuous_dim + L]: the continuous
    columns (``part="continuous"``) or the token ids (``part="tokens"``). No randomness."""

    continuous_dim: int
    part: str

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> torch.Tensor:
        if rows is not None:
            x = x[rows]
        if self.part == "continuous":
            return x[:, : self.continuous_dim]
        return x[:, self.continuous_dim :].long()


def markov_sequences(
    *,
    n_classes: int = 8,
    vocab: int = 16,
    length: int = 32,
    crop: int = 20,
    mask_prob: float = 0.15,
    n_perms: int = 3,
    n_train: int = 4096,
    n_test: int = 1024,
    seed: int = 0,
) -> SSLData:
    """Token sequences of ``length`` from K class-specific doubly stochastic Markov chains (see
    the module docstring); labels are the classes."""
    _check_int(2, n_classes=n_classes, vocab=vocab, length=length, n_train=n_train,
               n_test=n_test)  # fmt: skip
    _check_int(1, n_perms=n_perms)
    if isinstance(crop, bool) or not isinstance(crop, int) or not 1 <= crop <= length:
        raise ValueError(f"crop must be an integer in [1, length = {length}], got {crop!r}")
    g = torch.Generator().manual_seed(seed)
    perms = torch.stack([torch.stack([torch.randperm(vocab, generator=g) for _ in range(n_perms)])
                         for _ in range(n_classes)])  # fmt: skip
    weights = -torch.log(torch.rand(n_classes, n_perms, generator=g))  # Dirichlet(1) rows
    weights = weights / weights.sum(1, keepdim=True)
    trans = torch.zeros(n_classes, vocab, vocab)
    for c in range(n_classes):
        for j in range(n_perms):
            trans[c, torch.arange(vocab), perms[c, j]] += weights[c, j]
    cdf = trans.cumsum(-1)
    n = n_train + n_test
    y = torch.randint(n_classes, (n,), generator=g)
    tokens = torch.empty(n, length, dtype=torch.long)
    tokens[:, 0] = torch.randint(vocab, (n,), generator=g)
    u = torch.rand(n, length, generator=g)
    for t in range(1, length):
        row = cdf[y, tokens[:, t - 1]]  # [n, vocab]
        tokens[:, t] = (u[:, t : t + 1] > row).sum(1).clamp_max(vocab - 1)
    view = SequenceCrop(crop, mask_id=vocab, mask_prob=mask_prob)
    return SSLData(
        name="markov-sequences",
        train_x=tokens[:n_train].contiguous(),
        train_y=y[:n_train].contiguous(),
        test_x=tokens[n_train:].contiguous(),
        test_y=y[n_train:].contiguous(),
        num_classes=n_classes,
        augment=view,
        encoder=("seqcnn", {"vocab": vocab + 1}),
    )


def bag_class_mi(pi: np.ndarray, bag_size: int) -> float:
    """I(C; bag) in nats for C uniform on the rows of ``pi`` [K, V] and a bag of ``bag_size``
    i.i.d. tokens from π_C, summed exactly over every count vector n (Σ n = bag_size):
    I = Σ_c Σ_n p(c) p(n|c) log[p(n|c) / p(n)], p(n|c) = multinomial(bag_size; π_c)(n)."""
    pi = np.asarray(pi, dtype=np.float64)
    k, v = pi.shape
    if not (np.all(pi > 0) and np.allclose(pi.sum(1), 1.0)):
        raise ValueError("pi must hold K positive rows that each sum to 1")
    _check_int(1, bag_size=bag_size)
    n_vectors = math.comb(bag_size + v - 1, v - 1)
    if n_vectors > 5_000_000:
        raise ValueError(
            f"{n_vectors} count vectors to enumerate (bag_size {bag_size}, vocab {v}); "
            "use a smaller bag or vocabulary"
        )
    bars = np.array(list(itertools.combinations(range(bag_size + v - 1), v - 1)), dtype=np.int64)
    edges = np.concatenate([np.full((len(bars), 1), -1), bars,
                            np.full((len(bars), 1), bag_size + v - 1)], axis=1)  # fmt: skip
    counts = np.diff(edges, axis=1) - 1  # stars between consecutive bars: [n_vectors, V]
    log_coef = gammaln(bag_size + 1) - gammaln(counts + 1).sum(1)
    log_p = log_coef[:, None] + counts @ np.log(pi).T  # log p(n | c): [n_vectors, K]
    log_marg = logsumexp(log_p, axis=1) - math.log(k)
    return float(np.sum(np.exp(log_p) / k * (log_p - log_marg[:, None])))


def ball_latents(means: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """u = μ_y + r·s, s uniform in the unit ball, r = 0.45·min_{c≠c'} ‖μ_c − μ_c'‖: the classes'
    balls are disjoint, so y is the index of the mean nearest to u."""
    n, dim = y.shape[0], means.shape[1]
    radius = 0.45 * float(torch.pdist(means).min())
    direction = torch.randn(n, dim, generator=generator, dtype=means.dtype)
    direction = direction / direction.norm(dim=1, keepdim=True)
    scale = torch.rand(n, 1, generator=generator, dtype=means.dtype) ** (1.0 / dim)
    return means[y] + radius * scale * direction


def paired_bags(
    *,
    n_classes: int = 8,
    vocab: int = 16,
    bag_size: int = 6,
    concentration: float = 0.5,
    latent_dim: int = 4,
    continuous_dim: int = 16,
    nuisance_dim: int = 8,
    n_train: int = 4096,
    n_test: int = 1024,
    seed: int = 0,
) -> SSLData:
    """Two modalities of one class (continuous vector, bag of tokens) with I(X_A; X_B) known
    exactly (``true_mi``; see the module docstring). Stored sample: [continuous view | ids]."""
    _check_int(2, n_classes=n_classes, vocab=vocab, n_train=n_train, n_test=n_test)
    _check_int(1, bag_size=bag_size, latent_dim=latent_dim)
    _check_int(0, nuisance_dim=nuisance_dim)
    _check_positive(concentration=concentration)
    if isinstance(continuous_dim, bool) or not isinstance(continuous_dim, int) or (
        continuous_dim < latent_dim
    ):
        raise ValueError(
            f"continuous_dim must be an integer >= latent_dim = {latent_dim} (the map must be "
            f"injective), got {continuous_dim!r}"
        )
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.full(vocab, float(concentration)), size=n_classes)
    pi = np.maximum(pi, 1e-12)
    pi = pi / pi.sum(1, keepdims=True)
    means = 2.0 * torch.randn(n_classes, latent_dim, generator=g, dtype=torch.float64)
    w1 = torch.randn(continuous_dim, latent_dim, generator=g, dtype=torch.float64)
    w1 = w1 * math.sqrt(2.0 / latent_dim)
    b1 = 0.5 * torch.randn(continuous_dim, generator=g, dtype=torch.float64)
    w2 = torch.randn(continuous_dim, continuous_dim, generator=g, dtype=torch.float64)
    w2 = w2 / math.sqrt(continuous_dim)

    n = n_train + n_test
    y = torch.randint(n_classes, (n,), generator=g)
    u = ball_latents(means, y, g)
    x = torch.tanh(u @ w1.T + b1) @ w2.T
    x = (x - x[:n_train].mean(0)) / x[:n_train].std(0)
    nuisance = torch.randn(n, nuisance_dim, generator=g, dtype=torch.float64)
    cdf = torch.from_numpy(np.cumsum(pi, axis=1))
    draws = torch.rand(n, bag_size, generator=g, dtype=torch.float64)
    ids = torch.searchsorted(cdf[y], draws, right=True).clamp_max(vocab - 1)
    dim = continuous_dim + nuisance_dim
    rows = torch.cat([x, nuisance, ids.double()], dim=1).float()
    return SSLData(
        name="paired-bags",
        train_x=rows[:n_train].contiguous(),
        train_y=y[:n_train].contiguous(),
        test_x=rows[n_train:].contiguous(),
        test_y=y[n_train:].contiguous(),
        num_classes=n_classes,
        augment=ModalityView(dim, "continuous"),
        augment_b=ModalityView(dim, "tokens"),
        encoder=("pair", {"continuous_dim": dim, "vocab": vocab}),
        true_mi=bag_class_mi(pi, bag_size),
    )


def load_token_data(name: str, *, seed: int = 0, **kwargs: object) -> SSLData:
    """A data set of :data:`TOKEN_DATASETS` by name, with its generator's keyword arguments."""
    makers = {"markov-sequences": markov_sequences, "paired-bags": paired_bags}
    if name not in makers:
        raise ValueError(f"unknown token data set {name!r}; expected one of {TOKEN_DATASETS}")
    return makers[name](seed=seed, **kwargs)  # type: ignore[operator]
