"""The public entry point: ``estimate_mi(x, y, method=...)`` and the ``METHODS`` registry.

Every registered method is a callable ``f(x, y, *, seed, device, **options) -> MIResult`` in
nats. The KSG and Gaussian estimators are imported only when they are first called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch

from estimators.cpu import choose_threads, torch_threads
from estimators.flags import emit, input_flags
from estimators.neural import fit_estimate, fit_estimates
from estimators.readout import NEURAL_METHODS
from estimators.result import MIResult
from estimators.validation import (
    as_sample_matrix,
    check_pair,
    drop_constant_columns,
    resolve_device,
)

Estimator = Callable[..., MIResult]


def _neural(method: str) -> Estimator:
    def estimator(
        x: Any, y: Any, *, seed: int = 0, device: str = "cpu", **options: Any
    ) -> MIResult:
        return fit_estimate(x, y, method, seed=seed, device=device, **options)

    estimator.__name__ = method
    estimator.__doc__ = f"Neural estimator '{method}'; see estimators.neural.fit_estimate."
    return estimator


def _ksg(
    x: Any, y: Any, *, seed: int = 0, device: str = "cpu", discrete: str | None = None,
    **options: Any,
) -> MIResult:
    """Kraskov–Stögbauer–Grassberger k-NN estimator (estimators.knn.ksg); with a ``discrete``
    side, Ross's mixed discrete–continuous KSG (estimators.mixed.mixed_ksg)."""
    if discrete is not None:
        from estimators.mixed import mixed_ksg

        return mixed_ksg(x, y, discrete=discrete, seed=seed, device=device, **options)
    from estimators.knn import ksg

    return ksg(x, y, seed=seed, device=device, **options)


def _flow(x: Any, y: Any, *, seed: int = 0, device: str = "cpu", **options: Any) -> MIResult:
    """Gaussianizing-flow estimator (estimators.flow.flow_mi)."""
    from estimators.flow import flow_mi

    return flow_mi(x, y, seed=seed, device=device, **options)


def _auto(x: Any, y: Any, *, seed: int = 0, device: str = "cpu", **options: Any) -> MIResult:
    """The default: picks by the data and says which method and why (estimators.auto.auto_mi)."""
    from estimators.auto import auto_mi

    return auto_mi(x, y, seed=seed, device=device, **options)


def _gaussian(x: Any, y: Any, *, seed: int = 0, device: str = "cpu", **options: Any) -> MIResult:
    """Gaussian plug-in estimator (estimators.gaussian.gaussian_plugin)."""
    from estimators.gaussian import gaussian_plugin

    return gaussian_plugin(x, y, seed=seed, device=device, **options)


METHODS: Mapping[str, Estimator] = MappingProxyType(
    {
        "auto": _auto,
        **{name: _neural(name) for name in NEURAL_METHODS},
        "ksg": _ksg,
        "gaussian": _gaussian,
        "flow": _flow,
    }
)


def estimate_mi(
    x: Any,
    y: Any,
    method: str = "auto",
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    base: float = math.e,
    drop_constant: bool | None = None,
    discrete: str | None = None,
    return_critic: bool = False,
    threads: int | None = None,
    **options: Any,
) -> MIResult:
    """Estimate the mutual information I(X; Y) from paired samples, with a 95 % CI.

    Args:
        x: samples of X, shape [n] or [n, dx]: numpy array, torch tensor or list (real numbers).
        y: samples of Y, shape [n] or [n, dy], same n (≥ 4), no constant column (unless
            ``drop_constant``).
        method: a name in ``METHODS``: "auto" (default: picks by the data, reports which and
            why in ``diagnostics``; ``estimators.auto``), "flow" (Gaussianizing flows, no log-batch
            ceiling; ``estimators.flow``), neural "dv", "nwj", "infonce", "jsd", "smile", "mine"
            (``estimators.neural``), "ksg" (k-nearest neighbours), "gaussian" (plug-in).
        seed: makes the estimate deterministic (splits, initial weights, batches, tie noise).
        device: "cpu" or "cuda[:i]".
        base: logarithm base of the answer; e (default) gives nats, 2 gives bits.
        drop_constant: drop constant columns (dead units of an embedding) first; their indices
            go to ``diagnostics["dropped_columns"]``. None (default) drops them for "auto" (a
            constant carries no information, so the MI is unchanged) and makes them an error for
            every other method; False makes them an error always.
        discrete: "x" or "y" when that side is discrete (class labels; a row is one label):
            Ross's mixed KSG, as scikit-learn's ``mutual_info_classif`` (``estimators.mixed``);
            for ``method="ksg"`` or "auto" (which also detects a single integer label column).
        return_critic: for the neural methods, keep the trained fold critics as
            ``result.critic`` (``estimators.trained.TrainedCritic``: ``.estimate(x_new, y_new)``,
            ``.scores``, ``.save(path)``; ``estimators.trained.load_critic``).
        threads: torch CPU threads for the estimate; None (default) uses torch's setting, for
            the trained methods ("auto", "flow", neural) capped by the cores other processes
            leave idle (``estimators.cpu``), so a busy machine does not stall the estimate at
            torch's thread barriers.
        **options: method-specific settings (``estimators.neural.NeuralConfig`` fields for the
            neural methods, e.g. ``critic="bilinear"``; ``k`` for "ksg").

    Returns:
        MIResult with ``mi``, ``ci`` (95 % interval of the estimator's expectation), ``mi_ci``
        (95 % interval for the MI itself, where the method gives one: "auto"), ``method``,
        ``n``, ``unit``, ``seconds`` and method-specific ``diagnostics``.

    Warnings:
        ``estimators.flags.MIWarning`` for each condition under which the estimate is known to be
        unreliable (near a ceiling, discrete-looking data, a critic that stopped at once, KSG in
        high dimension, ...); the same sentences are in ``diagnostics["flags"]``.

    Raises:
        ValueError: unknown method, bad shapes, n < 4, NaN/inf, constant columns, bad device/base.
        TypeError: inputs that are not numeric arrays/tensors, unknown options, non-int seed.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(sorted(METHODS))}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(base, bool) or not (
        isinstance(base, (int, float)) and base > 1 and math.isfinite(base)
    ):
        raise ValueError(f"base must be a finite number > 1 (e for nats, 2 for bits), got {base!r}")
    if drop_constant is None:
        drop_constant = method == "auto"
    if not isinstance(drop_constant, bool):
        raise TypeError(f"drop_constant must be True, False or None, got {drop_constant!r}")
    if discrete is not None:
        if discrete not in ("x", "y"):
            raise ValueError(f"discrete must be 'x', 'y' or None, got {discrete!r}")
        if method not in ("auto", "ksg"):
            raise ValueError(
                f"discrete={discrete!r} is estimated by the mixed KSG: use method='ksg' or "
                f"'auto', not {method!r}"
            )
        options["discrete"] = discrete
    if not isinstance(return_critic, bool):
        raise TypeError(f"return_critic must be True or False, got {return_critic!r}")
    if return_critic:
        if method not in NEURAL_METHODS:
            raise ValueError(
                f"return_critic=True keeps the critics of the neural methods "
                f"({', '.join(NEURAL_METHODS)}); method={method!r} trains none"
            )
        options["return_critic"] = True
    device = str(resolve_device(device))
    dropped: dict[str, list[int]] = {}
    if drop_constant:
        x, y = as_sample_matrix(x, "x"), as_sample_matrix(y, "y")
        x, dropped["x"] = drop_constant_columns(x, "x")
        y, dropped["y"] = drop_constant_columns(y, "y")
    xa, ya = check_pair(x, y)
    if threads is None and method in ("ksg", "gaussian"):  # fast: not worth a 30 ms look
        threads = torch.get_num_threads()
    with torch_threads(choose_threads(threads)):
        result = METHODS[method](xa, ya, seed=seed, device=device, **options)
    labels = result.diagnostics.get("discrete")
    flags = input_flags(xa, ya, labels) + result.diagnostics.get("flags", [])
    result.diagnostics["flags"] = flags
    if drop_constant:
        result.diagnostics["dropped_columns"] = dropped
    emit(flags)
    return result if base == math.e else result.in_base(base)


def estimate_mi_many(
    pairs: Sequence[tuple[Any, Any]],
    method: str = "infonce",
    *,
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
    threads: int | None = None,
    **options: Any,
) -> list[MIResult]:
    """``[estimate_mi(x, y, method, seed=s, ...) for (x, y), s in zip(pairs, seeds)]`` for a
    neural ``method``, with the critics of every pair of one shape trained side by side in one
    stacked loop (``estimators.neural.fit_estimates``; equal to the one-at-a-time estimates up to
    float32 rounding). For many small estimates (every evaluation of a training run, the seeds
    of one design) the shared loop saves the per-step overhead of the separate ones: 1.08× at 8
    and 1.24× at 20 pairs of 512 in 64 + 64 dims, one CPU thread (``benchmarks/readouts.py``);
    the report's P1–P4 jobs took 130 CPU-s instead of 152. Inputs are checked as
    ``estimate_mi`` checks them, and each result carries its input's flags (nats; ``seconds`` is
    the whole batch's)."""
    if not isinstance(method, str) or method not in NEURAL_METHODS:
        raise ValueError(
            f"estimate_mi_many trains the critics of a neural method together "
            f"({', '.join(NEURAL_METHODS)}), got {method!r}; call estimate_mi per pair for others"
        )
    checked = [check_pair(x, y) for x, y in pairs]
    device = str(resolve_device(device))
    with torch_threads(choose_threads(threads)):
        results = fit_estimates(checked, method, seeds=seeds, device=device, **options)
    for (xa, ya), result in zip(checked, results, strict=True):
        flags = input_flags(xa, ya, None) + result.diagnostics.get("flags", [])
        result.diagnostics["flags"] = flags
        emit(flags)
    return results


__all__ = ["METHODS", "estimate_mi", "estimate_mi_many"]
