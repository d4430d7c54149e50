"""Claim P7 (CLAIMS.md): the SDMI predictor as the surrogate of the marginal term.

The verdict and its control come from the training family at the quick-report budget (seed 0),
the call the report renders; the other tests check what the verdict rests on: the alignment is
the cosine of the two gradients (against an independent computation through
``estimators.bounds``), the rule flips on records built to pass or to fail each check, and the
capacity knob does what it says (a rank-r predictor has rank ≤ r).
"""

from __future__ import annotations

import math

import pytest
import torch

from mitheory.claims import predictor as p7
from paradigms.methods import get_method


def test_P7_verdict(claim_check, claim_result, section_data):
    claim = claim_result("P7")
    data = section_data("training")["p7"]
    copy = data["checks"]["copy"]
    # the finding: capacity raises the DV reached and the alignment predicts it ...
    assert copy["capacity"]["pass"] and copy["fidelity"]["pass"]
    # ... but a predictor can prevent collapse without standing in for M
    assert not copy["surrogate"]["pass"] and copy["surrogate"]["falsifiers"]
    runs = [r for r in data["runs"] if r["m_step"] == "copy" and not r["marginal"]]
    rank1 = next(r for r in runs if r["capacity"] == "rank:1")
    assert not rank1["collapsed"] and rank1["rankme"] > 5
    none = next(r for r in runs if r["capacity"] == "none")
    assert none["collapsed"]  # SimSiam without predictor or marginal term collapses
    assert 0.2 < claim.figure < 1.0  # the best predictor: part of the explicit-marginal DV
    # the control: the same capacities frozen at their random initialization stand in for nothing
    control = data["checks"][p7.FROZEN]
    assert control["surrogate"]["runs"] == len(p7.plan(True).frozen)
    assert not any(control[k]["pass"] for k in ("capacity", "fidelity", "surrogate"))
    claim_check(claim)


def _record(capacity: str, rel_dv: float, fidelity: float, collapsed: bool, seed: int = 0,
            m_step: str = "copy") -> dict:  # fmt: skip
    return {"m_step": m_step, "capacity": capacity, "marginal": False, "seed": seed,
            "dv_z": rel_dv, "dv": rel_dv / 2, "fidelity": fidelity, "collapsed": collapsed,
            "rankme": 10.0, "rankme_p": 10.0}  # fmt: skip


def _records(rel: dict[str, float], collapsed: frozenset[str] = frozenset(),
             seeds: tuple[int, ...] = (0, 1)) -> list[dict]:  # fmt: skip
    """Records of a sweep whose reference DV is 1 (so DV = relative DV); fidelity tracks DV."""
    out = []
    for s in seeds:
        jitter = 0.01 * s
        out += [_record(c, v + jitter, v / 2 + jitter, c in collapsed, s) for c, v in rel.items()]
        out.append(dict(_record("mlp:64", 1.0, 0.2, False, s), marginal=True))
    return out


SURROGATE = {"none": 0.0, "rank:1": 0.2, "rank:2": 0.3, "rank:4": 0.4, "rank:64": 0.5,
             "mlp:64": 0.6}  # fmt: skip


def test_rule_passes_a_faithful_surrogate_and_fails_each_violation():
    good = p7.checks(p7.relative(_records(SURROGATE, frozenset({"none"})), "copy"), 0)
    assert all(good[k]["pass"] for k in ("capacity", "fidelity", "surrogate"))
    # a non-collapsing predictor without DV gain over "none" is a falsifier
    flat = dict(SURROGATE, **{"rank:1": 0.05})
    bad = p7.checks(p7.relative(_records(flat, frozenset({"none"})), "copy"), 0)
    assert not bad["surrogate"]["pass"] and len(bad["surrogate"]["falsifiers"]) == 2
    assert bad["capacity"]["pass"]  # the ordering still holds
    # capacity reversed: the DV falls with capacity
    reverse = {c: (0.0 if c == "none" else 0.8 - v) for c, v in SURROGATE.items()}
    rev = p7.checks(p7.relative(_records(reverse, frozenset({"none"})), "copy"), 0)
    assert not rev["capacity"]["pass"] and rev["capacity"]["rho"] < 0
    # everything collapsed, DV ≈ 0 everywhere (the control's situation): no check passes
    dead = {c: 1e-4 * k for k, c in enumerate(SURROGATE)}
    none = p7.checks(p7.relative(_records(dead, frozenset(SURROGATE)), "copy"), 0)
    assert not any(none[k]["pass"] for k in ("capacity", "fidelity", "surrogate"))
    assert math.isnan(none["capacity"]["rho"])
    # collapsed runs whose DV noise spreads (one reads −1, as a gradient-M-step run did in the
    # full report): a collapsed run's DV is not ranked, so still no check passes
    noisy = p7.checks(p7.relative(_records(dict(dead, **{"rank:1": -1.0}), frozenset(SURROGATE)),
                                  "copy"), 0)  # fmt: skip
    assert not any(noisy[k]["pass"] for k in ("capacity", "fidelity", "surrogate"))


def test_fidelity_check_needs_alignment_to_track_the_dv():
    records = _records(SURROGATE, frozenset({"none"}))
    for r in records:  # the runs that reach more DV are the less aligned ones
        r["fidelity"] = -r["dv_z"]
    c = p7.checks(p7.relative(records, "copy"), 0)
    assert not c["fidelity"]["pass"] and c["fidelity"]["rho"] < 0
    assert c["capacity"]["pass"]


def test_capacity_order_and_options():
    caps = ["mlp:256", "rank:64", "none", "rank:1", "mlp:16", "rank:4"]
    assert sorted(caps, key=p7.capacity_order) == ["none", "rank:1", "rank:4", "rank:64",
                                                   "mlp:16", "mlp:256"]  # fmt: skip
    assert p7.method_options("copy", "rank:4") == {"target_update": "copy", "pred_rank": 4}
    assert p7.method_options("ema", "mlp:64") == {"target_update": "ema"}  # the default MLP
    assert p7.method_options("ema", "mlp:16") == {"target_update": "ema", "pred_hidden_dim": 16}
    with pytest.raises(ValueError, match="capacity must be"):
        p7.capacity_order("rank:0")


def _sdmi(**options):
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())
    return get_method("sdmi")(backbone, 16, proj_hidden_dim=24, proj_dim=8, **options)


@pytest.mark.parametrize("rank", [1, 3, 8])
def test_rank_r_predictor_has_rank_at_most_r(rank):
    m = _sdmi(pred_rank=rank)
    w = m.predictor[1].weight @ m.predictor[0].weight  # q(h) = U Vᵀ h
    assert torch.linalg.matrix_rank(w.detach()).item() == rank
    with pytest.raises(ValueError, match="pred_rank must be a positive integer <= proj_dim"):
        _sdmi(pred_rank=9)
    with pytest.raises(ValueError, match="not both"):
        _sdmi(pred_rank=2, pred_hidden_dim=4)


@pytest.mark.parametrize("m_step", ["copy", "ema", "gradient"])
def test_alignment_is_the_cosine_of_the_two_gradients(m_step):
    """Against ∇J and ∇DV computed with ``estimators.bounds`` and ``.backward()`` on a copy."""
    import copy

    from estimators import bounds

    m = _sdmi(target_update=m_step, pred_rank=3)
    m.eval()
    g = torch.Generator().manual_seed(1)
    x_a, x_b = torch.randn(64, 6, generator=g), torch.randn(64, 6, generator=g)
    before = [p.detach().clone() for p in m.parameters()]
    got = p7.surrogate_probe(m, x_a, x_b)
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters(), strict=True))
    assert all(p.grad is None for p in m.parameters())

    def grads(objective: str) -> torch.Tensor:
        mm = copy.deepcopy(m)
        params = [p for p in mm.online_params() if p.requires_grad]
        p_a, p_b = mm.predictor(mm.online(x_a)), mm.predictor(mm.online(x_b))
        z_a, z_b = mm.target(x_a).detach(), mm.target(x_b).detach()
        total = 0.0
        for p, z in ((p_a, z_b), (p_b, z_a)):
            s = bounds.cosine_scores(p, z, p7.TEMPERATURE)
            total = total + (torch.diagonal(s).mean() if objective == "joint" else bounds.dv(s))
        (0.5 * total).backward()
        return torch.cat([q.grad.flatten() for q in params]), float(0.5 * total.detach())

    g_j, joint = grads("joint")
    g_d, dv = grads("dv")
    assert got["joint"] == pytest.approx(joint, rel=1e-5)
    assert got["dv"] == pytest.approx(dv, rel=1e-5, abs=1e-6)
    assert got["m_hat"] == pytest.approx(joint - dv, rel=1e-5, abs=1e-6)
    assert got["align"] == pytest.approx(float(torch.nn.functional.cosine_similarity(g_j, g_d, 0)),
                                         abs=1e-5)  # fmt: skip


def test_frozen_predictors_are_the_control(section_data):
    """P7's control runs (every predictor of the copy sweep, frozen) are in the section's data,
    one row per capacity, with relative DV on the copy M-step's scale."""
    rows = section_data("training")["p7"]["frozen"]
    assert [r["capacity"] for r in rows] == list(p7.plan(True).frozen)
    assert all(len(r["frozen"]) == r["seeds"] == 1 and len(r["trained"]) == 1 for r in rows)


def test_relative_dv_is_read_on_the_embeddings_and_frozen_runs_share_the_scale():
    records = _records(SURROGATE, frozenset({"none"}))
    frozen = [dict(_record("rank:4", 0.1, 0.0, False, s), dv=5.0) for s in (0, 1)]
    (row,) = p7.frozen_rows(records, frozen)
    # dv (through the predictor) is ignored: DV(z_a, z_b) over the reference's
    assert row["capacity"] == "rank:4" and row["frozen"] == pytest.approx([0.1, 0.1])
    assert row["trained"] == pytest.approx([0.4, 0.41]) and row["frozen_collapsed"] == 0
    # a frozen sweep that gains nothing over no predictor reads "fails"; trained, it holds
    still = [dict(r, dv_z=0.02) for r in records if r["capacity"] != "none" and not r["marginal"]]
    claim, by = p7.p7_claim(records, p7.plan(True), 0, still)
    assert claim.control.verdict == "fails" and claim.verdict == "holds", by


def test_alignment_at_equal_capacity_counts_agreeing_pairs():
    """Trained predictors with the higher fidelity and the higher DV at every capacity: every
    pair agrees; the frozen runs given the higher DV instead: none does."""
    records = _records(SURROGATE, frozenset({"none"}))
    still = [dict(r, dv_z=0.01, fidelity=-0.5) for r in records
             if r["capacity"] != "none" and not r["marginal"]]  # fmt: skip
    apart = p7.alignment_at_equal_capacity(records, still)
    assert apart["pairs"] == len(still) and apart["agree"] == len(still) and apart["p"] < 0.01
    flipped = [dict(r, dv_z=5.0) for r in still]
    assert p7.alignment_at_equal_capacity(records, flipped)["agree"] == 0
