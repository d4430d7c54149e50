"""Input validation shared by every estimator: clear errors at the boundary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar

import numpy as np
import torch

ConfigT = TypeVar("ConfigT")

MIN_SAMPLES = 4


def as_sample_matrix(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array of shape [n, d] after checking it.

    Accepts numpy arrays and torch tensors of a real floating or integer dtype, and Python lists
    or tuples of numbers (or of equal-length rows of numbers); a 1-D input is one column. Raises
    ``TypeError`` for other types or dtypes and ``ValueError`` for wrong shapes and non-finite
    values.
    """
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} is a {type(x).__name__} that is not a table of numbers (rows of equal "
                f"length holding real numbers): {err}"
            ) from err
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        arr = x.detach().to("cpu", torch.float64).numpy()
    elif isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(
                f"{name} must be a real numeric array, got dtype {x.dtype}; "
                "expected float or integer values"
            )
        arr = x.astype(np.float64, copy=False)
    else:
        raise TypeError(
            f"{name} must be a numpy array, a torch tensor or a list of numbers, got "
            f"{type(x).__name__}"
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape [n] or [n, d], got shape {tuple(arr.shape)}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {tuple(arr.shape)})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); expected finite numbers")
    return arr


def check_pair(
    x: object, y: object, min_samples: int = MIN_SAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of sample sets: same length n ≥ ``min_samples``, no constant column."""
    xa = as_sample_matrix(x, "x")
    ya = as_sample_matrix(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples, got {xa.shape[0]} and {ya.shape[0]}"
        )
    if xa.shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples, got n = {xa.shape[0]}")
    for name, arr in (("x", xa), ("y", ya)):
        const = np.flatnonzero(np.ptp(arr, axis=0) == 0)
        if const.size:
            raise ValueError(
                f"{name} has constant column(s) {const.tolist()[:10]}; a constant carries no "
                "information and makes MI undefined for density estimators — drop it, or pass "
                "drop_constant=True (--drop-constant on the command line)"
            )
    return xa, ya


def drop_constant_columns(arr: np.ndarray, name: str) -> tuple[np.ndarray, list[int]]:
    """``arr`` without its constant columns (dead units) and their indices; ValueError if none
    is left."""
    const = np.flatnonzero(np.ptp(arr, axis=0) == 0)
    if const.size == arr.shape[1]:
        raise ValueError(f"every column of {name} is constant: there is nothing to estimate")
    return np.delete(arr, const, axis=1), const.tolist()


def config_from_options(cls: type[ConfigT], options: dict[str, Any], what: str) -> ConfigT:
    """``cls(**options)`` for an options dataclass; an unknown name is a TypeError listing the
    valid ones for ``what`` (e.g. "a neural estimator")."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(
            f"unknown option(s) {unknown} for {what}; valid: {', '.join(sorted(names))}"
        )
    return cls(**options)


def progress_bar(items: Iterable[Any], desc: str, progress: bool | None) -> Any:
    """``items`` wrapped in a tqdm bar that appears once 2 s have passed; ``progress`` None shows
    it on a terminal only, True always, False never."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, delay=2.0, leave=False,
                disable=None if progress is None else not progress)  # fmt: skip


def resolve_device(device: object) -> torch.device:
    """A torch.device from "cpu"/"cuda[:i]"; ValueError if unknown or CUDA is not available."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a string like 'cpu' or 'cuda', got {type(device).__name__}"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be like 'cpu', 'cuda' or 'cuda:1', got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a cpu or cuda device, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here")
    return dev
