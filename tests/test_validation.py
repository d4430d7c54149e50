"""Input validation at the estimator boundary."""

import math

import numpy as np
import pytest
import torch

from estimators.result import MIResult
from estimators.validation import as_sample_matrix, check_pair


def test_accepts_numpy_torch_and_1d():
    x = np.arange(10, dtype=np.float32)
    assert as_sample_matrix(x, "x").shape == (10, 1)
    t = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    out = as_sample_matrix(t, "x")
    assert out.dtype == np.float64 and out.shape == (6, 2)
    assert as_sample_matrix(np.arange(5), "x").dtype == np.float64


@pytest.mark.parametrize(
    ("x", "err", "fragment"),
    [
        ({1.0, 2.0, 3.0}, TypeError, "numpy array, a torch tensor or a list"),
        ([[1.0, 2.0], [3.0]], TypeError, "table of numbers"),
        (["a", "b", "c", "d"], TypeError, "table of numbers"),
        (np.array(["a", "b"]), TypeError, "real numeric"),
        (np.ones((2, 2, 2)), ValueError, "shape"),
        (np.array([1.0, np.nan, 2.0, 3.0]), ValueError, "NaN"),
        (np.array([1.0, np.inf, 2.0, 3.0]), ValueError, "infinite"),
        (torch.ones(4, dtype=torch.complex64), TypeError, "real"),
    ],
)
def test_rejects_bad_samples(x, err, fragment):
    with pytest.raises(err, match=fragment):
        as_sample_matrix(x, "x")


def test_pair_checks():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 3))
    check_pair(x, y)
    with pytest.raises(ValueError, match="same number of samples"):
        check_pair(x, y[:9])
    with pytest.raises(ValueError, match="at least 4"):
        check_pair(x[:3], y[:3])
    y[:, 1] = 2.0
    with pytest.raises(ValueError, match=r"constant column\(s\) \[1\]"):
        check_pair(x, y)


def test_result_base_conversion():
    r = MIResult(mi=math.log(2), ci=(0.0, 2 * math.log(2)), method="ksg", n=10)
    bits = r.in_base(2)
    assert bits.unit == "bits" and math.isclose(bits.mi, 1.0) and math.isclose(bits.ci[1], 2.0)
    assert r.to_dict()["unit"] == "nats"
    assert set(r.to_dict()) == {"method", "mi", "ci", "unit", "n", "seconds"}
    with pytest.raises(ValueError, match="base"):
        r.in_base(1.0)
    with pytest.raises(ValueError, match="nats"):
        bits.in_base(2)


def test_diagnostics_are_converted_with_the_base():
    """Every quantity in nats in ``diagnostics`` is divided by ln 2 for bits (variances by
    ln² 2); counts, steps and settings are not. Fails if in_base leaves diagnostics alone or
    scales a step or a count."""
    ln2 = math.log(2)
    diag = {
        "se": 0.2, "tau2": 0.04, "k": 3, "block_mi": [[0.5, 0.7]], "stopped": "patience",
        "folds": [{"estimate": 1.0, "se": 0.1, "null": False, "steps": 300,
                   "curve": [[0, math.nan, 0.3], [25, 0.8, 0.9]]}],
        "candidates": {"ksg": {"mi": 1.5, "ci": [1.0, 2.0], "unit": "nats", "n": 100}},
    }  # fmt: skip
    r = MIResult(mi=1.0, ci=(0.5, 1.5), method="auto", n=100, diagnostics=diag)
    d = r.in_base(2).diagnostics
    assert d["unit"] == "bits" and d["k"] == 3 and d["stopped"] == "patience"
    assert math.isclose(d["se"], 0.2 / ln2) and math.isclose(d["tau2"], 0.04 / ln2**2)
    assert d["block_mi"][0] == pytest.approx([0.5 / ln2, 0.7 / ln2])
    fold = d["folds"][0]
    assert fold["steps"] == 300 and fold["null"] is False
    assert math.isclose(fold["estimate"], 1 / ln2) and math.isclose(fold["se"], 0.1 / ln2)
    assert [row[0] for row in fold["curve"]] == [0, 25]
    assert fold["curve"][1][1:] == pytest.approx([0.8 / ln2, 0.9 / ln2])
    ksg = d["candidates"]["ksg"]
    assert ksg["unit"] == "bits" and ksg["n"] == 100
    assert ksg["ci"] == pytest.approx([1 / ln2, 2 / ln2])
    assert r.diagnostics["se"] == 0.2 and "unit" not in r.diagnostics  # the original is unchanged
