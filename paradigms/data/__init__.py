"""The data layer: data sets for SDMI/JMI training, their augmentations and the batch order.

A data set is an :class:`SSLData` (:mod:`paradigms.data.types`): train and held-out tensors with
class labels, and an ``augment(x, generator, rows=None)`` that draws one random view of a batch
(with ``rows``, the rows of that view only — the draws of the whole batch are still made, so a rank
of a distributed run gets its shard of the single-process views bit for bit). Two independent calls
give the two views x_a, x_b of DESIGN.md §3 (``augment_b``, when set, draws view B from its own
distribution), so I(X_A; X_B) > 0 comes only from the shared sample.

Modules, lowest first: ``types`` (SSLData, the image batch contract); ``vectors``
(``gaussian-mixture``, with ground-truth cluster structure, and its vector augmentation;
``nuisance-views``, two views sharing a label part and a nuisance part of tunable strength with
known MI); ``tokens`` (``markov-sequences`` and ``paired-bags``: token sequences; a continuous
view paired with a bag of tokens, with exact I(X_A; X_B)); ``image_augment`` (batched image
augmentation on the device); ``images`` (image files read locally: ``IMAGE_DATASETS`` plus
``imagefolder:PATH``); ``sampling`` (each epoch a permutation of the training set).
:func:`load_dataset` picks the module by name.
"""

from __future__ import annotations

from paradigms.data import images, tokens
from paradigms.data.types import SSLData
from paradigms.data.vectors import (
    NUISANCE_VIEWS,
    VectorAugmentation,
    gaussian_mixture,
    nuisance_views,
)

__all__ = [
    "SSLData", "VectorAugmentation", "gaussian_mixture", "load_dataset", "nuisance_views",
]  # fmt: skip


def load_dataset(name: str, *, seed: int = 0, **kwargs: object) -> SSLData:
    """Data set by its command-line name (DESIGN.md §5).

    ``gaussian-mixture`` and ``nuisance-views`` take the keyword arguments of
    :func:`gaussian_mixture` and :func:`nuisance_views`, the token data
    sets those of their generators (:mod:`paradigms.data.tokens`); image names
    (``fashion-mnist``, ``digits``, ``cifar10``, ``cifar100``, ``fake``, ``imagefolder:PATH``, …)
    go to :mod:`paradigms.data.images`.
    """
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a str, got {type(name).__name__}")
    if name == "gaussian-mixture":
        return gaussian_mixture(seed=seed, **kwargs)  # type: ignore[arg-type]
    if name == NUISANCE_VIEWS:
        return nuisance_views(seed=seed, **kwargs)  # type: ignore[arg-type]
    if name in tokens.TOKEN_DATASETS:
        return tokens.load_token_data(name, seed=seed, **kwargs)
    if name in images.IMAGE_DATASETS or name.startswith("imagefolder:"):
        return images.load_ssl_data(name, seed=seed, **kwargs)  # type: ignore[arg-type]
    names = ("gaussian-mixture", NUISANCE_VIEWS, *tokens.TOKEN_DATASETS, *images.IMAGE_DATASETS)
    known = ", ".join(names)
    raise ValueError(f"unknown data set {name!r}; expected one of: {known}")
