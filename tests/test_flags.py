"""Warnings a user sees (estimators.flags): each raised where its condition holds, and not on a
case built not to trigger it."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from estimators import estimate_mi
from estimators.flags import MIWarning, input_flags, ksg_flags, neural_flags
from mitheory.distributions import GaussianStaircase, SparseGaussian


def _flags(result, prefix):
    return [f for f in result.diagnostics["flags"] if f.startswith(prefix)]


def test_discrete_inputs_warn_and_continuous_ones_do_not():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(500, 2)).astype(float)
    y = x[:, :1] + rng.normal(size=(500, 1))
    with pytest.warns(MIWarning, match="discrete: x column"):
        r = estimate_mi(x, y, method="gaussian")
    assert _flags(r, "discrete") and not _flags(r, "discrete: y")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MIWarning)  # the control: nothing to warn about
        estimate_mi(rng.normal(size=(500, 2)), y, method="gaussian")


def test_infonce_ceiling_warns_at_high_mi_and_not_at_low_mi():
    fast = {"max_steps": 150, "eval_every": 25, "folds": 2}
    x, y = GaussianStaircase(10.0).sample(600, seed=0)  # ceiling log 300 = 5.7
    with pytest.warns(MIWarning, match="infonce_ceiling"):
        estimate_mi(x, y, method="infonce", **fast)
    low = estimate_mi(*SparseGaussian(2, 2, 1, 0.5).sample(600, seed=0), method="infonce", **fast)
    assert not _flags(low, "infonce_ceiling")


def test_neural_flag_rules():
    folds = [{"best_step": 25, "first_eval": 25}, {"best_step": 25, "first_eval": 25},
             {"best_step": 200, "first_eval": 25}]  # fmt: skip
    stopped = neural_flags("dv", 0.01, (-0.02, 0.04), folds, 5.0, 100)
    assert any(f.startswith("critic_stopped") for f in stopped)
    assert not neural_flags("dv", 0.3, (0.2, 0.4), folds, 5.0, 100)  # stopped early, positive
    assert not neural_flags("dv", 0.01, (-0.02, 0.04), folds[2:], 5.0, 100)  # trained, reads 0
    assert neural_flags("smile", 3.6, (3.5, 3.7), folds[2:], 5.0, 1000)[0].startswith("smile_clip")
    assert not neural_flags("smile", 3.4, (3.3, 3.5), folds[2:], 5.0, 1000)
    assert neural_flags("infonce", math.log(1000) - 2.4, (1.0, 5.0), [], 5.0, 1000)
    assert not neural_flags("infonce", math.log(1000) - 2.6, (1.0, 5.0), [], 5.0, 1000)


@pytest.mark.parametrize(
    ("mi", "ci", "flagged"),
    [
        (-15.3, (-55.9, 25.2), True),  # JSD's read-out blown up (hard set, truth 8 nats)
        (0.22, (-3.50, 3.94), True),  # the same at truth 4 nats
        (math.nan, (math.nan, math.nan), True),
        (3.19, (0.83, 5.55), False),  # wide but below the estimate (NWJ, truth 8 nats)
        (0.10, (-0.29, 0.49), False),  # wide relative to the estimate, within ±1 nat
        (0.00, (-0.05, 0.05), False),  # independence
    ],
)
def test_unstable_flag_marks_intervals_wider_than_the_estimate_and_one_nat(mi, ci, flagged):
    flags = neural_flags("jsd", mi, ci, [{"best_step": 200, "first_eval": 25}], 5.0, 1000)
    assert any(f.startswith("unstable") for f in flags) is flagged


def test_ksg_dimension_flag_and_input_flag_threshold():
    assert ksg_flags(10) == [] and ksg_flags(11)[0].startswith("ksg_dimension")
    ten = np.repeat(np.arange(10.0), 10)[:, None]  # 10 distinct of 100 = 10 %: not flagged
    nine = np.concatenate([np.repeat(np.arange(9.0), 11), [0.0]])[:, None]  # 9 of 100: flagged
    assert input_flags(ten, ten) == []
    assert len(input_flags(nine, ten)) == 1 and input_flags(nine, ten)[0].startswith("discrete: x")


def test_critic_stopped_flag_at_independence():
    """At independence the critic can learn nothing: its best read-out is its first evaluation
    (measured: 5 of 5 folds) and the interval reaches 0, so the flag must be raised."""
    rng = np.random.default_rng(3)
    with pytest.warns(MIWarning, match="critic_stopped"):
        r = estimate_mi(rng.normal(size=(400, 2)), rng.normal(size=(400, 2)), method="dv",
                        max_steps=200, eval_every=25, patience=3)  # fmt: skip
    assert r.ci[0] <= 0.0


def test_drop_constant_drops_dead_units_and_records_them():
    x, y = SparseGaussian(3, 3, 2, 0.7).sample(400, seed=0)
    dead = np.hstack([x[:, :1], np.zeros((400, 1)), x[:, 1:]])
    with pytest.raises(ValueError, match="drop_constant=True"):
        estimate_mi(dead, y, method="gaussian")
    r = estimate_mi(dead, y, method="gaussian", drop_constant=True)
    assert r.diagnostics["dropped_columns"] == {"x": [1], "y": []}
    assert r.mi == pytest.approx(estimate_mi(x, y, method="gaussian").mi, abs=1e-12)
    with pytest.raises(ValueError, match="every column of y is constant"):
        estimate_mi(x, np.ones((400, 2)), method="gaussian", drop_constant=True)


def test_python_lists_are_accepted():
    x, y = SparseGaussian(2, 2, 1, 0.7).sample(300, seed=1)
    a = estimate_mi(x.tolist(), tuple(map(tuple, y)), method="gaussian")
    assert a.mi == estimate_mi(x, y, method="gaussian").mi
