"""Encoders for token data: sequences, bags of tokens, and a pair of modality towers.

- :class:`SequenceEncoder` (``seqcnn``): token ids [N, L] → Embedding → Conv1d(k = 3) → BN →
  ReLU → mean over positions → Linear → BN → ReLU → features [N, hidden_dim]. Any length L ≥ 1
  (crops and whole sequences read the same way).
- :class:`BagEncoder` (``bag``): token ids [N, L] → ``nn.EmbeddingBag`` (mean, order ignored) →
  Linear → BN → ReLU → [N, hidden_dim].
- :class:`PairEncoder` (``pair``): two modalities with asymmetric towers, an MLP for the
  continuous vector view and a :class:`BagEncoder` for the token view, into one feature space.
  ``forward`` dispatches on the input: integer ids [N, L] go to the bag tower, float vectors
  [N, continuous_dim] to the MLP tower, and a stored sample [N, continuous_dim + L] (both
  modalities side by side, what the probes read) to the MLP tower on its continuous part. Every
  method then runs unchanged: JMI's "one encoder" is the pair (each view through its own
  modality's tower, one joint gradient), and an SDMI target is a copy of the pair whose towers
  follow the online towers modality by modality (EMA, copy) or ascend on their own (gradient).

Inputs of the wrong dtype or shape get a ``ValueError``; the id range is not checked in the
forward pass (that would read a value back from the device every step): the data sets draw ids in
[0, vocab) and ``nn.Embedding`` raises an ``IndexError`` on any other.
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.networks.mlp import MLPEncoder

TOKEN_BACKBONES = ("seqcnn", "bag", "pair")


def _positive(**values: object) -> None:
    for label, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")


def _check_tokens(x: torch.Tensor, who: str) -> None:
    if x.ndim != 2 or x.is_floating_point() or x.dtype == torch.bool:
        raise ValueError(
            f"{who} expects integer token ids [N, L], got {x.dtype} of shape {tuple(x.shape)}"
        )


class SequenceEncoder(nn.Module):
    """1-D convolutional encoder of token sequences (order-aware): Embedding → Conv1d(k = 3,
    ``conv_dim`` channels) → BN → ReLU → mean over positions → Linear → BN → ReLU; output
    ``hidden_dim``. One narrow convolution keeps a CPU step cheap; it reads bigrams, which is
    what the ``markov-sequences`` classes differ in."""

    def __init__(
        self, vocab: int, embed_dim: int = 16, conv_dim: int = 32, hidden_dim: int = 64
    ) -> None:
        super().__init__()
        _positive(vocab=vocab, embed_dim=embed_dim, conv_dim=conv_dim, hidden_dim=hidden_dim)
        self.embed = nn.Embedding(vocab, embed_dim)
        self.conv = nn.Sequential(
            nn.Conv1d(embed_dim, conv_dim, 3, padding=1, bias=False),
            nn.BatchNorm1d(conv_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Linear(conv_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU()
        )
        self.output_dim = hidden_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, "SequenceEncoder")
        h = self.conv(self.embed(x).transpose(1, 2))  # [N, conv_dim, L]
        return self.head(h.mean(dim=2))


class BagEncoder(nn.Module):
    """Bag-of-tokens encoder (order-free mean of token embeddings, then Linear-BN-ReLU)."""

    def __init__(self, vocab: int, embed_dim: int = 32, hidden_dim: int = 128) -> None:
        super().__init__()
        _positive(vocab=vocab, embed_dim=embed_dim, hidden_dim=hidden_dim)
        self.embed = nn.EmbeddingBag(vocab, embed_dim, mode="mean")
        self.net = nn.Sequential(
            nn.Linear(embed_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU()
        )
        self.output_dim = hidden_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, "BagEncoder")
        return self.net(self.embed(x))


class PairEncoder(nn.Module):
    """Asymmetric towers for a continuous view [N, continuous_dim] and a token view [N, L]."""

    def __init__(
        self, continuous_dim: int, vocab: int, hidden_dim: int = 64, embed_dim: int = 32
    ) -> None:
        super().__init__()
        _positive(continuous_dim=continuous_dim)
        self.continuous_dim = continuous_dim
        self.continuous = MLPEncoder(continuous_dim, hidden_dim=hidden_dim, depth=2)
        self.tokens = BagEncoder(vocab, embed_dim=embed_dim, hidden_dim=hidden_dim)
        self.output_dim = hidden_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            return self.tokens(x)
        if x.ndim != 2 or x.shape[1] < self.continuous_dim:
            raise ValueError(
                f"PairEncoder expects float vectors [N, {self.continuous_dim}] (or stored "
                f"samples whose first {self.continuous_dim} columns are the continuous view) "
                f"or integer token ids [N, L], got {x.dtype} of shape {tuple(x.shape)}"
            )
        return self.continuous(x[:, : self.continuous_dim])


def build_token_backbone(name: str, **kwargs: object) -> tuple[nn.Module, int]:
    """``seqcnn`` (``vocab``, ``embed_dim``, ``conv_dim``, ``hidden_dim``), ``bag`` (``vocab``,
    ``embed_dim``, ``hidden_dim``) or ``pair``
    (``continuous_dim``, ``vocab``, ``hidden_dim``, ``embed_dim``) and its feature dimension."""
    classes = {"seqcnn": SequenceEncoder, "bag": BagEncoder, "pair": PairEncoder}
    if name not in classes:
        raise ValueError(f"unknown token backbone {name!r}; expected one of {TOKEN_BACKBONES}")
    try:
        module = classes[name](**kwargs)  # type: ignore[arg-type]
    except TypeError as err:
        raise ValueError(
            f"backbone {name!r}: {err}; a token data set supplies these for its own encoder "
            "(markov-sequences: seqcnn, paired-bags: pair), other pairings need them as "
            "backbone options"
        ) from err
    return module, module.output_dim
