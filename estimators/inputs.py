"""What the default makes of representation-shaped inputs: repeated rows and tied values.

Embeddings of augmented copies of one input hold exact repeats, and ReLU codes hold exact zeros;
both break the estimators' premise of i.i.d. samples of a continuous pair.

- **Repeated pairs** (:func:`distinct_pairs`): a row (x_i, y_i) equal to an earlier one. Under a
  continuous pair that has probability 0, so it is a copy; copies are not independent samples
  and bias every estimator upward (64 + 64 dims, half the rows copied, I = 2.0: the default read
  2.26). The default keeps the first of each and says how many it dropped.
- **Rows repeated on one side only** (:func:`repeated_rows`): x_i = x_j with y_i ≠ y_j: one
  input seen with several partners. The estimators treat the copies as independent samples of a
  continuous X, so the estimate is likely high; flagged, not changed.
- **Tied values** (:func:`tied_columns`): a column whose most frequent value covers at least
  ``TIE_SHARE`` of the rows (ReLU zeros, a saturated unit). The flow estimator spreads ties at
  random (``estimators.marginals.NormalScores``), which keeps the MI, but the Gaussian model of
  such latents is no bound.

Rows are compared by two seeded random projections (exact copies give equal projections) and
then checked value by value, so the cost is one pass over the data.
"""

from __future__ import annotations

import numpy as np

#: a column whose most frequent value holds at least this share of the rows has ties worth a flag
TIE_SHARE = 0.05


def _first_copies(arr: np.ndarray) -> np.ndarray:
    """For each row, the index of the first row equal to it (itself if none earlier)."""
    rng = np.random.default_rng(12345)
    keys = arr @ rng.standard_normal((arr.shape[1], 2))
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    candidate = first[inverse.ravel()]
    same = np.all(arr[candidate] == arr, axis=1)  # guards against a projection collision
    return np.where(same, candidate, np.arange(arr.shape[0]))


def distinct_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(x, y) without the rows that repeat an earlier (x, y) pair exactly, and how many went."""
    keep = _first_copies(np.hstack([x, y])) == np.arange(x.shape[0])
    return x[keep], y[keep], int(x.shape[0] - keep.sum())


def repeated_rows(arr: np.ndarray) -> int:
    """How many rows of ``arr`` equal an earlier row."""
    return int(np.sum(_first_copies(arr) != np.arange(arr.shape[0])))


def tied_columns(arr: np.ndarray) -> tuple[list[int], float]:
    """Columns whose most frequent value covers ≥ ``TIE_SHARE`` of the rows (and at least two),
    and the largest share of any column."""
    ordered = np.sort(arr, axis=0)
    n = arr.shape[0]
    change = np.vstack([np.ones((1, arr.shape[1]), bool), ordered[1:] != ordered[:-1]])
    shares = []
    for j in range(arr.shape[1]):
        starts = np.flatnonzero(change[:, j])
        shares.append(np.max(np.diff(np.append(starts, n))) / n)
    shares_arr = np.array(shares)
    tied = np.flatnonzero((shares_arr >= TIE_SHARE) & (shares_arr * n >= 2))
    return tied.tolist(), float(shares_arr.max())


__all__ = ["TIE_SHARE", "distinct_pairs", "repeated_rows", "tied_columns"]
