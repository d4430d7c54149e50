"""The experiments behind the training claims P1–P5 (CLAIMS.md), from short runs in the report.

Every run is ``paradigms.training.loop.train`` on the synthetic Gaussian mixture with
``TrainConfig`` defaults (AdamW, lr 5e-3, batch 128, MLP backbone), one horizon for every P1–P4 run
(``ParadigmBudget.steps``), monitors on 512 fixed held-out pairs.

- **Held-out MI** (P1, P2, P5): at each evaluation a fresh critic from ``estimators`` (InfoNCE,
  separable critic, 2 cross-fitting folds: ``HELD_OUT_ESTIMATOR``) is trained
  on the held-out embeddings and read out on the other fold, so the MI is not the cos-DV loss the
  canonical prototypes train on. Its interval covers sampling and critic training (see
  ``estimators.neural``); it is capped at log(n/2) = log 256 ≈ 5.5 nats. The hook only keeps
  the embeddings; after training, every read-out of a group's runs and evaluations is made in
  one shared critic loop (:func:`read_held_out`, ``estimators.estimate_mi_many``: each critic as
  if alone; the quick report's P1–P4 jobs took 130 CPU-s instead of 152). The quick report's
  P1/P2 critics choose their checkpoint every 10 steps and stop 30 after the best
  (``QUICK_HELD_OUT``; a trained canonical SDMI embedding reads the same with patience 3 as
  with 5, in 25 % less time), and its P1–P4 runs have 4 evaluations after step 0 instead of 5.
  The full report keeps the estimator's defaults for P1/P2; P5's one read-out per run uses the
  quick schedule (its verdict read the same with the defaults: ρ̄ +0.46, p = 0.026).
- **Near-monotone rise** (P1/P2, per seed): gain last − first > 3 SE and no drop between
  consecutive evaluations beyond 3 SE (SE from the intervals, combined in quadrature). Spearman
  ρ against step is reported, not required: the held-out MI rises in the first ~60 steps and
  then plateaus, and on a plateau ρ only ranks noise (measured: ρ = 0.6 with a 2.2-nat gain).
- **Healthy** (P3, P4): not ``collapsed`` (``paradigms.measurement.monitors.is_collapsed``),
  RankMe ≥ 5 and final cos-DV MI ≥ the bar of :class:`HealthBars` (1 nat on the Gaussian
  mixture; P8 puts it on each setting's own scale); **complete collapse**: RankMe ≤ 2,
  embed_std < ¼·(1/√d) and ``collapsed``. A run that is not healthy counts as collapsed in the P3
  table.
- **P3**: the theory's prediction per arm (M-step × predictor × marginal, stop-gradient on) is
  "healthy iff the marginal term is on, or the predictor is on and the M-step ties ξ to θ (copy,
  EMA)": with a gradient M-step and no marginal term ξ ascends the joint term alone, which a
  constant target maximizes (T7), whatever the predictor does for θ. The verdict counts arms
  whose every seed matches. The target's distance travelled ‖ξ_T − ξ_0‖/‖ξ_0‖ is recorded per arm.
- **P5** (full mode only): MI reached against probe accuracy at the level of methods, 10 methods
  × 2 lengths × 5 fresh seeds, permutation test between methods and simulated power
  (``mitheory.claims.accuracy``).

A verdict is "holds" when every check passes, "fails" when none does, "partial" otherwise. The
``paradigms`` and ``estimators`` packages are imported inside functions. All values in nats.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from estimators.atomic import atomic_savefig
from mitheory.claims import accuracy, collapse, necessity, predictor
from mitheory.claims.result import Claim, Control, Section, verdict_of
from mitheory.claims.runtime import WORKERS, parallel_map, single_thread

#: the held-out estimator of P1, P2 and P5 (``estimators.estimate_mi`` options)
HELD_OUT_ESTIMATOR: dict[str, Any] = {"method": "infonce", "folds": 2}
#: the quick report's (track "mi-quick"): checkpoint every 10 steps, stop 30 after the best
QUICK_HELD_OUT: dict[str, Any] = {**HELD_OUT_ESTIMATOR, "eval_every": 10, "patience": 3}
#: P5's (track "features", one read-out per run): the quick schedule; a method's MI is the mean
#: of its seeds' read-outs, so one read-out's precision matters less than the 100 runs' cost
P5_HELD_OUT: dict[str, Any] = QUICK_HELD_OUT
#: the estimator options of each held-out MI track
MI_TRACKS = {"mi": HELD_OUT_ESTIMATOR, "mi-quick": QUICK_HELD_OUT}
Z95 = 1.959963984540054
#: P1/P2 rule: the SE multiple for the overall gain and for any drop between evaluations
RISE_Z = 3.0
#: P4's healthy JMI-paradigm surrogates and, for the control, the ablation that removes each one
P4_SURROGATES = ("jmi", "jmi-taylor", "barlow", "vicreg", "simclr")
P4_CONTROL = (("jmi-taylor", "regularizer"), ("barlow", "regularizer"),
              ("vicreg", "regularizer"), ("simclr", "marginal"))  # fmt: skip
P5_METHODS = ("sdmi", "simsiam", "byol", "mocov2", "mocov3", *P4_SURROGATES)
#: P5's run seeds: report seed + P5_SEED_BASE + P5_LENGTH_STRIDE·(length index) + replicate, fresh
#: seeds for every training length (``accuracy`` module docstring)
P5_SEED_BASE, P5_LENGTH_STRIDE = 1000, 100
M_STEPS = ("gradient", "copy", "ema")
#: evaluations after step 0 in every run (held-out MI read-outs for P1/P2)
EVALS = 5

Options = tuple[tuple[str, Any], ...]  # method_options as sorted pairs
#: method, ablate, options, steps, track: comma-separated ("": monitors and kNN only; "mi":
#: held-out MI of the embedding pair at every evaluation; "features": of the backbone features at
#: the last one, with the linear probe on ``accuracy.probe_test_size()`` test points; "probe":
#: the linear probe at the first and last evaluation; "surrogate": P7's probe,
#: ``predictor.surrogate_probe``, at every evaluation)
RunKey = tuple[str, str, Options, int, str]
#: a run's seed, or (its seed, the seed of its data set) for runs that share a data set only
Seed = int | tuple[int, int]
Run = dict[str, Any]
Runner = Callable[[RunKey, Any], Run]


@dataclass(frozen=True)
class ParadigmBudget:
    """Seeds and sizes of the training runs (``quick`` and full defaults in :func:`budget`)."""

    seeds: tuple[int, ...]  # offsets added to the report seed
    steps: int = 300  # every P1–P4 run: long enough for complete collapse and EMA travel
    p5_steps: tuple[int, ...] = ()  # P5 training lengths; () leaves P5 out
    p5_seeds: int = 5  # P5's independent seeds per (method, length)
    compare: bool = True  # P1's factorial and P2's control (off: P8's plan, which has neither)
    p1_seeds: tuple[int, ...] = (0, 1, 2)  # P1's and P2's seeds (offsets; ⊇ ``seeds``)
    p3_long: bool = False  # P3's time-to-collapse runs (``collapse``); off: P3 is not decided
    mi_track: str = "mi"  # P1/P2's held-out MI track (a key of MI_TRACKS)
    evals: int = EVALS  # evaluations after step 0 of the P1–P4 and P7 runs
    p7: predictor.PredictorPlan | None = None  # P7's sweep (None: no P7 runs, no probe)


def budget(quick: bool) -> ParadigmBudget:
    """Full: three seeds (six for P1 and P2), P3's time-to-collapse runs (13 arms × 5 seeds, up
    to 3000 steps) and the P5 design (10 methods × 2 lengths × 5 fresh seeds = 100 runs);
    quick: one seed (four for P1 and P2), 4 evaluations after step 0 instead of 5, neither P3's
    long runs nor P5 (they do not fit in the two-minute quick report)."""
    if quick:
        return ParadigmBudget((0,), mi_track="mi-quick", evals=4, p7=predictor.plan(True),
                              p1_seeds=(0, 1, 2, 3))  # fmt: skip
    return ParadigmBudget((0, 1, 2), p5_steps=(50, 200), p7=predictor.plan(False),
                          p1_seeds=tuple(range(6)), p3_long=True)  # fmt: skip


def _flat(modules: list[Any]) -> Any:
    import torch

    return torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])


def _host(z: Any) -> Any:
    """An embedding batch as a float64 host array (a tensor is copied off its device)."""
    return z.detach().double().cpu().numpy() if hasattr(z, "detach") else z


def held_out_mis(
    pairs: list[tuple[Any, Any]], seeds: list[int], options: dict[str, Any] = HELD_OUT_ESTIMATOR
) -> list[dict[str, float]]:
    """The held-out estimator (``options``) on pairs of embedding batches, one seed each: MI,
    interval and SE (nats) per pair. The critics of all pairs train side by side in one loop
    (``estimators.estimate_mi_many``), each as if alone."""
    import torch

    from estimators import estimate_mi_many

    # the critics train with gradients (a hook runs under no_grad) and on a forked global RNG, so
    # a read-out never changes a run's training
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        results = estimate_mi_many([(_host(a), _host(b)) for a, b in pairs], seeds=seeds,
                                   **options)  # fmt: skip
    return [{"mi": r.mi, "ci": list(r.ci), "se": (r.ci[1] - r.ci[0]) / (2 * Z95)}
            for r in results]  # fmt: skip


def held_out_mi(z_a: Any, z_b: Any, seed: int,
                options: dict[str, Any] = HELD_OUT_ESTIMATOR) -> dict[str, float]:  # fmt: skip
    """:func:`held_out_mis` on one pair."""
    return held_out_mis([(z_a, z_b)], [seed], options)[0]


def read_held_out(trackers: list[_Tracker]) -> None:
    """Every read-out the trackers deferred, each estimator's in one :func:`held_out_mis` call
    (so a group's runs and evaluations share one critic loop); the values fill the trackers'
    ``heldout`` entries in place."""
    by_options: dict[str, list[tuple[dict[str, Any], Any, Any, int]]] = {}
    for t in trackers:
        for entry, z_a, z_b, options in t.pending:
            key = json.dumps(options, sort_keys=True)
            by_options.setdefault(key, []).append((entry, z_a, z_b, t.seed))
        t.pending = []
    for key, reads in by_options.items():
        values = held_out_mis([(a, b) for _, a, b, _ in reads], [s for *_, s in reads],
                              json.loads(key))  # fmt: skip
        for (entry, *_), value in zip(reads, values, strict=True):
            entry.update(value)


class _Tracker:
    """The evaluation hook of one run: the tracking its key asks for (held-out MI, probes, the
    distance its target travelled), kept for :meth:`run`; with an ``end`` rule
    (``collapse.EndRule``) also the trace (step, cos-DV MI, target travel) that decides when the
    run ends."""

    def __init__(self, tracks: set[str], steps: int, seed: int,
                 end: collapse.EndRule | None = None,
                 final: Callable[[Any], dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.tracks, self.steps, self.seed, self.end = tracks, steps, seed, end
        self.final_fn = final
        self.final: dict[str, Any] = {}
        self.heldout: list[dict[str, Any]] = []
        self.shift: dict[str, Any] = {}
        self.probe: dict[str, Any] = {"curve": [], "final": {}}
        self.trace: list[tuple[int, float, float]] = []
        #: held-out read-outs to make after training (:func:`read_held_out`): the ``heldout``
        #: entry to fill, the embedding pair (float64, host) and the estimator options
        self.pending: list[tuple[dict[str, Any], Any, Any, dict[str, Any]]] = []

    def _defer(self, step: int, z_a: Any, z_b: Any, options: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"step": step}
        self.heldout.append(entry)
        self.pending.append((entry, _host(z_a), _host(z_b), options))

    def __call__(self, step: int, m: Any, x_a: Any, x_b: Any) -> bool:
        tracks, steps = self.tracks, self.steps
        for name in tracks & set(MI_TRACKS):
            self._defer(step, *m.embed_pair(x_a, x_b), MI_TRACKS[name])
        if "features" in tracks and step == steps:
            self._defer(step, m.features(x_a), m.features(x_b), P5_HELD_OUT)
        if self.final_fn is not None and step == steps:
            self.final = self.final_fn(m)
        if "surrogate" in tracks:
            self.probe["curve"].append({"step": step, **predictor.surrogate_probe(m, x_a, x_b)})
            if step == steps:
                self.probe["final"] = predictor.final_embeddings(m, x_a, x_b)
        online = [m.backbone, m.projector] if hasattr(m, "projector") else [m.backbone]
        target = [getattr(m, "target_backbone", None), getattr(m, "target_projector", None)]
        vec_o = _flat(online)
        vec_t = _flat(target) if None not in target else vec_o
        if step == 0:
            self.shift.update(t0=vec_t.clone(), o0=vec_o.clone())
        else:
            for name, vec, first in (("target", vec_t, "t0"), ("online", vec_o, "o0")):
                start = self.shift[first]
                self.shift[name] = float((vec - start).norm() / start.norm())
        if self.end is None:
            return False
        from estimators.bounds import cos_dv

        mi = float(cos_dv(*m.embed_pair(x_a, x_b)))  # the monitor's mi_cosdv (τ = 0.1)
        self.trace.append((step, mi, self.shift.get("target", 0.0)))
        return self.end.ends(self.trace)

    def run(self, key: RunKey, summary: dict[str, Any], metrics: Path) -> Run:
        if summary["status"] != "ok":
            raise RuntimeError(f"training {key[0]} (ablate {key[1]!r}) stopped: "
                               f"{summary['reason']}")  # fmt: skip
        lines = metrics.read_text(encoding="utf-8").splitlines()
        out: Run = {"summary": {k: v for k, v in summary.items() if k != "config"},
                    "history": [json.loads(line) for line in lines], "heldout": self.heldout,
                    "shift": {k: self.shift[k] for k in ("target", "online")
                              if k in self.shift}}  # fmt: skip
        if "surrogate" in self.tracks:
            out["surrogate"] = self.probe
        if self.final_fn is not None:
            out["final"] = self.final
        if self.end is not None:
            out["trace"] = self.trace
        return out


def train_seeds(key: RunKey, seeds: tuple[Seed, ...], data: str = "gaussian-mixture",
                evals: int = EVALS, end: collapse.EndRule | None = None,
                data_options: dict[str, Any] | None = None,
                final: Callable[[Seed, Any], dict[str, Any]] | None = None,
                ) -> list[Run]:  # fmt: skip
    """The ``paradigms.training`` run of ``key`` on the data set ``data`` (its own encoder;
    ``data_options``: its generator's keyword arguments) for
    every seed (:data:`Seed`), with ``evals`` evaluations after step 0 and the tracking the key
    asks for (and, with ``end``, the trace that ends each run early: ``collapse.EndRule``;
    with ``final``, ``final(seed, method)`` at the last step, the run's ``"final"``). The
    seeds train as one computation (``paradigms.training.batched.train_batched``)
    where the engine supports the configuration, else one after another with
    ``paradigms.training.loop.train``; a batched run equals its solo run up to float32 rounding
    (``tests/test_batched.py``)."""
    from paradigms.training.batched import check_batchable, train_batched
    from paradigms.training.config import TrainConfig
    from paradigms.training.loop import train

    method, ablate, options, steps, track = key
    tracks = set(track.split(",")) - {""}
    pairs = [seed if isinstance(seed, tuple) else (seed, None) for seed in seeds]
    # P5's accuracies: a test set large enough for their binomial SE (``accuracy.MAX_ACC_SE``)
    probe_test = accuracy.probe_test_size() if "features" in tracks else 512
    sizes = {"n_test": probe_test} if "features" in tracks else {}
    trackers = [_Tracker(tracks, steps, seed, end,
                         None if final is None else functools.partial(final, job))
                for (seed, _), job in zip(pairs, seeds, strict=True)]  # fmt: skip
    with single_thread(), tempfile.TemporaryDirectory() as root:
        configs = [TrainConfig(
            method=method, data=data, ablate=ablate, seed=seed, steps=steps,
            data_options={**(data_options or {}), **sizes,
                          **({} if data_seed is None else {"seed": data_seed})},
            eval_every=max(1, steps // evals), progress=False,
            probe_every=1000,  # linear probe at the first and last evaluation only, where used
            linear_probe=bool(tracks & {"features", "probe"}),
            probe_train=512, probe_test=probe_test,  # the claims' design (P5: SE ≤ 0.007)
            method_options=dict(options), out=str(Path(root) / str(i)),
        ) for i, (seed, data_seed) in enumerate(pairs)]  # fmt: skip
        try:
            for config in configs:
                check_batchable(config)
        except ValueError:  # a configuration the engine refuses: one run after another
            summaries = [train(c, t) for c, t in zip(configs, trackers, strict=True)]
        else:
            summaries = train_batched(configs, trackers)
        read_held_out(trackers)
        return [t.run(key, s, Path(c.out) / "metrics.jsonl")
                for t, s, c in zip(trackers, summaries, configs, strict=True)]  # fmt: skip


def train_run(key: RunKey, seed: Seed, data: str = "gaussian-mixture", evals: int = EVALS) -> Run:
    """One run of :func:`train_seeds`."""
    return train_seeds(key, (seed,), data, evals)[0]


# --------------------------------------------------------------------------- plan


def arm_name(m_step: str, predictor: bool, marginal: bool, stop_grad: bool = True) -> str:
    parts = [f"sdmi {m_step}"]
    parts += [] if predictor else ["−predictor"]
    parts += [] if marginal else ["−marginal"]
    parts += [] if stop_grad else ["−stop-grad"]
    return " ".join(parts)


def _arm_key(m_step: str, predictor: bool, marginal: bool, steps: int, stop_grad: bool = True,
             track: str = "", alternating: bool = True) -> RunKey:  # fmt: skip
    off = [n for n, on in (("predictor", predictor), ("marginal", marginal),
                           ("stop-grad", stop_grad), ("alternating", alternating))
           if not on]  # fmt: skip
    return ("sdmi", ",".join(off), (("target_update", m_step),), steps, track)


#: P1's factorial rows: the surrogate of the marginal term, in the M-step where the canonical
#: arm with it is healthy (M-step, predictor, marginal): the explicit marginal term with the
#: prototype's gradient M-step; the predictor alone with the copy M-step (SimSiam's), since with
#: a gradient M-step and no marginal term the target collapses whatever the online branch has (T7)
P1_ROWS = (("explicit marginal", ("gradient", True, True)),
           ("predictor only", ("copy", True, False)))  # fmt: skip
#: the mechanisms P1 removes, one at a time (the method's ablation names)
P1_MECHANISMS = ("alternating", "stop-grad")
#: P1's control factor (necessary by T7: the gradient M-step ascends the joint term alone) and
#: the seed offset of its null factor (the canonical run again under other seeds)
P1_CONTROL = ("gradient", True, False)
P1_REPLICATE = 100


def p1_cell_name(arm: tuple[str, bool, bool], removed: str = "") -> str:
    """The run of P1's cell: the row's canonical arm less ``removed`` (a P3 arm name where one is
    the same run)."""
    if removed == "stop-grad":
        return arm_name(*arm, stop_grad=False)
    return arm_name(*arm) + (f" −{removed}" if removed else "")


def p1_cells() -> list[tuple[str, str, str | None]]:
    """(row, removed mechanism, run name or None where the mechanism does not exist in that
    M-step: ``alternating`` needs a gradient M-step)."""
    from paradigms.methods import get_method

    cells = []
    for row, arm in P1_ROWS:
        applicable = get_method("sdmi").applicable_ablations(target_update=arm[0])
        for removed in P1_MECHANISMS:
            cells.append((row, removed, p1_cell_name(arm, removed)
                          if removed in applicable else None))  # fmt: skip
    return cells


def p1_p2_names() -> list[str]:
    """Every run P1 and P2 read on all their seeds."""
    names = [p1_cell_name(arm) for _, arm in P1_ROWS]
    names += [name for _, _, name in p1_cells() if name is not None]
    return [*names, arm_name(*P1_CONTROL), "jmi", "jmi −invariance"]


P3_ARMS = [(m, p, g) for m in M_STEPS for p in (True, False) for g in (True, False)]
#: the P3 control: predictor on, marginal off, stop-gradient off, in the one M-step where the
#: predictor is predicted to protect and a stop-gradient exists (EMA targets get no E-step
#: gradient either way; the gradient M-step collapses with or without it, T7)
P3_CONTROL_ARMS = [("copy", True, False)]


def p3_predicts_healthy(m_step: str, predictor: bool, marginal: bool) -> bool:
    """The theory's P3 prediction with stop-gradient on: the marginal term, or a predictor with
    an M-step that ties ξ to θ (T7: a gradient M-step ascends the joint term alone)."""
    return marginal or (predictor and m_step != "gradient")


def p7_run_name(m_step: str, capacity: str, marginal: bool) -> str:
    """The run of P7's (M-step, capacity, marginal) cell: a P3 arm where one is (no predictor,
    the default MLP predictor, the explicit-marginal reference), else a P7 run."""
    if marginal:
        return arm_name(m_step, True, True)
    if capacity in ("none", predictor.DEFAULT_CAPACITY):
        return arm_name(m_step, capacity != "none", False)
    return f"{arm_name(m_step, True, False)} q {capacity}"


def p7_frozen_name(capacity: str) -> str:
    """The run of P7's frozen predictor of ``capacity`` (copy M-step, marginal term off)."""
    return f"{arm_name(predictor.FROZEN_M_STEP, True, False)} q {capacity} frozen"


def run_plan(b: ParadigmBudget) -> dict[str, RunKey]:
    """Named runs (without seed) that P1–P4 and P7 need; P1's runs are P3 arms with tracking,
    and with a P7 plan the P3 arms that are P7 cells carry P7's probe."""
    plan: dict[str, RunKey] = {}
    cells = predictor.runs_of(b.p7) if b.p7 is not None else []
    probed = {p7_run_name(*cell) for cell in cells}
    # P8's plan (no comparison runs) reads P1 and P2 through the rise rule with the arms without
    # predictor and marginal term and JMI without marginal term as controls; the main plan's P1
    # and P2 have their own controls (P1_CONTROL, jmi −invariance)
    tracked = set(p1_p2_names()) if b.compare else {
        arm_name("gradient", True, True), arm_name("gradient", False, False), "jmi −marginal"}
    for m, p, g in P3_ARMS:
        name = arm_name(m, p, g)
        tracks = [b.mi_track] if name in tracked else []  # P1's and P2's runs, P8's P1 control
        tracks += ["surrogate"] if name in probed else []
        plan[name] = _arm_key(m, p, g, b.steps, track=",".join(tracks))
    for m, capacity, marginal in cells:
        name = p7_run_name(m, capacity, marginal)
        if name not in plan:
            options = tuple(sorted(predictor.method_options(m, capacity).items()))
            plan[name] = ("sdmi", "marginal", options, b.steps, "surrogate")
    for capacity in b.p7.frozen if b.p7 is not None else ():
        options = tuple(sorted(predictor.frozen_options(capacity).items()))
        plan[p7_frozen_name(capacity)] = ("sdmi", "marginal", options, b.steps, "surrogate")
    for m, p, g in P3_CONTROL_ARMS:
        name = arm_name(m, p, g, stop_grad=False)
        plan[name] = _arm_key(m, p, g, b.steps, stop_grad=False,
                              track=b.mi_track if name in tracked else "")
    if b.compare:
        for row, removed, name in p1_cells():
            if name is not None and name not in plan:
                m, p, g = dict(P1_ROWS)[row]
                plan[name] = _arm_key(m, p, g, b.steps, track=b.mi_track,
                                      stop_grad=removed != "stop-grad",
                                      alternating=removed != "alternating")  # fmt: skip
        plan["jmi −invariance"] = ("jmi", "invariance", (), b.steps, b.mi_track)
    plan["jmi"] = ("jmi", "", (), b.steps, b.mi_track)
    plan["jmi −marginal"] = ("jmi", "marginal", (), b.steps,
                             b.mi_track if "jmi −marginal" in tracked else "")
    for m in P4_SURROGATES[1:]:
        plan[m] = (m, "", (), b.steps, "")
    for m, ablation in P4_CONTROL:
        plan[f"{m} −{ablation}"] = (m, ablation, (), b.steps, "")
    return plan


#: tracks whose read-outs are taken at every evaluation (a series)
SERIES_TRACKS = {*MI_TRACKS, "surrogate"}


def evals_needed(track: str, evals: int) -> int:
    """Evaluations after step 0 a run of ``track`` needs: ``evals`` where its track reads a
    series, else 1 (an untracked run, or P5's "features", is read at its end only: its summary,
    target travel and final read-outs)."""
    return evals if set(track.split(",")) & SERIES_TRACKS else 1


def run_all(jobs: list[tuple[RunKey, Seed]], runner: Runner = train_run, label: str = "runs",
            progress: Callable[[str], None] | None = None,
            evals: int = EVALS) -> list[Run]:  # fmt: skip
    """Every (key, seed) job, in order. ``train_run`` jobs are grouped by key, each key's seeds
    trained as one batched computation (:func:`train_seeds`, ``evals`` evaluations after step
    0), and the groups go to worker processes (:func:`mitheory.claims.runtime.parallel_map`);
    other runners (tests) run job by job in this process."""
    if runner is not train_run:
        return parallel_map(runner, jobs, label=label, progress=progress, workers=1)
    seeds: dict[RunKey, list[Seed]] = {}
    for key, seed in jobs:
        seeds.setdefault(key, []).append(seed)
    groups = [(key, tuple(s), "gaussian-mixture", evals_needed(key[4], evals))
              for key, s in seeds.items()]  # fmt: skip
    done = parallel_map(train_seeds, groups, label=label, progress=progress, workers=WORKERS)
    runs = {(key, seed): run for (key, s, _, _), out in zip(groups, done, strict=True)
            for seed, run in zip(s, out, strict=True)}  # fmt: skip
    return [runs[job] for job in jobs]


def collect_runs(b: ParadigmBudget, seed: int, runner: Runner = train_run,
                 progress: Callable[[str], None] | None = None) -> dict[int, dict[str, Run]]:
    """{run seed: {run name: run}}: every planned run for the seeds of ``b.seeds``; P1's and P2's
    runs (:func:`p1_p2_names`) also for the other seeds of ``b.p1_seeds``, and the canonical
    SDMI run for P1's null factor (seeds + :data:`P1_REPLICATE`, each on the data set of its
    seed: another initialization, batches and views, the same data)."""
    plan = run_plan(b)
    names = {seed + k: list(plan) for k in b.seeds}
    if b.compare:
        p1_names = p1_p2_names()
        for k in b.p1_seeds:
            names.setdefault(seed + k, p1_names)
            names[seed + k + P1_REPLICATE] = [arm_name("gradient", True, True)]
    # P1's null factor: the canonical run under another seed on the same data set
    job_seed = {s: (s, s - P1_REPLICATE) if s - seed >= P1_REPLICATE else s for s in names}
    jobs = [(plan[name], job_seed[s]) for s, ns in names.items() for name in ns]
    results = iter(run_all(jobs, runner, "P1–P4", progress, b.evals))
    return {s: {name: next(results) for name in ns} for s, ns in names.items()}


def main_runs(runs: dict[int, dict[str, Run]], b: ParadigmBudget,
              seed: int) -> dict[int, dict[str, Run]]:  # fmt: skip
    """The runs of ``b.seeds`` (every planned run) among :func:`collect_runs`' ."""
    return {seed + k: runs[seed + k] for k in b.seeds}


# --------------------------------------------------------------------------- rules


def complete_collapse(summary: dict[str, Any]) -> bool:
    d = summary["embedding_dim"]
    return (
        summary["effective_rank"] <= 2.0
        and summary["embed_std"] < 0.25 / math.sqrt(d)
        and bool(summary["collapsed"])
    )


@dataclass(frozen=True)
class HealthBars:
    """The cos-DV MI bars of the health rules (nats): a healthy run reaches ``healthy_mi``; a
    complete collapse (P4) stays under ``complete_mi``. The defaults are the Gaussian mixture's;
    :meth:`relative` puts them on a setting's own scale (P8)."""

    healthy_mi: float = 1.0
    complete_mi: float = 0.05

    @classmethod
    def relative(cls, scale: float) -> HealthBars:
        """Bars on the scale ``scale`` (the exact MI where known, else the canonical arm's
        cos-DV): healthy from ``collapse.SHARE`` × scale (P3's collapse line), complete collapse
        under 1/20 of that (the default bars' ratio)."""
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"the setting's scale must be a positive number of nats, got "
                             f"{scale!r}")  # fmt: skip
        floor = collapse.SHARE * scale
        return cls(floor, floor / 20)


DEFAULT_BARS = HealthBars()


def healthy(summary: dict[str, Any], bars: HealthBars = DEFAULT_BARS) -> bool:
    """Not flagged collapsed, RankMe ≥ 5 and cos-DV MI ≥ ``bars.healthy_mi``."""
    return (not summary["collapsed"] and summary["effective_rank"] >= 5.0
            and summary["mi_cosdv"] >= bars.healthy_mi)  # fmt: skip


def near_monotone(series: list[dict[str, Any]]) -> dict[str, Any]:
    """The P1/P2 rule on a held-out MI series (see the module docstring)."""
    steps = [r["step"] for r in series]
    mi = [r["mi"] for r in series]
    rho = float(stats.spearmanr(steps, mi).statistic) if len(set(mi)) > 1 else -1.0
    gain = mi[-1] - mi[0]
    gain_se = math.hypot(series[0]["se"], series[-1]["se"])
    drops = [(b["mi"] - a["mi"]) / max(math.hypot(a["se"], b["se"]), 1e-12)
             for a, b in itertools.pairwise(series)]  # fmt: skip
    worst = min(drops) if drops else 0.0
    ok = gain > RISE_Z * gain_se and worst >= -RISE_Z
    return {"pass": ok, "rho": rho, "gain": gain, "gain_se": gain_se, "worst_drop_z": worst}


def rise_claim(claim_id: str, canonical: str | tuple[str, ...], control: str,
               compare: tuple[str, ...], runs: dict[int, dict[str, Run]],
               what: str = "") -> tuple[Claim, dict[str, Any]]:  # fmt: skip
    """P2 (and P8's P1/P2): the rise rule on the canonical run(s) of every seed; control and
    comparison runs alike. ``what`` describes the control (default: its name)."""
    canon = (canonical,) if isinstance(canonical, str) else canonical
    table = {name: [near_monotone(r[name]["heldout"]) for r in runs.values()]
             for name in (*canon, *compare, control)}  # fmt: skip
    ok = [t["pass"] for name in canon for t in table[name]]
    c_ok = [t["pass"] for t in table[control]]
    finals = {name: [r[name]["heldout"][-1]["mi"] for r in runs.values()] for name in table}
    cmp = "; ".join(
        f"{name}: {sum(t['pass'] for t in table[name])}/{len(runs)} seeds pass, final "
        f"{np.mean(finals[name]):.2f} nats" for name in compare)  # fmt: skip
    gain_z = min(t["gain"] / t["gain_se"] for name in canon for t in table[name])
    per = "; ".join(
        f"{name}: {sum(t['pass'] for t in table[name])}/{len(runs)} seeds pass, final held-out "
        f"MI {np.mean(finals[name]):.2f} nats, min Spearman ρ against step "
        f"{min(t['rho'] for t in table[name]):.2f}" for name in canon)  # fmt: skip
    claim = Claim(
        claim_id,
        verdict_of(sum(ok), len(ok)),
        gain_z,
        f"min over runs and seeds of the held-out MI gain in SE; {per} (a rise, then a plateau)"
        + (f"; compared at the same step size: {cmp}" if compare else ""),
        threshold=f"held-out InfoNCE-critic MI: gain last − first > {RISE_Z:g} SE and no drop "
        f"between consecutive evaluations beyond {RISE_Z:g} SE",
        control=Control(
            f"{what or control}: {sum(c_ok)}/{len(c_ok)} seeds pass, final held-out MI "
            f"{np.mean(finals[control]):.2f} nats",
            verdict_of(sum(c_ok), len(c_ok)),
            min(t["gain"] / t["gain_se"] for t in table[control]),
        ),
        seeds=tuple(runs),
    )
    return claim, {"rules": table, "final_mi": finals}


#: P1's "MI reached": the mean held-out MI of the last evaluations, on the plateau that the
#: runs reach within the first fifth of training (a mean of several read-outs has less critic
#: noise than the last one alone)
REACHED_EVALS = 3


def reached(series: list[dict[str, Any]]) -> float:
    """The MI a run reached: the mean of its last :data:`REACHED_EVALS` held-out read-outs."""
    return float(np.mean([p["mi"] for p in series[-REACHED_EVALS:]]))


def p1_claim(runs: dict[int, dict[str, Run]], seeds: list[int]) -> tuple[Claim, dict[str, Any]]:
    """P1: each mechanism of :data:`P1_MECHANISMS` removed from each row's canonical arm, the
    held-out MI reached (:func:`reached`) compared seed by seed (``necessity``), and the two
    controls: the marginal term removed (necessary by T7) and the canonical run under other seeds
    on the same data sets (a null factor)."""

    def finals(name: str, offset: int = 0) -> list[float]:
        return [reached(runs[s + offset][name]["heldout"]) for s in seeds]

    cells, margins = [], {}
    for row, arm in P1_ROWS:
        base = finals(p1_cell_name(arm))
        margins[row] = necessity.MARGIN_SHARE * float(np.mean(base))
        for r, removed, name in p1_cells():
            if r != row:
                continue
            cell = {"row": row, "removed": removed, "run": name}
            if name is None:
                cell["reading"] = "n/a"
            else:
                cell.update(necessity.paired_effect(base, finals(name), margins[row]))
            cells.append(cell)
    decided = [c for c in cells if c["reading"] != "n/a"]
    sigma = necessity.pooled_sd(decided)
    power = {row: necessity.design_power(len(seeds), sigma, m) for row, m in margins.items()}
    explicit = P1_ROWS[0]
    canon = finals(p1_cell_name(explicit[1]))
    controls = {
        "marginal": necessity.paired_effect(canon, finals(arm_name(*P1_CONTROL)),
                                            margins[explicit[0]]),
        "seed": necessity.paired_effect(canon, finals(p1_cell_name(explicit[1]), P1_REPLICATE),
                                        margins[explicit[0]]),
    }  # fmt: skip
    verdict = necessity.necessity_verdict([c["reading"] for c in decided])
    as_verdict = {"necessary": "holds", "not needed": "fails", "undecided": "undecided"}
    key = "marginal" if verdict == "fails" else "seed"
    c = controls[key]
    what = (f"the explicit marginal term removed from {p1_cell_name(explicit[1])} (T7: "
            "necessary)" if key == "marginal" else
            f"{p1_cell_name(explicit[1])} under seeds + {P1_REPLICATE} on the same data sets (a "
            "null factor: nothing removed)")  # fmt: skip

    def fmt(e: dict[str, Any]) -> str:
        return (f"{e['effect']:+.2f} nats [{e['bounds'][0]:+.2f}, {e['bounds'][1]:+.2f}] vs "
                f"δ = {e['margin']:.2f}: {e['reading']}")  # fmt: skip

    per = "; ".join(f"{c['row']} −{c['removed']}: " + (fmt(c) if c["reading"] != "n/a" else
                                                      "n/a (no such step in this M-step)")
                    for c in cells)  # fmt: skip
    claim = Claim(
        "P1",
        verdict,
        sum(c["reading"] == "necessary" for c in decided) / max(len(decided), 1),
        f"share of the {len(decided)} (surrogate, mechanism) cells where removing the mechanism "
        f"lowers the held-out MI reached (mean of the last {REACHED_EVALS} read-outs) by more "
        f"than δ; {per}; seeds {len(seeds)}, σ of the paired "
        f"differences {sigma:.3f} nats; simulated power (not needed at Δ = 0 / necessary at "
        f"Δ = −2δ): "
        + ", ".join(f"{row} {p['not_needed_at_0']:.2f} / {p['necessary_at_2margin']:.2f}"
                    for row, p in power.items()),
        threshold=f"paired t over seeds, one-sided α = {necessity.ALPHA}: necessary when the "
        f"upper bound of the effect < −δ, not needed when its lower bound > −δ; "
        f"δ = {necessity.MARGIN_SHARE:g} × the row's canonical MI reached; holds when every cell "
        "is necessary, fails when none is",
        control=Control(f"{what}: {fmt(c)}", as_verdict[c["reading"]], c["effect"]),
        seeds=tuple(seeds),
        extra={"cells": cells,
               "p1_controls": controls, "p1_power": power, "p1_sigma": sigma},
    )  # fmt: skip
    return claim, {"cells": cells, "controls": controls, "power": power, "sigma": sigma}


def p3_arms(runs: dict[int, dict[str, Run]], arms: list[tuple[str, bool, bool]],
            stop_grad: bool = True,
            bars: HealthBars = DEFAULT_BARS) -> list[dict[str, Any]]:  # fmt: skip
    """P3 table rows: prediction (:func:`p3_predicts_healthy`) against every seed."""
    rows = []
    for m, p, g in arms:
        name = arm_name(m, p, g, stop_grad)
        summaries = [r[name]["summary"] for r in runs.values()]
        shifts = [r[name]["shift"].get("target", 0.0) for r in runs.values()]
        collapsed = sum(not healthy(s, bars) for s in summaries)
        predicted_healthy = p3_predicts_healthy(m, p, g)
        rows.append({
            "arm": name, "m_step": m, "predictor": p, "marginal": g, "stop_grad": stop_grad,
            "seeds": len(summaries), "collapsed_seeds": collapsed,
            "predicted": "healthy" if predicted_healthy else "collapse",
            "matches": collapsed == (0 if predicted_healthy else len(summaries)),
            "rankme": [s["effective_rank"] for s in summaries],
            "mi_cosdv": [s["mi_cosdv"] for s in summaries],
            "embed_std_sqrt_d": [s["embed_std"] * math.sqrt(s["embedding_dim"])
                                 for s in summaries],
            "target_shift": float(np.mean(shifts)),
        })  # fmt: skip
    return rows


def p3_claim(runs: dict[int, dict[str, Run]], bars: HealthBars = DEFAULT_BARS) -> Claim:
    rows = p3_arms(runs, P3_ARMS, bars=bars)
    control = p3_arms(runs, P3_CONTROL_ARMS, stop_grad=False, bars=bars)
    n_ok = sum(r["matches"] for r in rows)
    c_ok = sum(r["matches"] for r in control)
    wrong = [f"{r['arm']} ({r['collapsed_seeds']}/{r['seeds']} collapsed, predicted "
             f"{r['predicted']})" for r in rows if not r["matches"]]  # fmt: skip
    ema = [r["target_shift"] for r in rows if r["m_step"] == "ema"]
    return Claim(
        "P3",
        verdict_of(n_ok, len(rows)),
        n_ok / len(rows),
        f"share of the {len(rows)} arms whose every seed matches the prediction; mismatches: "
        f"{'; '.join(wrong) or 'none'}; EMA target travelled ‖ξ_T − ξ_0‖/‖ξ_0‖ = "
        f"{min(ema):.2f}–{max(ema):.2f}",
        threshold=f"every seed of an arm healthy (not collapsed, RankMe ≥ 5, cos-DV ≥ "
        f"{bars.healthy_mi:.2g}) when the marginal term is on or the predictor is on with a copy "
        "or EMA M-step, collapsed otherwise",
        control=Control(
            "predictor on, marginal off, stop-gradient removed (copy M-step): "
            f"{c_ok}/{len(control)} arms match the prediction 'healthy'",
            verdict_of(c_ok, len(control)),
            c_ok / len(control),
        ),
        seeds=tuple(runs),
        extra={"arms": [{k: r[k] for k in ("m_step", "predictor", "marginal", "seeds",
                                           "collapsed_seeds", "predicted", "matches",
                                           "target_shift")} for r in rows],
               "control_arms": [{k: r[k] for k in ("m_step", "predictor", "marginal", "stop_grad",
                                                   "seeds", "collapsed_seeds", "matches")}
                                for r in control]},
    )  # fmt: skip


#: trains one key's seeds: ``train_seeds``'s signature (tests pass a fake)
LongTrainer = Callable[..., list[Run]]


def p3_long_keys() -> dict[str, RunKey]:
    """P3's long runs: every arm and the control arm, to :data:`collapse.HORIZON` steps."""
    keys = {arm_name(m, p, g): _arm_key(m, p, g, collapse.HORIZON) for m, p, g in P3_ARMS}
    for m, p, g in P3_CONTROL_ARMS:
        keys[arm_name(m, p, g, stop_grad=False)] = _arm_key(m, p, g, collapse.HORIZON,
                                                            stop_grad=False)  # fmt: skip
    return keys


def p3_long_runs(seed: int, train: LongTrainer = train_seeds,
                 progress: Callable[[str], None] | None = None,
                 ) -> tuple[dict[str, list[Run]], tuple[tuple[int, float], ...]]:  # fmt: skip
    """P3's runs (``collapse``): first the canonical arm to the horizon on every seed (the
    scale, I_ref), then every other arm with ``collapse.EndRule(I_ref)``; {arm: runs}, I_ref."""
    keys = p3_long_keys()
    canonical = arm_name("gradient", True, True)
    seeds = tuple(seed + k for k in range(collapse.SEEDS))
    evals = collapse.HORIZON // collapse.EVERY
    workers = WORKERS if train is train_seeds else 1
    halves = [seeds[: len(seeds) // 2 + 1], seeds[len(seeds) // 2 + 1 :]]
    jobs = [(keys[canonical], h, "gaussian-mixture", evals, collapse.EndRule()) for h in halves]
    scale = [r for out in parallel_map(train, jobs, label="P3 scale", progress=progress,
                                       workers=workers) for r in out]  # fmt: skip
    reference = collapse.reference_curve([r["trace"] for r in scale])
    rule = collapse.EndRule(reference)
    names = [name for name in keys if name != canonical]
    jobs = [(keys[name], seeds, "gaussian-mixture", evals, rule) for name in names]
    done = parallel_map(train, jobs, label="P3", progress=progress, workers=workers)
    return {canonical: scale, **dict(zip(names, done, strict=True))}, reference


def p3_time_rows(runs: dict[str, list[Run]],
                 reference: tuple[tuple[int, float], ...]) -> list[dict[str, Any]]:  # fmt: skip
    """One row per arm (the control arm last): prediction, times to collapse per seed (None:
    censored), their median and interval (``collapse.median_interval``), the same at the looser
    line, where each run ended and how far its target travelled."""
    ref = dict(reference)
    rows = []
    arms = [(*a, True) for a in P3_ARMS] + [(*a, False) for a in P3_CONTROL_ARMS]
    for m, p, g, stop_grad in arms:
        traces = [r["trace"] for r in runs[arm_name(m, p, g, stop_grad)]]
        times = [collapse.collapse_time(t, ref) for t in traces]
        reached = [t[-1][0] for t in traces]
        healthy_predicted = p3_predicts_healthy(m, p, g)
        n_collapsed = sum(t is not None for t in times)
        rows.append({
            "arm": arm_name(m, p, g, stop_grad), "m_step": m, "predictor": p, "marginal": g,
            "stop_grad": stop_grad, "predicted": "healthy" if healthy_predicted else "collapse",
            "times": times, **collapse.median_interval(times, reached),
            "loose_times": [collapse.collapse_time(t, ref, collapse.LOOSE_SHARE) for t in traces],
            "reached": reached, "travel": [t[-1][2] for t in traces],
            "final_ratio": [t[-1][1] / ref.get(t[-1][0], reference[-1][1]) for t in traces],
            "matches": n_collapsed == (0 if healthy_predicted else len(times)),
        })  # fmt: skip
    return rows


def p3_time_claim(rows: list[dict[str, Any]], seeds: tuple[int, ...]) -> Claim:
    """P3 from the long runs: an arm matches when every seed collapses (predicted collapse) or
    none does within its horizon (predicted healthy); the control arm against "healthy"."""
    arms, control = [r for r in rows if r["stop_grad"]], [r for r in rows if not r["stop_grad"]]
    n_ok = sum(r["matches"] for r in arms)
    wrong = [f"{r['arm']} ({r['collapsed']}/{r['seeds']} collapsed, predicted {r['predicted']})"
             for r in arms if not r["matches"]]  # fmt: skip

    def when(r: dict[str, Any]) -> str:
        lo, hi = r["interval"]
        return (f"{r['arm']}: median {r['median']:.0f} [{lo:.0f}, "
                f"{'censored' if hi is None else f'{hi:.0f}'}]") if r["median"] is not None \
            else f"{r['arm']}: not reached"  # fmt: skip

    falls = [when(r) for r in arms if r["collapsed"]]
    c_ok = sum(r["matches"] for r in control)
    return Claim(
        "P3",
        verdict_of(n_ok, len(arms)),
        n_ok / len(arms),
        f"share of the {len(arms)} arms whose every seed matches the prediction; mismatches: "
        f"{'; '.join(wrong) or 'none'}; steps to collapse ({arms[0]['seeds']} seeds, interval "
        f"coverage {arms[0]['coverage']:.3f}): {'; '.join(falls) or 'none'}",
        threshold=f"collapsed: cos-DV MI below {collapse.SHARE:g} × the canonical arm's at the "
        f"same step for ≥ {collapse.STREAK} evaluations to the end of the run; horizon "
        f"{collapse.HORIZON} steps or target travel ≥ {collapse.TRAVEL:g}× its initial norm; "
        "predicted healthy iff the marginal term is on or the predictor is on with a copy or EMA "
        "M-step",
        control=Control(
            "predictor on, marginal off, stop-gradient removed (copy M-step): "
            f"{c_ok}/{len(control)} arms match the prediction 'healthy' "
            f"({', '.join(str(r['collapsed']) + '/' + str(r['seeds']) for r in control)} "
            "seeds collapsed)",
            verdict_of(c_ok, len(control)),
            c_ok / len(control),
        ),
        seeds=seeds,
        extra={"arms": [{k: r[k] for k in ("arm", "m_step", "predictor", "marginal", "predicted",
                                           "times", "median", "interval", "coverage",
                                           "collapsed", "seeds", "censored_at", "loose_times",
                                           "reached", "travel", "matches")} for r in rows]},
    )  # fmt: skip


def p4_checks(r: dict[str, Run], bars: HealthBars = DEFAULT_BARS) -> dict[str, bool]:
    off = r["jmi −marginal"]["summary"]
    checks = {f"jmi without its marginal term: complete collapse, cos-DV MI < "
              f"{bars.complete_mi:.2g}": complete_collapse(off)
              and off["mi_cosdv"] < bars.complete_mi}  # fmt: skip
    checks.update({f"{m}: healthy": healthy(r[m]["summary"], bars) for m in P4_SURROGATES})
    return checks


def p4_claim(runs: dict[int, dict[str, Run]], bars: HealthBars = DEFAULT_BARS) -> Claim:
    results = [p4_checks(r, bars) for r in runs.values()]
    n_ok = sum(sum(c.values()) for c in results)
    n_all = sum(len(c) for c in results)
    failed = sorted({name for c in results for name, ok in c.items() if not ok})
    control = [healthy(r[f"{m} −{a}"]["summary"], bars) for r in runs.values()
               for m, a in P4_CONTROL]  # fmt: skip
    rank = max(r["jmi −marginal"]["summary"]["effective_rank"] for r in runs.values())
    return Claim(
        "P4",
        verdict_of(n_ok, n_all),
        rank,
        f"max final RankMe of JMI without marginal over seeds; {n_ok}/{n_all} checks pass"
        + (f"; failing: {', '.join(failed)}" if failed else ""),
        threshold=f"complete collapse: RankMe ≤ 2, embed_std < ¼/√d, cos-DV MI < "
        f"{bars.complete_mi:.2g}; healthy: not collapsed, RankMe ≥ 5, cos-DV MI ≥ "
        f"{bars.healthy_mi:.2g} nats",
        control=Control(
            "the health rule on " + ", ".join(f"{m} −{a}" for m, a in P4_CONTROL)
            + f": {sum(control)}/{len(control)} runs healthy",
            verdict_of(sum(control), len(control)),
        ),
        seeds=tuple(runs),
    )


def p5_plan(b: ParadigmBudget, seed: int) -> list[tuple[str, int, int]]:
    """(method, training length, run seed) of every P5 run: ``b.p5_seeds`` fresh seeds per
    (method, length), shared by the methods within a length (:mod:`accuracy`'s block design)."""
    return [(m, steps, seed + P5_SEED_BASE + P5_LENGTH_STRIDE * i + k)
            for i, steps in enumerate(b.p5_steps) for m in P5_METHODS
            for k in range(b.p5_seeds)]  # fmt: skip


def p5_runs(b: ParadigmBudget, seed: int, runner: Runner = train_run,
            progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """P5's runs (:func:`p5_plan`): held-out MI of the backbone features and probe accuracy."""
    points = []
    plan = p5_plan(b, seed)
    jobs = [((m, "", (), steps, "features"), s) for m, steps, s in plan]
    for (m, steps, s), run in zip(plan, run_all(jobs, runner, "P5", progress), strict=True):
        summary = run["summary"]
        points.append({"method": m, "steps": steps, "seed": s,
                       "mi": run["heldout"][-1]["mi"], "mi_ci": run["heldout"][-1]["ci"],
                       "probe_acc": summary["probe_acc"], "knn_acc": summary["knn_acc"],
                       "collapsed": bool(summary["collapsed"])})  # fmt: skip
    return points


def _p5_planted(points: list[dict[str, Any]], rng: np.random.Generator,
                shuffle: bool) -> list[dict[str, Any]]:  # fmt: skip
    """P5's control data, one factor changed (the relation between a method's MI and its
    accuracy), the seed-to-seed noise kept: within each length every method's accuracies are
    moved as a block, either onto another method's level (``shuffle``: a random permutation of
    the method means, no relation) or onto the level the method's MI rank gives it among the
    observed method means (a monotone relation, ρ = 1 between the true method levels)."""
    table = accuracy.method_table(points)
    out = [dict(p) for p in points]
    for steps, row in table.items():
        methods, means = row["methods"], np.asarray(row["acc"])
        order = np.argsort(np.argsort(row["mi"]))
        target = rng.permutation(means) if shuffle else np.sort(means)[order]
        shift = dict(zip(methods, target - means, strict=True))
        for p in out:
            if p["steps"] == steps:
                p["probe_acc"] = p["probe_acc"] + shift[p["method"]]
    return out


def p5_claim(points: list[dict[str, Any]], seed: int) -> tuple[Claim, dict[str, Any]]:
    """P5 at the level of methods (:func:`accuracy.decide`): within-length Spearman ρ of the
    method means, permutation test between methods, simulated power. Control, one factor (the
    relation between a method's MI and its accuracy), the seed noise kept: against a claim that
    holds, each method's accuracies moved as a block onto a randomly permuted method's level (no
    relation), where the permutation test must not reject ("fails"); against one that does not,
    onto the level its MI rank gives (a monotone relation), where the rule must read "holds"."""
    design = accuracy.decide(points, seed + 55)
    rng = np.random.default_rng(seed + 56)
    shuffle = design["verdict"] == "holds"
    c_design = accuracy.decide(_p5_planted(points, rng, shuffle), seed + 57)
    if shuffle:  # a negative control asks one thing: does the test see a relation? (no power)
        what = ("each method's accuracies moved onto a randomly permuted method's level within "
                "its length (no relation, seed noise kept), read by the permutation test alone")
        c_verdict = "holds" if c_design["p"] < accuracy.ALPHA else "fails"
    else:
        what = ("each method's accuracies moved onto the level its MI rank gives within its "
                "length (a monotone relation, seed noise kept)")
        c_verdict = c_design["verdict"]
    per = ", ".join(f"{g} steps {r:+.2f}" for g, r in sorted(design["strata"].items()))
    lengths = ", ".join(map(str, design["lengths"]))
    claim = Claim(
        "P5",
        design["verdict"],
        design["rho"],
        f"mean within-length Spearman ρ of the method means (held-out MI of backbone features, "
        f"linear-probe accuracy) over {design['methods']} methods × lengths {lengths} "
        f"({design['n_runs']} runs, ≥ {design['seeds']} independent seeds per cell) = "
        f"{design['rho']:+.2f} (per length: {per}); one-sided "
        f"permutation p = {design['p']:.3f}; simulated power of this design to detect ρ = "
        f"{accuracy.RHO_ALT}: {design['power']:.2f}",
        threshold=f"holds: permutation p < {accuracy.ALPHA}; fails: not significant with power "
        f"≥ {accuracy.REQUIRED_POWER}; else undecided",
        control=Control(f"{what}: ρ = {c_design['rho']:+.2f}, p = {c_design['p']:.3f}, power "
                        f"{c_design['power']:.2f}", c_verdict, c_design["rho"]),
        seeds=tuple(sorted({p["seed"] for p in points})),
        extra={"p": design["p"], "power": design["power"]},
    )
    return claim, {"design": design, "control": c_design, "points": points}


# --------------------------------------------------------------------------- figures


def _save(fig: Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    atomic_savefig(fig, out / name, dpi=110)
    return name


def _plot_rise(runs: dict[int, dict[str, Run]], out: Path) -> str:
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    sdmi = [p1_cell_name(arm) for _, arm in P1_ROWS]
    sdmi += [n for _, _, n in p1_cells() if n is not None] + [arm_name(*P1_CONTROL)]
    panels = (("P1: SDMI, one mechanism removed", sdmi),
              ("P2: JMI and its control", ["jmi", "jmi −invariance"]))  # fmt: skip
    for ax, (title, names) in zip(axes, panels, strict=True):
        for k, name in enumerate(names):
            for j, r in enumerate(runs.values()):
                h = r[name]["heldout"]
                ax.errorbar([p["step"] for p in h], [p["mi"] for p in h],
                            yerr=[Z95 * p["se"] for p in h], color=f"C{k}", marker="o", ms=3,
                            capsize=2, alpha=1.0 if j == 0 else 0.4,
                            label=name if j == 0 else None)  # fmt: skip
        ax.axhline(math.log(256), color="grey", ls=":", lw=1, label="log(n/2): InfoNCE ceiling")
        ax.set_xlabel("training step")
        ax.set_title(f"{title} (seeds {', '.join(map(str, runs))}; faint: further seeds)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("held-out MI, trained InfoNCE critic [nats] (95 % CI)")
    return _save(fig, out, "p1_p2_heldout_mi_vs_step.png")


def _plot_p3(rows: list[dict[str, Any]], control: list[dict[str, Any]], out: Path) -> str:
    fig = Figure(figsize=(12, 4.4))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    allrows = rows + control
    for i, r in enumerate(allrows):
        colour = "C2" if r["predicted"] == "healthy" else "C3"
        ax1.scatter([i] * len(r["rankme"]), r["rankme"], color=colour, s=18,
                    marker="o" if r["matches"] else "x")  # fmt: skip
    ax1.axhline(5.0, color="k", lw=0.8, ls=":", label="RankMe 5 (healthy bar)")
    ax1.axhline(2.5, color="k", lw=0.8, ls="--", label="RankMe 2.5 (collapse)")
    ax1.axvline(len(rows) - 0.5, color="grey", lw=0.8)
    ax1.set_xticks(range(len(allrows)), [r["arm"].replace("sdmi ", "") for r in allrows],
                   rotation=60, ha="right", fontsize=7)  # fmt: skip
    ax1.set_yscale("log")
    ax1.set_ylabel("final RankMe (each seed)")
    ax1.set_title("P3 arms (green: predicted healthy, red: predicted collapse; × mismatch);\n"
                  "right of the line: control without stop-gradient")
    ax1.legend(fontsize=7)
    for m_step, colour in zip(M_STEPS, ("C0", "C1", "C4"), strict=True):
        sel = [r for r in rows if r["m_step"] == m_step]
        ax2.scatter([r["target_shift"] for r in sel],
                    [float(np.mean(r["embed_std_sqrt_d"])) for r in sel], color=colour,
                    label=f"{m_step} M-step")  # fmt: skip
    ax2.set_xlabel("target distance travelled ‖ξ_T − ξ_0‖/‖ξ_0‖ (mean over seeds)")
    ax2.set_ylabel("final embed_std·√d")
    ax2.set_yscale("log")
    ax2.set_title("Spread of z against how far the target moved\n(copy: the online network)")
    ax2.legend(fontsize=7)
    return _save(fig, out, "p3_arms.png")


#: what the quick report says of P3 (its long runs do not fit in two minutes)
P3_QUICK_NOTE = (f"P3 is decided in the full report: time to collapse over {collapse.SEEDS} "
                 f"seeds per arm, up to {collapse.HORIZON} steps "
                 "(`mitheory/claims/collapse.py`).\n")  # fmt: skip


def _p3_time_md(rows: list[dict[str, Any]], fig: str) -> str:
    """P3's time-to-collapse table (full report)."""

    def cell(r: dict[str, Any]) -> str:
        if not r["collapsed"]:
            return f"— (censored at {min(r['censored_at'])}–{max(r['censored_at'])})"
        lo, hi = r["interval"]
        median = "not reached" if r["median"] is None else f"{r['median']:.0f}"
        return f"{median} [{lo:.0f}, {'censored' if hi is None else f'{hi:.0f}'}]"

    lines = [
        f"| {r['m_step']} | {'on' if r['predictor'] else 'off'} | "
        f"{'on' if r['marginal'] else 'off'} | {'on' if r['stop_grad'] else '**off**'} | "
        f"{r['predicted']} | {r['collapsed']}/{r['seeds']} | {cell(r)} | "
        f"{', '.join('—' if t is None else str(t) for t in r['loose_times'])} | "
        f"{', '.join(f'{v:.2f}' for v in r['final_ratio'])} | "
        f"{min(r['reached'])}–{max(r['reached'])} / {min(r['travel']):.2f}–{max(r['travel']):.2f}"
        f" | {'yes' if r['matches'] else '**no**'} |"
        for r in rows
    ]
    cov = rows[0]["coverage"]
    return f"""
**P3: time to collapse** ({rows[0]['seeds']} seeds per arm, evaluations every
{collapse.EVERY} steps, `mitheory/claims/collapse.py`). The scale is the canonical arm's own
cos-DV MI at each step (median over its seeds, trained to {collapse.HORIZON} steps); a run has
collapsed at the step its cos-DV falls below {collapse.SHARE:g} of that and stays below
(≥ {collapse.STREAK} evaluations, to its end). Runs end at {collapse.HORIZON} steps, once their
target has travelled {collapse.TRAVEL:g}× its initial norm, or at a confirmed collapse. Median
step of collapse with an order-statistic interval (coverage {cov:.3f}); censored runs are
counted as later than every collapse.

| M-step | predictor | marginal | stop-grad | predicted | collapsed | steps to collapse, median \
[interval] | at {collapse.LOOSE_SHARE:g} of the scale, per seed | final cos-DV / scale | steps \
reached / travel | matches |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

![P3 time to collapse]({fig})

*Figure P3 (time). cos-DV MI of every arm over the canonical arm's at the same step (median over
seeds; the band spans the seeds); dotted: the collapse line {collapse.SHARE:g}.*
"""


def _plot_p3_time(runs: dict[str, list[Run]], reference: tuple[tuple[int, float], ...],
                  rows: list[dict[str, Any]], out: Path) -> str:  # fmt: skip
    fig = Figure(figsize=(9, 5))
    ax = fig.subplots()
    ref = dict(reference)
    for k, r in enumerate(rows):
        ratios: dict[int, list[float]] = {}
        for run in runs[r["arm"]]:
            for step, mi, _ in run["trace"]:
                if step >= collapse.EVERY and step in ref and ref[step] > 0:
                    ratios.setdefault(step, []).append(max(mi / ref[step], 1e-4))
        steps = sorted(ratios)
        colour = "C2" if r["predicted"] == "healthy" else "C3"
        ax.plot(steps, [np.median(ratios[s]) for s in steps], color=colour,
                ls="-" if r["stop_grad"] else ":", marker="os^vD<>ph*xP+"[k % 13], ms=3,
                label=r["arm"].replace("sdmi ", ""))  # fmt: skip
        ax.fill_between(steps, [min(ratios[s]) for s in steps], [max(ratios[s]) for s in steps],
                        color=colour, alpha=0.08)  # fmt: skip
    ax.axhline(collapse.SHARE, color="k", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cos-DV MI / canonical arm's (same step)")
    ax.set_title("P3: every arm against the setting's own scale (green: predicted healthy, "
                 "red: predicted collapse)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, out, "p3_time_to_collapse.png")


def _plot_p5(design: dict[str, Any], out: Path) -> str:
    table = design["table"]
    fig = Figure(figsize=(5.2 * len(table), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(table), sharey=True))
    for ax, (steps, row) in zip(axes, table.items(), strict=True):
        root_n = np.sqrt(np.asarray(row["seeds"], float))
        for k, m in enumerate(row["methods"]):
            ax.errorbar(row["mi"][k], row["acc"][k], xerr=Z95 * row["mi_sd"][k] / root_n[k],
                        yerr=Z95 * row["acc_sd"][k] / root_n[k], fmt="o", ms=5, capsize=2,
                        color=f"C{k % 10}", label=m)  # fmt: skip
        ax.set_title(f"{steps} steps: ρ = {design['strata'][steps]:+.2f}", fontsize=9)
        ax.set_xlabel("held-out MI of backbone features [nats], method mean")
    axes[0].set_ylabel("linear-probe accuracy, method mean")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"P5: mean ρ = {design['rho']:+.2f}, permutation p = {design['p']:.3f}, "
                 f"power(ρ = {accuracy.RHO_ALT}) = {design['power']:.2f}", fontsize=9)
    return _save(fig, out, "p5_mi_vs_accuracy.png")


def _p5_md(p5: Claim, data: dict[str, Any], fig: str) -> str:
    design = data["design"]
    rows = []
    for steps, row in design["table"].items():
        for k, m in enumerate(row["methods"]):
            n = row["seeds"][k]
            rows.append(f"| {steps} | {m} | {row['mi'][k]:.2f} ± {row['mi_sd'][k] / n**0.5:.2f} "
                        f"| {row['acc'][k]:.3f} ± {row['acc_sd'][k] / n**0.5:.3f} | {n} |")
    n_test = accuracy.probe_test_size()
    return f"""
**P5** — MI reached against downstream accuracy, at the level of methods: {design['methods']}
methods × training lengths {', '.join(map(str, design['lengths']))}, with ≥ {design['seeds']}
fresh seeds per (method, length) ({design['n_runs']} independent runs; within a length the
methods share their seeds' data sets). Per run: the held-out MI of the backbone features of two
views (trained InfoNCE critic) and the linear-probe accuracy on {n_test} test points (binomial
SE ≤ {accuracy.MAX_ACC_SE}). Per length, the Spearman ρ of the method means; their mean
ρ = {design['rho']:+.2f} (per length: {', '.join(f"{g} steps {r:+.2f}" for g, r in
design['strata'].items())}). One-sided permutation test between methods (accuracy ranks
permuted within each length): p = {design['p']:.3f}. Power of this design to detect a
method-level ρ = {accuracy.RHO_ALT} at α = {accuracy.ALPHA}, by simulating it (observed spread
of the method means, observed seed SDs, these seed counts): **{design['power']:.2f}** (a "fails"
needs {accuracy.REQUIRED_POWER}). Verdict: **{p5.verdict}**. Control (one factor, the relation):
{p5.control.what if p5.control else ''} → {p5.control.verdict if p5.control else ''}.

| length (steps) | method | MI [nats], mean ± SE | probe accuracy, mean ± SE | seeds |
|---|---|---|---|---|
{chr(10).join(rows)}

![P5]({fig})

*Figure P5. Method means of held-out MI against probe accuracy, one panel per training length
(error bars: 95 % intervals of the means over seeds).*
"""


# --------------------------------------------------------------------------- section


def _p1_rows(p1_data: dict[str, Any]) -> list[str]:
    """P1's factorial table: one row per (surrogate, removed mechanism) cell, then the controls."""
    rows = []
    named = (("marginal term", "marginal"), ("nothing (other seeds)", "seed"))
    controls = [{"row": "control", "removed": name, **p1_data["controls"][key]}
                for name, key in named]  # fmt: skip
    for c in [*p1_data["cells"], *controls]:
        label = c["row"] + (f" ({dict(P1_ROWS)[c['row']][0]})" if c["row"] in dict(P1_ROWS)
                            else "")  # fmt: skip
        if c["reading"] == "n/a":
            rows.append(f"| {label} | {c['removed']} | — | — | — | — | n/a: no such step in "
                        "this M-step | — |")  # fmt: skip
            continue
        d = np.asarray(c["differences"])
        base = float(np.mean(c["canonical"]))
        power = p1_data["power"].get(c["row"])
        rows.append(
            f"| {label} | {c['removed']} | {base:.2f} | {base + d.mean():.2f} | "
            f"{c['effect']:+.2f} [{c['bounds'][0]:+.2f}, {c['bounds'][1]:+.2f}] | "
            f"{c['margin']:.2f} | **{c['reading']}** | "
            + (f"{power['not_needed_at_0']:.2f} / {power['necessary_at_2margin']:.2f} |"
               if power else "— |"))  # fmt: skip
    return rows


def paradigm_section(
    quick: bool, seed: int, out: Path, sizes: ParadigmBudget | None = None,
    runner: Runner = train_run, progress: Callable[[str], None] | None = None,
    runs: dict[int, dict[str, Run]] | None = None, long_train: LongTrainer = train_seeds,
) -> Section:  # fmt: skip
    """The P1–P5 section; ``sizes`` overrides the budget, ``runner`` and ``long_train`` the
    training (tests) and ``runs`` the P1–P4 runs (:func:`collect_runs`, when the caller has
    them)."""
    b = sizes if sizes is not None else budget(quick)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if runs is None:
        runs = collect_runs(b, seed, runner, progress)
    every, runs = runs, main_runs(runs, b, seed)
    p1_seeds = [seed + k for k in b.p1_seeds]
    p1_runs = {s: every[s] for s in p1_seeds}
    canonical = arm_name("gradient", True, True)
    p1, p1_data = p1_claim(every, p1_seeds)
    invariance = [healthy(r["jmi −invariance"]["summary"]) for r in p1_runs.values()]
    p2, p2_data = rise_claim(
        "P2", (canonical, "jmi"), "jmi −invariance", (), p1_runs,
        what=f"jmi −invariance (its marginal term alone: a healthy objective, "
        f"{sum(invariance)}/{len(invariance)} seeds healthy, that does not ask the views to "
        "agree)")  # fmt: skip
    p4 = p4_claim(runs)
    rows = p3_arms(runs, P3_ARMS)
    control_rows = p3_arms(runs, P3_CONTROL_ARMS, stop_grad=False)
    figs = [_plot_rise(p1_runs, out), _plot_p3(rows, control_rows, out)]
    time_rows: list[dict[str, Any]] = []
    if b.p3_long:
        long_runs, reference = p3_long_runs(seed, long_train, progress)
        time_rows = p3_time_rows(long_runs, reference)
        seeds_p3 = tuple(seed + k for k in range(collapse.SEEDS))
        claims = [p1, p2, p3_time_claim(time_rows, seeds_p3), p4]
        figs.append(_plot_p3_time(long_runs, reference, time_rows, out))
    else:
        claims = [p1, p2, p4]
    data: dict[str, Any] = {
        "budget": {"seeds": list(runs), "steps": b.steps, "evals": b.evals,
                   "p5_steps": list(b.p5_steps), "estimator": MI_TRACKS[b.mi_track]},
        "p1_seeds": p1_seeds,
        "final": {s: {name: run["summary"] for name, run in r.items()} for s, r in every.items()},
        "heldout": {s: {name: run["heldout"] for name, run in r.items() if run["heldout"]}
                    for s, r in every.items()},
        "shift": {s: {name: run["shift"] for name, run in r.items()} for s, r in every.items()},
        "p1": p1_data, "p2": p2_data, "p3_arms": rows, "p3_control_arms": control_rows,
    }  # fmt: skip
    if time_rows:
        data["p3_time"] = {"reference": reference, "rows": time_rows}

    seeds = ", ".join(map(str, runs))
    rise_rows = []
    for name in (canonical, "jmi", "jmi −invariance"):
        cells = "; ".join(
            f"ρ {t['rho']:+.2f}, gain {t['gain']:+.2f} ± {t['gain_se']:.2f}, "
            f"{'pass' if t['pass'] else '**fail**'}" for t in p2_data["rules"][name])  # fmt: skip
        ends = "; ".join(f"{r[name]['heldout'][0]['mi']:.2f} → {r[name]['heldout'][-1]['mi']:.2f}"
                         for r in p1_runs.values())  # fmt: skip
        rise_rows.append(f"| {name} | {ends} | {cells} |")
    p1_rows = _p1_rows(p1_data)
    arm_rows = [
        f"| {r['m_step']} | {'on' if r['predictor'] else 'off'} | "
        f"{'on' if r['marginal'] else 'off'} | {'on' if r['stop_grad'] else '**off**'} | "
        f"{r['predicted']} | {r['collapsed_seeds']}/{r['seeds']} | "
        f"{', '.join(f'{v:.1f}' for v in r['rankme'])} | "
        f"{', '.join(f'{v:.2f}' for v in r['mi_cosdv'])} | {r['target_shift']:.2f} | "
        f"{'yes' if r['matches'] else '**no**'} |"
        for r in rows + control_rows
    ]
    p4_rows = []
    for name in ("jmi −marginal", *P4_SURROGATES, *(f"{m} −{a}" for m, a in P4_CONTROL)):
        ss = [r[name]["summary"] for r in runs.values()]
        rank = ", ".join(f"{s['effective_rank']:.1f}" for s in ss)
        spread = ", ".join(f"{s['embed_std'] * math.sqrt(s['embedding_dim']):.3f}" for s in ss)
        mi = ", ".join(f"{s['mi_cosdv']:.2f}" for s in ss)
        ok = ", ".join("yes" if healthy(s) else "no" for s in ss)
        p4_rows.append(f"| {name} | {rank} | {spread} | {mi} | {ok} |")
    md = f"""Training runs on the synthetic Gaussian mixture (`paradigms.training`, MLP backbone,
`TrainConfig` defaults: AdamW, lr 5·10⁻³, batch 128), seeds {seeds}, **{b.steps} steps for every
run** (one horizon: long enough for complete collapse and for the EMA target to move), 6
evaluations. Rules: `mitheory/claims/training.py` (module docstring); the register: `CLAIMS.md`.

| setting | value |
|---|---|
| data | gaussian-mixture (built-in), 512 fixed held-out pairs |
| optimizer | AdamW, lr 5·10⁻³, batch 128, {b.steps} steps |
| held-out MI | `estimators.estimate_mi`, {MI_TRACKS[b.mi_track]} (not the training loss) |
| SDMI | τ = 0.1, EMA τ_base = 0.99 (cosine to 1), predictor MLP |
| seeds | {seeds} (P1 and P2: {", ".join(map(str, p1_seeds))}) |

The MI read in P1 and P2 is a separately trained critic on held-out embeddings (the canonical
prototypes train on cos-DV).

**P1** — is each mechanism of SDMI necessary for its MI growth? Each row is a surrogate of the
marginal term in the M-step where its canonical arm is healthy; each cell removes one mechanism
(everything else, the step size included, unchanged) and compares the held-out MI reached
(mean of the last {REACHED_EVALS} read-outs) with the canonical run's, seed by seed
(`mitheory/claims/necessity.py`). Effect = mean paired difference with its one-sided 95 %
bounds; δ = {necessity.MARGIN_SHARE:g} × the row's canonical MI reached; power by
simulating the design ({len(p1_seeds)} seeds, σ = {p1_data["sigma"]:.3f} nats pooled).

| surrogate (M-step) | removed | canonical MI | without it | effect [bounds] | δ | reading | \
power (not needed / necessary) |
|---|---|---|---|---|---|---|---|
{chr(10).join(p1_rows)}

**P2** — held-out MI (first → last evaluation, per seed) and the rise rule on canonical SDMI and
JMI; the control is JMI with its invariance (joint) term removed, the marginal term alone.

| run | held-out MI, first → last | rule per seed |
|---|---|---|
{chr(10).join(rise_rows)}

![P1 and P2]({figs[0]})

*Figure P1/P2. Held-out MI (trained InfoNCE critic, 95 % CI) against training step; dotted: the
critic's log(n/2) ceiling. The cos-DV monitor's own ceiling is 2/τ = 20 nats; neither binds.*

**P3** — every arm of M-step × predictor × marginal (stop-gradient on), then the control arm
without stop-gradient. Prediction: healthy iff the marginal term is on, or the predictor is on
with a copy or EMA M-step (with a gradient M-step ξ ascends the joint term alone: T7).
{_p3_time_md(time_rows, figs[-1]) if time_rows else P3_QUICK_NOTE}
**P3 screen at {b.steps} steps** (the P1/P2/P7 runs; not the verdict: slow collapses need the
long horizon above). "collapsed" counts seeds that are not healthy (not collapsed, RankMe ≥ 5,
cos-DV ≥ 1); RankMe and cos-DV MI per seed; target travel ‖ξ_T − ξ_0‖/‖ξ_0‖ (copy: the online
network's own travel).

| M-step | predictor | marginal | stop-grad | predicted | collapsed | RankMe | cos-DV MI | \
target travel | matches |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(arm_rows)}

![P3]({figs[1]})

*Figure P3. Left: final RankMe of every seed per arm (green: predicted healthy, red: predicted
collapse, ×: the arm does not match). Right: spread of the target embedding against how far the
target travelled.*

**P4** — JMI without its marginal term, each surrogate, and (control) each surrogate with its
regularizer removed (values per seed):

| run | RankMe | embed_std·√d | cos-DV MI | healthy |
|---|---|---|---|---|
{chr(10).join(p4_rows)}
"""
    if b.p5_steps:
        points = p5_runs(b, seed, runner, progress)
        p5, p5_data = p5_claim(points, seed)
        claims.append(p5)
        figs.append(_plot_p5(p5_data["design"], out))
        data["p5"] = p5_data
        md += _p5_md(p5, p5_data, figs[-1])
    else:
        md += "\n**P5** is decided in the full report only (100 runs with held-out estimates).\n"
    md += "\nP6 (every method on real images) is not run in this report: see CLAIMS.md.\n"
    return Section("P1–P5 — training both paradigms on synthetic data", md, claims, figs, data)


def p7_records(runs: dict[int, dict[str, Run]], p7: predictor.PredictorPlan,
               steps: int) -> list[dict[str, Any]]:  # fmt: skip
    """P7's records (``predictor.record``) of every cell of the plan and every seed."""
    return [
        predictor.record(
            m, capacity, marginal, s, r[name]["summary"], r[name]["surrogate"], steps
        )
        for s, r in runs.items()
        for m, capacity, marginal in predictor.runs_of(p7)
        for name in [p7_run_name(m, capacity, marginal)]
    ]


def report_sections(quick: bool, seed: int, out: Path,
                    progress: Callable[[str], None] | None = None) -> list[Section]:
    """The P1–P5 and P7 sections from one set of runs (figures written into ``out``)."""
    b = budget(quick)
    runs = collect_runs(b, seed, progress=progress)
    sections = [paradigm_section(quick, seed, out, sizes=b, progress=progress, runs=runs)]
    if b.p7 is not None:
        main = main_runs(runs, b, seed)
        records = p7_records(main, b.p7, b.steps)
        frozen = [predictor.record(predictor.FROZEN_M_STEP, c, False, s, r[name]["summary"],
                                   r[name]["surrogate"], b.steps)
                  for s, r in main.items() for c in b.p7.frozen
                  for name in [p7_frozen_name(c)]]  # fmt: skip
        sections.append(predictor.predictor_section(records, b.p7, b.steps, seed, Path(out),
                                                    frozen))  # fmt: skip
    return sections
