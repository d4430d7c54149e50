"""The estimator (E1–E5) and paradigm (P1–P5) report sections: claim ids, verdict schema, and
verdict logic that can fail.

The default tests use tiny budgets (``sizes=``) or a fake training runner, so they take seconds;
each verdict function is also fed a violating input and must then say "fails" (or "partial").
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from estimators import bounds
from mitheory.claims import estimation as es
from mitheory.claims import training as ps
from mitheory.claims.result import VERDICTS, Section

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
    claim = es.e1_claim(rows, 0)
    assert claim.verdict == "fails" and claim.figure > 0


def test_E2_verdict_fails_when_dv_and_nwj_are_swapped():
    """NWJ − DV = log m − m/e < 0 whenever m ≠ e, which random matrices give."""
    rows = es.bound_gaps(es.score_matrices(3, 0), dv=bounds.nwj, nwj=bounds.dv)
    claim = es.e2_claim(rows, 0)
    assert claim.verdict == "fails" and claim.figure < 0


@pytest.fixture(scope="module")
def e3_rows():
    return es.e3_rows(replace(TINY_ESTIMATORS, e3_elements=200_000), seed=0)


def test_E3_optimal_critic_rows_match_theory(e3_rows):
    """At 200 000 / N² batches the checks hold (NWJ unbiased, DV bias = delta method, InfoNCE
    saturated); the DV bias at N = 8 is positive by more than 3 SE (Jensen), so it is seen."""
    assert es.e3_claim(e3_rows, e3_rows, 0).verdict == "holds"
    r8 = next(r for r in e3_rows if r["n"] == 8)
    assert r8["dv_bias"] > 3 * r8["dv_bias_se"]


def test_E3_verdict_flips_on_a_biased_nwj_and_a_non_saturating_infonce(e3_rows):
    biased = [dict(e3_rows[0], nwj_mean=e3_rows[0]["truth"] + 10 * e3_rows[0]["nwj_se"]),
              *e3_rows[1:]]  # fmt: skip
    assert es.e3_claim(biased, e3_rows, 0).verdict == "partial"
    broken = [
        dict(r, nwj_mean=r["truth"] + 10 * r["nwj_se"], dv_bias=-1.0,
             infonce_high_mean=r["truth_high"], infonce_high_max=r["truth_high"])
        for r in e3_rows
    ]  # fmt: skip
    claim = es.e3_claim(broken, broken, 0)
    assert claim.verdict == "fails" and claim.control.verdict == "fails"
    # the control rows are scored by the same rule: optimal-critic rows there read "holds"
    assert es.e3_claim(broken, e3_rows, 0).control.verdict == "holds"


def test_E3_control_with_a_non_optimal_critic_fails():
    b = replace(TINY_ESTIMATORS, e3_elements=200_000)
    rows = es.e3_rows(b, 0)
    control = es.e3_rows(b, 1, critic_scale=es.E3_CONTROL_SCALE, rho_high=es.E3_RHO)
    claim = es.e3_claim(rows, control, 0)
    assert claim.verdict == "holds" and claim.control.verdict == "fails"


def _task_row(task: str, method: str, mi: float, truth: float, se: float) -> dict:
    return {"task": task, "truth": truth, "method": method, "mi": mi, "ci": [mi - 2 * se,
            mi + 2 * se], "se": se, "ok": es.e4_task_ok(mi, se, truth)}  # fmt: skip


def test_E4_verdict_counts_tasks_recovered_by_a_non_plugin_estimator():
    good = [_task_row("a", "ksg", 1.0, 1.02, 0.01), _task_row("b", "ksg", 0.5, 0.5, 0.01)]
    bad_control = [_task_row("a", "ksg (Y permuted)", 0.0, 1.02, 0.01)]
    assert es.e4_claim(good, bad_control, 0).verdict == "holds"
    assert es.e4_claim(good, bad_control, 0).control.verdict == "fails"
    # 50 % off with a tight CI misses δ·I + 3 SE; the plug-in being right does not rescue it
    half = [_task_row("a", "ksg", 0.5, 1.0, 0.01), _task_row("a", "gaussian", 1.0, 1.0, 0.01),
            _task_row("b", "ksg", 0.5, 0.5, 0.01)]  # fmt: skip
    assert es.e4_claim(half, bad_control, 0).verdict == "partial"
    bad = [_task_row("a", "ksg", 0.5, 1.0, 0.01), _task_row("b", "ksg", 1.0, 0.5, 0.01)]
    claim = es.e4_claim(bad, bad_control, 0)
    assert claim.verdict == "fails" and claim.figure == pytest.approx(1.0)


def test_detectable_error_is_flagged_with_power_0_8():
    """An estimate off by the stated share of I, with noise of its SE, fails the E4/E5 rule
    |Î − I| ≤ δ·I + 3·SE in 80 % of draws (simulation of 200 000 draws: SE of the share 0.0009,
    tolerance 0.005 > 5 SE); three quarters of that error are flagged in about 27 % of draws."""
    rng = np.random.default_rng(0)
    truth, se = 0.59, 0.03
    share = es.detectable(se, truth)
    draws = truth * (1 + share) + se * rng.standard_normal(200_000)
    flagged = np.mean(np.abs(draws - truth) > es.DELTA * truth + es.Z_TASK * se)
    assert flagged == pytest.approx(0.8, abs=0.005)
    less = truth * (1 + 0.75 * share) + se * rng.standard_normal(200_000)
    assert np.mean(np.abs(less - truth) > es.DELTA * truth + es.Z_TASK * se) < 0.4


def test_E5_verdict_needs_invariance_and_a_flagged_control():
    def row(plain, mapped):
        return {"task": "t", "transform": "f", "truth": 1.0, "plain": plain, "plain_se": 0.01,
                "mapped": mapped, "mapped_se": 0.01, "paired_se": 0.005,
                "detectable": es.detectable(0.005, 1.0),
                "ok": es.e5_pair_ok(plain, mapped, 0.005, 1.0)}  # fmt: skip

    base = {"task": "t", "truth": 1.0, "noisy_truth": 0.5, "plain": 1.0, "noisy": 0.5}
    flagged, missed = {**base, "flagged": True}, {**base, "flagged": False}
    good = es.e5_claim([row(1.0, 1.01)], flagged, 0)
    assert good.verdict == "holds" and good.control.verdict == "fails"
    assert es.e5_claim([row(1.0, 1.01)], missed, 0).control.verdict == "holds"
    assert es.e5_claim([row(1.0, 1.5)], flagged, 0).verdict == "fails"


def test_E5_paired_se_sees_a_31_percent_drop_that_the_quadrature_missed():
    """X → X + N(0, 0.35·I) on a 2-pair Gaussian (ρ = 0.6: MI 0.446 → 0.310 nats, −30.5 %) at
    n = 2000, seeds 0–3. With the paired SE of the difference the E5 rule flags the drop on 3 of
    the 4 seeds (measured: KSG reads drops of 0.158, 0.157, 0.166 and 0.089 nats; allowances
    0.111–0.122); with the quadrature √(SE² + SE_f²), which treats the two estimates' shared
    sample noise as independent, on 1 (allowances 0.163–0.211; seed 2 by 0.003). The paired SE
    is the smaller on every seed, and the same draws unmapped have SE_d = 0."""
    from estimators import estimate_mi
    from mitheory.distributions import SparseGaussian

    base = SparseGaussian(2, 2, 2, 0.6)
    paired = quadrature = 0
    for seed in range(4):
        x, y = base.sample(2000, seed=seed)
        # noise from another stream than the sample's (the same stream would rescale X)
        noise = np.random.default_rng(1000 + seed).standard_normal(x.shape)
        plain = estimate_mi(x, y, method="ksg", seed=seed)
        mapped = estimate_mi(x + math.sqrt(0.35) * noise, y, method="ksg", seed=seed)
        se_d = es.paired_se(plain, mapped)
        quad = math.hypot(es.standard_error(plain), es.standard_error(mapped))
        paired += not es.e5_pair_ok(plain.mi, mapped.mi, se_d, base.mi)
        quadrature += not es.e5_pair_ok(plain.mi, mapped.mi, quad, base.mi)
        assert se_d < quad
        assert es.paired_se(plain, estimate_mi(x, y, method="ksg", seed=seed)) == 0.0
    assert paired >= 3 and quadrature <= 1, (paired, quadrature)


# ----------------------------------------------------------------------------- paradigms


def _fake_run(mi_end: float, collapsed: bool, steps: int, acc: float, track: str) -> ps.Run:
    """A run whose held-out MI goes linearly from 0.3 to ``mi_end`` over 6 evaluations (any
    held-out MI track)."""
    d = 64
    std = (0.01 if collapsed else 0.9) / math.sqrt(d)
    rank = 1.5 if collapsed else 20.0
    summary = {"steps": steps, "collapsed": collapsed, "effective_rank": rank, "embed_std": std,
               "embedding_dim": d, "mi_cosdv": 0.0 if collapsed else 3.0, "probe_acc": acc,
               "knn_acc": acc}  # fmt: skip
    evals = [round(steps * k / 5) for k in range(6)]
    heldout = [{"step": e, "mi": 0.3 + (mi_end - 0.3) * k / 5, "ci": [0, 0], "se": 0.05}
               for k, e in enumerate(evals)] if track.startswith("mi") else []  # fmt: skip
    if track == "features":
        heldout = [{"step": steps, "mi": mi_end, "ci": [mi_end - 0.1, mi_end + 0.1], "se": 0.05}]
    return {"summary": summary, "history": [], "heldout": heldout,
            "shift": {"target": 0.3, "online": 0.5}}


def _fake_runner(broken: frozenset[str] = frozenset()) -> ps.Runner:
    """Every planned run behaves as the theory predicts (SDMI: healthy iff marginal or predictor;
    JMI ablations collapse), except the runs named in ``broken`` (method and ablation string),
    which behave the opposite way."""

    def runner(key, seed):
        method, ablate, options, steps, track = key
        off = set(ablate.split(",")) - {""}
        name = f"{method} -{ablate}" if ablate else method
        gradient = dict(options).get("target_update", "gradient") == "gradient"
        if method == "sdmi":
            collapses = "marginal" in off and ("predictor" in off or "stop-grad" in off
                                               or gradient)  # T7: the M-step ascends J alone
        else:
            collapses = bool(off)
        if name in broken:
            collapses = not collapses
        acc = 0.7 + 0.02 * steps / 200
        run_seed = seed[0] if isinstance(seed, tuple) else seed  # (seed, data seed) pairs
        noise = 0.02 * math.sin(3.7 * run_seed + len(ablate))  # seeds differ, as real ones do
        return _fake_run(0.2 + noise if collapses else 2.5 * steps / 300 + 0.5 + noise,
                         collapses, steps, acc, track.split(",")[0])

    return runner


TINY_PARADIGMS = ps.ParadigmBudget((0, 1), 30)


def test_paradigm_section_verdicts_from_well_behaved_runs(tmp_path):
    section = ps.paradigm_section(True, 0, tmp_path, sizes=TINY_PARADIGMS, runner=_fake_runner())
    # P3 needs its long runs (full report: tests/test_collapse.py); the screen table stays
    _check_schema([section], ["P1", "P2", "P4"], tmp_path)
    assert ps.P3_QUICK_NOTE in section.markdown and "P3 screen at 30 steps" in section.markdown
    verdicts = {c.id: c.verdict for c in section.claims}
    # P1: alternation and, with the explicit marginal, stop-gradient are not needed; with the
    # predictor alone (copy M-step) stop-gradient is
    assert verdicts == {"P1": "partial", "P2": "holds", "P4": "holds"}
    readings = {(c["row"], c["removed"]): c["reading"] for c in section.claims[0].extra["cells"]}
    assert readings == {("explicit marginal", "alternating"): "not needed",
                        ("explicit marginal", "stop-grad"): "not needed",
                        ("predictor only", "alternating"): "n/a",
                        ("predictor only", "stop-grad"): "necessary"}  # fmt: skip
    for c in section.claims:
        assert c.control_discriminates, (c.id, c.control)
    arms = section.data["p3_arms"]
    assert len(arms) == 12 and all(a["seeds"] == 2 for a in arms)


@pytest.mark.parametrize(("broken", "claim", "verdict"), [
    # every removal lowers the MI: P1 holds; none does: P1 fails
    (frozenset({"sdmi -alternating", "sdmi -stop-grad"}), "P1", "holds"),
    (frozenset({"sdmi -marginal,stop-grad"}), "P1", "fails"),
    (frozenset({"jmi"}), "P2", "partial"),  # canonical JMI does not rise, canonical SDMI does
    (frozenset({"jmi -marginal"}), "P4", "partial"),
    (frozenset({"vicreg"}), "P4", "partial"),
])  # fmt: skip
def test_paradigm_verdicts_flip_on_violating_runs(broken, claim, verdict):
    with tempfile.TemporaryDirectory() as out:
        section = ps.paradigm_section(True, 0, out, sizes=TINY_PARADIGMS,
                                      runner=_fake_runner(broken))  # fmt: skip
    found = {c.id: c for c in section.claims}[claim]
    assert found.verdict == verdict
    assert found.control_discriminates, found.control


def test_P1_rule_needs_a_significant_gain_and_no_significant_drop():
    rise = [{"step": k, "mi": 0.3 + 0.4 * k, "se": 0.05} for k in range(6)]
    assert ps.near_monotone(rise)["pass"]
    plateau = [{"step": k, "mi": min(0.3 + 2 * k, 2.3) + 0.01 * (-1) ** k, "se": 0.05}
               for k in range(6)]  # fmt: skip
    assert ps.near_monotone(plateau)["pass"]  # a rise then a plateau is near-monotone
    dip = [dict(r) for r in rise]
    dip[3]["mi"] -= 1.0  # a drop of 20 SE between two evaluations
    assert not ps.near_monotone(dip)["pass"]
    flat = [{"step": k, "mi": 0.3, "se": 0.05} for k in range(6)]
    assert not ps.near_monotone(flat)["pass"]


def _p5_points(level, noise=0.004, seeds=5, lengths=(50, 200), methods=10):
    """P5 runs: method k at a length has MI k/3 (+ seed noise) and accuracy ``level(k, steps)``
    plus a shared per-seed data-set shift and small per-run noise."""
    rng = np.random.default_rng(3)
    points = []
    for i, steps in enumerate(lengths):
        for s in range(seeds):
            shift = 0.03 * rng.standard_normal()  # the seed's data set moves every method alike
            for k in range(methods):
                points.append({"method": f"m{k}", "steps": steps, "seed": 100 * i + s,
                               "mi": k / 3 + 0.05 * rng.standard_normal(), "mi_ci": [0, 1],
                               "probe_acc": level(k, steps) + shift
                               + noise * rng.standard_normal(),
                               "knn_acc": 0.5, "collapsed": False})  # fmt: skip
    return points


def test_P5_claim_tests_methods_and_its_control_discriminates():
    # accuracy rises with the method's MI at both lengths: the permutation test rejects
    rising = _p5_points(lambda k, steps: 0.7 + 0.01 * k)
    claim, info = ps.p5_claim(rising, 0)
    assert claim.verdict == "holds" and claim.control.verdict == "fails", claim
    assert info["design"]["p"] < 0.01
    # the shared data-set shift (SD 0.03, 7× the method spacing) is no noise for the test
    assert max(info["design"]["table"][50]["acc_sd"]) < 0.01
    # no relation: the ranks of the accuracy levels are unrelated to MI; with 10 methods the
    # design cannot reach power 0.8 against ρ = 0.5, so the reading is undecided, and the
    # positive control (a planted monotone relation, same noise) must hold
    perm = [3, 7, 0, 9, 5, 1, 8, 2, 6, 4]
    unrelated = _p5_points(lambda k, steps: 0.7 + 0.01 * perm[k])
    claim, info = ps.p5_claim(unrelated, 0)
    assert claim.verdict == "undecided" and claim.control.verdict == "holds", claim
    assert info["design"]["power"] < 0.8
    # only the training length relates to accuracy: within lengths there is nothing to find
    by_length = _p5_points(lambda k, steps: steps / 1000 + 0.01 * perm[k])
    claim, _ = ps.p5_claim(by_length, 0)
    assert claim.verdict != "holds"


def test_P5_plan_uses_fresh_seeds_per_length_shared_across_methods():
    plan = ps.p5_plan(ps.budget(False), 0)
    b = ps.budget(False)
    assert len(plan) == len(ps.P5_METHODS) * len(b.p5_steps) * b.p5_seeds
    seeds = {steps: {s for m, st, s in plan if st == steps} for steps in b.p5_steps}
    assert all(len(v) == b.p5_seeds for v in seeds.values())
    lengths = list(seeds.values())
    assert not set.intersection(*lengths)  # independent strata
    for m in ps.P5_METHODS:  # every method of a length sees the same seeds (block design)
        assert {s for mm, st, s in plan if mm == m and st == b.p5_steps[0]} == lengths[0]


def test_paradigm_section_with_real_tiny_training(tmp_path):
    """The real runner end to end on a tiny budget (schema only: 12 steps decide nothing)."""
    section = ps.paradigm_section(True, 0, tmp_path, sizes=ps.ParadigmBudget((0,), 10))
    _check_schema([section], ["P1", "P2", "P4"], tmp_path)


def test_budgets_are_smaller_in_quick_mode():
    quick, full = ps.budget(True), ps.budget(False)
    assert len(quick.seeds) == 1 and len(full.seeds) == 3 and quick.steps == full.steps
    assert full.p3_long and not quick.p3_long
    # P1's paired comparison needs ≥ 2 seeds to estimate its spread, in either mode
    assert full.compare and quick.compare and len(quick.p1_seeds) >= 3
    assert len(full.p1_seeds) > len(quick.p1_seeds) and set(full.seeds) <= set(full.p1_seeds)
    assert not quick.p5_steps and full.p5_seeds >= 5 and len(full.p5_steps) >= 2


def _fake_long(broken: frozenset[str] = frozenset()):
    """A ``train_seeds`` stand-in: the canonical arm rises to 4 nats; arms predicted to collapse
    fall below the line after 400 steps (the slow EMA arm after 1500) while their targets barely
    move, the others hold 60 % of the scale until their target has travelled its norm at step
    1500; arms in ``broken`` do the opposite."""

    def train(key, seeds, data, evals, end):
        _, ablate, options, steps, _ = key
        off = set(ablate.split(",")) - {""}
        m = dict(options)["target_update"]
        name = ps.arm_name(m, "predictor" not in off, "marginal" not in off, "stop-grad" not in off)
        healthy = ps.p3_predicts_healthy(m, "predictor" not in off, "marginal" not in off) and \
            "stop-grad" not in off
        healthy = healthy != (name in broken)
        fall = 1500 if m == "ema" else 400
        runs = []
        for k, _ in enumerate(seeds):
            trace = []
            for step in range(0, steps + 1, steps // evals):
                scale = 4.0 * (1 - math.exp(-step / 200))
                value = scale * (0.6 if healthy or step < fall else 0.02) + 0.01 * k
                travel = step / (1500 if healthy else 6000)  # a collapsing target barely moves
                trace.append((step, value if end.reference else scale + 0.01 * k, travel))
                if end.ends(trace):
                    break
            runs.append({"trace": trace})
        return runs

    return train


def test_p3_time_claim_holds_on_runs_that_follow_the_prediction_and_flips_when_one_does_not():
    runs, reference = ps.p3_long_runs(0, _fake_long())
    rows = ps.p3_time_rows(runs, reference)
    claim = ps.p3_time_claim(rows, tuple(range(5)))
    assert claim.verdict == "holds" and claim.control.verdict == "fails"
    slow = next(r for r in rows if r["arm"] == ps.arm_name("ema", False, False))
    assert slow["collapsed"] == 5 and slow["median"] == 1500
    healthy = next(r for r in rows if r["arm"] == ps.arm_name("copy", True, False))
    assert healthy["collapsed"] == 0 and healthy["reached"] == [1500] * 5  # ended by travel
    # the slow collapse missed: that arm does not match
    broken = ps.p3_long_runs(0, _fake_long(frozenset({ps.arm_name("ema", False, False)})))
    claim = ps.p3_time_claim(ps.p3_time_rows(*broken), tuple(range(5)))
    assert claim.verdict == "partial" and "ema −predictor −marginal" in claim.detail


def test_full_section_decides_p3_from_the_long_runs(tmp_path):
    sizes = ps.ParadigmBudget((0, 1), 30, p3_long=True)
    section = ps.paradigm_section(False, 0, tmp_path, sizes=sizes, runner=_fake_runner(),
                                  long_train=_fake_long())  # fmt: skip
    _check_schema([section], ["P1", "P2", "P3", "P4"], tmp_path)
    p3 = next(c for c in section.claims if c.id == "P3")
    assert p3.verdict == "holds" and p3.control_discriminates
    assert "p3_time_to_collapse.png" in section.figures
    assert len(p3.extra["arms"]) == 13 and "P3: time to collapse" in section.markdown


def test_findings_are_built_from_the_decided_claims(tmp_path):
    from mitheory.claims.findings import findings

    section = ps.paradigm_section(True, 0, tmp_path, sizes=TINY_PARADIGMS, runner=_fake_runner())
    text = findings({c.id: c for c in section.claims})
    # P1's sentence carries each cell's reading and effect, from the claim's own cells
    for cell in section.claims[0].extra["cells"]:
        if cell["reading"] != "n/a":
            said = f"removing {cell['removed']} with the {cell['row']} reads **{cell['reading']}**"
            assert said in text
    assert "P3: decided in the full report." in text  # not decided here: named, not guessed
    assert "**Q2 (MI and accuracy).** P5: decided in the full report." in text
    broken = ps.paradigm_section(True, 0, tmp_path, sizes=TINY_PARADIGMS,
                                 runner=_fake_runner(frozenset({"jmi"})))  # fmt: skip
    assert "JMI: partial" in findings({c.id: c for c in broken.claims})


def test_runs_read_at_their_end_get_one_evaluation():
    """Series tracks (held-out MI, P7's probe) keep the budget's evaluations; untracked runs and
    P5's "features" runs are read at the end only."""
    assert ps.evals_needed("mi", 5) == 5
    assert ps.evals_needed("mi-quick,surrogate", 4) == ps.evals_needed("surrogate", 4) == 4
    assert ps.evals_needed("", 5) == ps.evals_needed("features", 5) == 1
