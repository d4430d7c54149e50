"""P3's time to collapse (``mitheory.claims.collapse``): the collapse line, the end rule, the
scale and the median's interval. The claim on runs built to pass and to break the prediction is
in tests/test_report_sections.py."""

from __future__ import annotations

import pytest

from mitheory.claims import collapse as cl

REF = {s: 4.0 for s in range(0, 3001, 100)}


def _trace(values: list[float], travel_end: float = 0.5) -> list[tuple[int, float, float]]:
    n = len(values)
    return [(100 * i, v, travel_end * i / max(n - 1, 1)) for i, v in enumerate(values)]


def test_collapse_time_needs_a_streak_below_the_line_to_the_end():
    # below 0.1 × 4 = 0.4 from step 300 on: collapsed at 300
    assert cl.collapse_time(_trace([1, 3, 2, 0.3, 0.2, 0.1, 0.1]), REF) == 300
    # a dip that recovers is not a collapse
    assert cl.collapse_time(_trace([1, 3, 0.2, 0.2, 0.2, 3, 3]), REF) is None
    # below for fewer than STREAK evaluations at the end: not (yet) a collapse
    assert cl.collapse_time(_trace([1, 3, 3, 3, 3, 0.2, 0.2]), REF) is None
    # step 0 (random initialization) never counts
    assert cl.collapse_time(_trace([0.0, 0.1, 0.1, 0.1]), REF) == 100
    # the line is relative: the same values against a scale of 1 are healthy
    assert cl.collapse_time(_trace([1, 0.3, 0.2, 0.2, 0.2]), {s: 1.0 for s in REF}) is None


def test_end_rule_ends_on_travel_or_confirmed_collapse_and_never_for_the_scale():
    rule = cl.EndRule(tuple(REF.items()))
    assert not rule.ends(_trace([1, 3, 3]))
    assert rule.ends(_trace([1, 3, 3], travel_end=1.2))  # the target moved its own norm
    assert not rule.ends(_trace([1, 3, 0.2, 0.2]))  # two below: not yet confirmed
    assert rule.ends(_trace([1, 3, 0.2, 0.2, 0.2]))
    assert not cl.EndRule().ends(_trace([1, 0.0, 0.0, 0.0, 0.0], travel_end=5.0))


def test_reference_is_the_median_over_seeds_on_common_steps():
    traces = [_trace([0, 2, 4]), _trace([0, 3, 5]), _trace([0, 1, 6, 6])]
    assert cl.reference_curve(traces) == ((0, 0.0), (100, 2.0), (200, 5.0))


def test_median_interval_coverage_and_censoring():
    out = cl.median_interval([500, 300, None, 700, 400], [500, 300, 3000, 700, 400])
    # n = 5: the interval (t_(1), t_(5)) covers the median with probability 1 − 2/32
    assert out["coverage"] == pytest.approx(1 - 2 / 32)
    assert out["median"] == 500 and out["interval"] == [300, None]
    assert out["collapsed"] == 4 and out["censored_at"] == [3000]
    # n = 10: k = 2 has coverage 1 − 2·11/1024 ≥ 0.9, k = 3 has 1 − 2·56/1024 = 0.891 < 0.9
    ten = cl.median_interval(list(range(100, 1100, 100)), [3000] * 10)
    assert ten["coverage"] == pytest.approx(1 - 2 * 11 / 1024)
    assert ten["interval"] == [200, 900]
    none = cl.median_interval([None] * 5, [3000] * 5)
    assert none["median"] is None and none["collapsed"] == 0
