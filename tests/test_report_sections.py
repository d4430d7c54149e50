"""The estimator (E1–E5) and paradigm (P1–P5) report sections: claim ids, verdict schema, and
verdict logic that can fail.

The default tests use tiny budgets (``sizes=``) or a fake training runner, so they take seconds;
each verdict function is also fed a violating input and must then say "fails" (or "partial").
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from estimators import bounds
from mitheory import estimator_study as es
from mitheory import paradigm_study as ps
from mitheory.report_types import VERDICTS, Section

TINY_ESTIMATORS = es.EstimatorBudget(
    e1_matrices=5, e3_elements=20_000, e3_sizes=(4, 8), n_samples=300, neural=(), max_dim=1
)


def _check_schema(sections: list[Section], ids: list[str], out: Path) -> None:
    claims = [c for s in sections for c in s.claims]
    assert [c.id for c in claims] == ids
    for c in claims:
        assert c.verdict in VERDICTS and math.isfinite(c.figure) and c.detail
    for s in sections:
        for name in s.figures:
            assert (out / name).read_bytes()[:4] == b"\x89PNG"
            assert f"]({name})" in s.markdown


# ----------------------------------------------------------------------------- estimators


def test_estimator_sections_give_E1_to_E5(tmp_path):
    sections = es.report_sections(True, 0, tmp_path, sizes=TINY_ESTIMATORS)
    _check_schema(sections, ["E1", "E2", "E3", "E4", "E5"], tmp_path)
    # E1/E2 are exact properties of the bounds: on true bounds they hold on every matrix
    assert [c.verdict for c in sections[0].claims] == ["holds", "holds"]
    assert sections[0].claims[0].figure <= 0.0 <= sections[0].claims[1].figure


def _infonce_without_positive(scores: torch.Tensor) -> torch.Tensor:
    """A classic bug: the positive pair left out of the denominator. On a dominant diagonal
    c·I it gives c + log N − log(N − 1) > log N, so E1 must flag it."""
    n = scores.shape[0]
    off = scores.masked_fill(torch.eye(n, dtype=torch.bool), -math.inf)
    return (scores.diagonal() - torch.logsumexp(off, dim=1)).mean() + math.log(n)


def test_E1_verdict_fails_for_a_bound_that_exceeds_log_n():
    rows = es.bound_gaps(es.score_matrices(3, 0), infonce=_infonce_without_positive)
    claim = es.e1_claim(rows)
    assert claim.verdict == "fails" and claim.figure > 0


def test_E2_verdict_fails_when_dv_and_nwj_are_swapped():
    """NWJ − DV = log m − m/e < 0 whenever m ≠ e, which random matrices give."""
    rows = es.bound_gaps(es.score_matrices(3, 0), dv=bounds.nwj, nwj=bounds.dv)
    claim = es.e2_claim(rows)
    assert claim.verdict == "fails" and claim.figure < 0


@pytest.fixture(scope="module")
def e3_rows():
    return es.e3_rows(replace(TINY_ESTIMATORS, e3_elements=200_000), seed=0)


def test_E3_optimal_critic_rows_match_theory(e3_rows):
    """At 200 000 / N² batches the checks hold (NWJ unbiased, DV bias = delta method, InfoNCE
    saturated); the DV bias at N = 8 is positive by more than 3 SE (Jensen), so it is seen."""
    assert es.e3_claim(e3_rows).verdict == "holds"
    r8 = next(r for r in e3_rows if r["n"] == 8)
    assert r8["dv_bias"] > 3 * r8["dv_bias_se"]


def test_E3_verdict_flips_on_a_biased_nwj_and_a_non_saturating_infonce(e3_rows):
    biased = [dict(e3_rows[0], nwj_mean=e3_rows[0]["truth"] + 10 * e3_rows[0]["nwj_se"]),
              *e3_rows[1:]]  # fmt: skip
    assert es.e3_claim(biased).verdict == "partial"
    broken = [
        dict(r, nwj_mean=r["truth"] + 10 * r["nwj_se"], dv_bias=-1.0,
             infonce_high_mean=r["truth_high"], infonce_high_max=r["truth_high"])
        for r in e3_rows
    ]  # fmt: skip
    assert es.e3_claim(broken).verdict == "fails"


def _task_row(task: str, method: str, mi: float, truth: float, se: float) -> dict:
    return {"task": task, "truth": truth, "method": method, "mi": mi, "ci": [mi - 2 * se,
            mi + 2 * se], "se": se, "ok": es.e4_task_ok(mi, se, truth)}  # fmt: skip


def test_E4_verdict_counts_tasks_recovered_by_a_non_plugin_estimator():
    good = [_task_row("a", "ksg", 1.0, 1.02, 0.01), _task_row("b", "ksg", 0.5, 0.5, 0.01)]
    assert es.e4_claim(good).verdict == "holds"
    # 50 % off with a tight CI misses δ·I + 3 SE; the plug-in being right does not rescue it
    half = [_task_row("a", "ksg", 0.5, 1.0, 0.01), _task_row("a", "gaussian", 1.0, 1.0, 0.01),
            _task_row("b", "ksg", 0.5, 0.5, 0.01)]  # fmt: skip
    assert es.e4_claim(half).verdict == "partial"
    bad = [_task_row("a", "ksg", 0.5, 1.0, 0.01), _task_row("b", "ksg", 1.0, 0.5, 0.01)]
    claim = es.e4_claim(bad)
    assert claim.verdict == "fails" and claim.figure == pytest.approx(1.0)


def test_E5_verdict_needs_invariance_and_a_flagged_control():
    def row(plain, mapped):
        return {"task": "t", "transform": "f", "truth": 1.0, "plain": plain, "plain_se": 0.01,
                "mapped": mapped, "mapped_se": 0.01,
                "ok": es.e5_pair_ok((plain, 0.01), (mapped, 0.01), 1.0)}  # fmt: skip

    flagged, missed = {"flagged": True}, {"flagged": False}
    assert es.e5_claim([row(1.0, 1.01)], flagged).verdict == "holds"
    assert es.e5_claim([row(1.0, 1.01)], missed).verdict == "partial"
    assert es.e5_claim([row(1.0, 1.5)], flagged).verdict == "fails"


# ----------------------------------------------------------------------------- paradigms


def _fake_run(mi_end: float, collapsed: bool, steps: int, acc: float) -> ps.Run:
    """A run whose cos-DV/InfoNCE MI goes linearly from 0 to ``mi_end`` (JSD: half of it)."""
    d = 64
    std = (0.01 if collapsed else 0.9) / math.sqrt(d)
    rank = 1.5 if collapsed else 20.0
    history = [
        {"step": s, "mi_cosdv": mi_end * s / steps, "mi_infonce": mi_end * s / steps,
         "mi_jsd": mi_end * s / steps / 2, "embed_std": std, "effective_rank": rank,
         "embedding_dim": d}
        for s in range(0, steps + 1, max(1, steps // 10))
    ]  # fmt: skip
    summary = {"steps": steps, "collapsed": collapsed, "effective_rank": rank, "embed_std": std,
               "embedding_dim": d, "mi_cosdv": mi_end, "mi_infonce": mi_end,
               "mi_jsd": mi_end / 2, "probe_acc": acc, "knn_acc": acc}  # fmt: skip
    return summary, history


def _fake_runner(broken: frozenset[str] = frozenset()) -> ps.Runner:
    """Every planned run behaves as the claims say, except the runs named in ``broken``
    (by method and ablation), which behave the opposite way."""
    accuracy = {m: 0.72 + 0.005 * k for k, m in enumerate(ps.P5_METHODS)}

    def runner(method, ablate, options, steps, seed):
        name = f"{method} -{ablate}" if ablate else method
        collapses = ablate in ("predictor,marginal", "stop-grad") or (method, ablate) == (
            "jmi", "marginal") or (ablate == "marginal" and not options)  # fmt: skip
        if name in broken:
            collapses = not collapses
        if collapses:
            return _fake_run(0.0, True, steps, 0.65)
        mi = 3.0 - 0.1 * seed - 0.1 * list(accuracy).index(method) if method in accuracy else 2.0
        return _fake_run(-mi if name in broken else mi, False, steps, accuracy.get(method, 0.74))

    return runner


TINY_PARADIGMS = ps.ParadigmBudget((0, 1), 20, 30, 40)


def test_paradigm_section_verdicts_from_well_behaved_runs(tmp_path):
    section = ps.paradigm_section(True, 0, tmp_path, TINY_PARADIGMS, _fake_runner())
    _check_schema([section], ["P1", "P2", "P3", "P4", "P5"], tmp_path)
    verdicts = {c.id: c.verdict for c in section.claims}
    assert verdicts == {"P1": "holds", "P2": "holds", "P3": "holds", "P4": "holds",
                        "P5": "holds"}  # fmt: skip
    # fake accuracy rises along the registry while MI falls (ρ = −1: MI is not sufficient), and
    # collapsed ablations sit ≥ 0.07 below every method (necessary)
    assert section.claims[-1].figure == pytest.approx(-1.0)
    assert "P6" in section.markdown and "not run" in section.markdown
    assert section.data["budget"]["seeds"] == [0, 1]


CLAIMS = {
    "P1": lambda runs: ps.rise_claim("P1", "sdmi", runs),
    "P2": lambda runs: ps.rise_claim("P2", "jmi", runs),
    "P3": lambda runs: ps.checks_claim("P3", ps.p3_checks, "sdmi -predictor,marginal", runs),
    "P4": lambda runs: ps.checks_claim("P4", ps.p4_checks, "jmi -marginal", runs),
}


@pytest.mark.parametrize(
    ("broken", "claim", "verdict"),
    [
        (frozenset(), "P1", "holds"),
        (frozenset({"sdmi"}), "P1", "fails"),  # MI falls on every seed
        (frozenset({"jmi"}), "P2", "fails"),
        (frozenset({"sdmi -predictor,marginal"}), "P3", "partial"),  # one of four checks fails
        (frozenset({"simsiam -stop-grad"}), "P3", "partial"),
        (frozenset({"jmi -marginal"}), "P4", "partial"),
        (frozenset({"jmi -marginal", *ps.P4_SURROGATES}), "P4", "fails"),
    ],
)
def test_paradigm_verdicts_flip_on_violating_runs(broken, claim, verdict):
    runs = ps.collect_runs(TINY_PARADIGMS, 0, _fake_runner(broken))
    assert CLAIMS[claim](runs).verdict == verdict


def test_P3_affine_simsiam_check_runs_only_when_budgeted():
    affine = replace(TINY_PARADIGMS, simsiam_affine_steps=50)
    runs = ps.collect_runs(affine, 0, _fake_runner())
    assert len(ps.p3_checks(runs[0])) == 5 and all(ps.p3_checks(runs[0]).values())
    assert len(ps.p3_checks(ps.collect_runs(TINY_PARADIGMS, 0, _fake_runner())[0])) == 4
    broken = ps.collect_runs(affine, 0, _fake_runner(frozenset({"simsiam -stop-grad"})))
    assert CLAIMS["P3"](broken).verdict == "partial"  # the plain and the affine check fail


def test_P5_verdict_fails_when_mi_orders_accuracy_and_collapse_costs_nothing():
    table = {m: {"mi_cosdv": k, "mi_infonce": k, "mi_jsd": k, "probe_acc": 0.7 + 0.01 * k,
                 "collapsed": 0.0, "runs": 3} for k, m in enumerate(ps.P5_METHODS)}  # fmt: skip
    table["jmi -marginal"] = {"mi_cosdv": 0.0, "mi_infonce": 0.0, "mi_jsd": 0.0,
                              "probe_acc": 0.75, "collapsed": 1.0, "runs": 3}  # fmt: skip
    claim, stats = ps.p5_claim(table)
    assert claim.verdict == "fails" and claim.figure == pytest.approx(1.0)
    assert not stats["necessary"] and not stats["not_sufficient"]


@pytest.mark.slow
def test_paradigm_section_with_real_tiny_training(tmp_path):
    """Ten-step real runs (``paradigms.train``, 16 runs, about a minute on a shared 2-core
    machine): the section is well formed whatever the verdicts of such short runs are."""
    section = ps.paradigm_section(True, 0, tmp_path, ps.ParadigmBudget((0,), 10, 10, 10))
    _check_schema([section], ["P1", "P2", "P3", "P4", "P5"], tmp_path)
    assert section.data["final"][0]["sdmi"]["steps"] == 10


def test_budgets_are_smaller_in_quick_mode():
    assert ps.budget(True).seeds == (0,) and len(ps.budget(False).seeds) == 3
    assert ps.budget(True).steps < ps.budget(False).steps
    assert es.budget(True).e3_elements < es.budget(False).e3_elements


def test_P5_without_collapsed_ablations_or_enough_methods_shows_nothing():
    """No collapsed ablation (or < 3 healthy methods): neither part of P5 can be shown."""
    table = {m: {"mi_cosdv": k, "mi_infonce": k, "mi_jsd": k, "probe_acc": 0.7,
                 "collapsed": 0.0, "runs": 1} for k, m in enumerate(ps.P5_METHODS)}  # fmt: skip
    claim, _ = ps.p5_claim(table)
    assert claim.verdict == "fails" and math.isfinite(claim.figure)
