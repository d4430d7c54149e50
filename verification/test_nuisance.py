"""Verification of P9 (CLAIMS.md): a nuisance factor the views share raises their MI and lowers
linear-probe accuracy; drawn apart for each view it does not raise the MI.

The verdict is the quick report's (seed 0). The rule is also fed runs built to pass and to break
it, and its least-squares trend is checked against scipy's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mitheory.claims import nuisance as nu


def test_P9_verdict(claim_check, claim_result) -> None:
    """The quick design's verdict and its control; the mechanism is reported with it: under the
    shared nuisance the features lose label information and gain nuisance information."""
    claim = claim_result("P9")
    for rule in claim.extra["rules"]["shared"].values():
        assert rule["label_mi"]["change"] < 0 < rule["nuisance_mi"]["change"], rule
    claim_check("P9")


def test_P9_section_table_and_figure(section_data, cached_family) -> None:
    """Every cell of the quick design is in the table with finite measures and its exact MI: the
    shared nuisance adds the closed-form I(N_A; N_B) to the exact view MI, the control none."""
    data = section_data("nuisance")
    b = nu.budget(True)
    rows = data["rows"]
    assert len(rows) == len(b.methods) * (2 * len(b.strengths) - 1)
    base = {r["method"]: r["exact_view_mi"] for r in rows if r["strength"] == 0}
    for r in rows:
        assert all(math.isfinite(r[m]["mean"]) for m in nu.MEASURES)
        extra = r["exact_view_mi"] - base[r["method"]]
        assert extra == pytest.approx(r["exact_nuisance_mi"], abs=1e-9)
        assert (r["exact_nuisance_mi"] > 0) == (r["strength"] > 0 and r["shared"] is True)
    _, folder = cached_family("nuisance")
    assert (folder / "p9_nuisance.png").read_bytes()[:4] == b"\x89PNG"


def test_P9_trend_is_least_squares_with_a_one_sided_t_bound() -> None:
    rng = np.random.default_rng(0)
    x = np.repeat([0.0, 1.0, 2.0], 3)
    y = 0.4 * x + 0.1 * rng.standard_normal(x.size)
    t = nu.trend(list(zip(x, y, strict=True)), 2.0)
    ref = stats.linregress(x, y)
    assert t["change"] == pytest.approx(2 * ref.slope, rel=1e-12)
    assert t["se"] == pytest.approx(2 * ref.stderr, rel=1e-12)
    q = stats.t.ppf(0.95, x.size - 2)
    assert t["lower"] == pytest.approx(2 * (ref.slope - q * ref.stderr), rel=1e-12)
    with pytest.raises(ValueError, match="≥ 3 points"):
        nu.trend([(0.0, 1.0), (1.0, 2.0)], 1.0)


def _runs(mi_gain: dict[bool, float], acc_loss: dict[bool, float], noise: float = 0.02,
          methods: tuple[str, ...] = ("sdmi", "jmi"),
          ) -> tuple[dict, nu.NuisanceBudget]:  # fmt: skip
    """Fake runs of a design: view MI 1 + gain·s, accuracy 0.8 − loss·s per arm (True: shared),
    with seed noise; exact values of the real generator."""
    b = nu.NuisanceBudget(methods, (0.0, 1.0, 2.0), (0, 1, 2), 10, 64, ())
    rng = np.random.default_rng(1)
    runs = {}
    for m, s, shared in nu.cells(b):
        runs[(m, s, shared)] = [
            {"seed": k, "view_mi": 1 + mi_gain[shared] * s + noise * rng.standard_normal(),
             "probe_acc": 0.8 - acc_loss[shared] * s + noise * rng.standard_normal(),
             "label_mi": 1.5 - 0.3 * s * shared, "nuisance_mi": 0.5 * s * shared + 0.01 * k,
             "probe_se": 0.02, "collapsed": False, "exact": nu.exact(s, shared, k)}
            for k in b.seeds
        ]  # fmt: skip
    return runs, b


def test_P9_rule_on_runs_built_to_pass_and_to_break_it() -> None:
    # as claimed: shared raises MI and lowers accuracy; apart, neither
    claim, _ = nu.p9_claim(*_runs({True: 0.8, False: 0.0}, {True: 0.2, False: 0.0}))
    assert claim.verdict == "holds" and claim.control.verdict == "fails", claim.detail
    # the rise below δ_MI (0.1 × the shared nuisance MI at s_max, ≈ 0.43 nats): no rise
    runs, b = _runs({True: 0.1, False: 0.0}, {True: 0.2, False: 0.0})
    delta = nu.margins(runs, b)
    assert delta["mi"] == pytest.approx(0.1 * nu.exact(2.0, True, 0)["nuisance_mi"], rel=1e-12)
    assert nu.p9_claim(runs, b)[0].verdict == "fails"
    # MI rises but accuracy holds: fails; a control whose MI rises too: the control holds
    assert nu.p9_claim(*_runs({True: 0.8, False: 0.0}, {True: 0.0, False: 0.0}))[0].verdict \
        == "fails"  # fmt: skip
    leaky, _ = nu.p9_claim(*_runs({True: 0.8, False: 0.8}, {True: 0.2, False: 0.2}))
    assert leaky.verdict == "holds" and leaky.control.verdict == "holds"
    # one method of two passes: partial
    runs, b = _runs({True: 0.8, False: 0.0}, {True: 0.2, False: 0.0})
    for s in b.strengths[1:]:
        for r in runs[("jmi", s, True)]:
            r["probe_acc"] = 0.8
    assert nu.p9_claim(runs, b)[0].verdict == "partial"


def test_P9_control_changes_one_factor() -> None:
    """The control's data options differ from the claim's in ``shared`` only, and at s = 0 the
    two arms share their runs (one law)."""
    a, c = nu.data_options(1.0, True), nu.data_options(1.0, False)
    assert {k for k in a if a[k] != c[k]} == {"shared"}
    b = nu.budget(True)
    arm_shared = nu.arm({cell: [cell] for cell in nu.cells(b)}, "jmi", True, b.strengths)
    arm_apart = nu.arm({cell: [cell] for cell in nu.cells(b)}, "jmi", False, b.strengths)
    assert arm_shared[0.0] == arm_apart[0.0]
    assert all(arm_apart[s][0][2] is False for s in b.strengths[1:])


def test_P9_finding_sentence_reads_the_claim() -> None:
    from mitheory.claims.findings import findings

    claim, _ = nu.p9_claim(*_runs({True: 0.8, False: 0.0}, {True: 0.2, False: 0.0}))
    text = findings({"P9": claim})
    assert "**Q2 (why they part).**" in text and "holds (P9 table" in text
    shared = claim.extra["rules"]["shared"]
    low = min(r["view_mi"]["change"] for r in shared.values())
    assert f"view MI {low:+.2f} to" in text and "control fails" in text
    assert "**Q2 (why they part).**" not in findings({})
