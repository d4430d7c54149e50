"""The claims register: every claim's id, kind, text, how its verdict is decided, the family
module whose experiment decides it and the pytest node id that asserts it.

Kinds: ``identity`` (an algebraic identity checked numerically or symbolically), ``theorem`` (a
proved statement checked numerically: a software check, not evidence for the paper) and
``empirical`` (a measured statement about data or training whose verdict can come out either way;
a negative control in the same run shows that it can). A theorem's check may carry a control too
(E3, T5: the same rule on a case the mathematics says it must reject), which shows the check can
fail; it is not evidence. ``CLAIMS.md`` at the repository root is
rendered from this module (``python -m mitheory.claims.register > CLAIMS.md``; a test keeps the
two equal).

``expected`` is the verdict the quick report (``mitheory report --quick``, seed 0) reaches (the
full report for ``full_only`` claims). ``pytest verification/`` reads as the verdict table: the
verification test of a claim that holds passes, that of a claim that fails, is partial or is
undecided is a strict xfail, and either fails when the experiment no longer reaches ``expected``
or its control no longer reaches the opposite verdict, so a change of finding is a failing test,
not a silent edit (``verification/conftest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("identity", "theorem", "empirical")
#: the family modules of ``mitheory.claims``, in register order
FAMILIES = ("estimation", "gaussian", "nonconcave", "surrogate_error", "training", "modalities",
            "nuisance")  # fmt: skip
#: the order in which the report starts the families (``mitheory.report``): those whose runs go
#: to worker processes first, so the workers are busy while the others compute in the report;
#: T8's first (its tanh ladder is the quick report's longest single job: queued behind the
#: training runs it was the last to finish, 100 s instead of 91)
START_ORDER = ("nonconcave", "training", "modalities", "nuisance", "gaussian", "estimation",
               "surrogate_error")


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    kind: str
    text: str
    decided: str
    family: str | None  # None: no experiment of the report decides it yet
    test: str
    expected: str | None = None  # the report's verdict; None where the report does not run it
    full_only: bool = False  # decided by the full report only (``expected`` is its verdict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


_V = "verification/"
_SPECS = (
    ClaimSpec(
        "E1", "theorem", "InfoNCE(S) ≤ log N for every score matrix S",
        "max of InfoNCE − log N over random and adversarial float64 score matrices must be ≤ 0",
        "estimation", _V + "test_estimator_bounds.py::test_E1_verdict", "holds"),
    ClaimSpec(
        "E2", "theorem", "DV(S) ≥ NWJ(S) for every S (same critic)",
        "min of DV − NWJ over the same matrices must be ≥ −(float64 rounding allowance)",
        "estimation", _V + "test_estimator_bounds.py::test_E2_verdict", "holds"),
    ClaimSpec(
        "E3", "theorem",
        "With the exact optimal critic on correlated Gaussians: NWJ unbiased; InfoNCE saturates "
        "at log N; DV's finite-batch bias as predicted",
        "per batch size N: |mean NWJ − I| ≤ z·SE, |DV bias − Var(m̂)/2| ≤ z·SE + third-order term, "
        "InfoNCE ≤ log N closing < 1 % of the gap to I (z Bonferroni, family-wise 1 %); the check "
        "can fail: the same rule on the optimal critic scaled by ½ (not optimal), InfoNCE at "
        "I < log N",
        "estimation", _V + "test_estimator_bounds.py::test_E3_verdict", "holds"),
    ClaimSpec(
        "E4", "empirical",
        "Trained estimators recover known MI on the ground-truth task set within stated "
        "tolerances",
        "per task, some estimator other than the Gaussian plug-in within 0.10·I + 3 SE, with the "
        "smallest bias the rule flags at power 0.8, (0.10·I + 3.84 SE)/I, stated; control: the "
        "same rule scored against the MI of Y shuffled (truth 0), which must fail",
        "estimation", _V + "test_estimator_tasks.py::test_E4_verdict", "partial"),
    ClaimSpec(
        "E5", "empirical",
        "Estimates are invariant (within tolerance) under MI-preserving transforms, including "
        "maps that mix coordinates",
        "|Î − Î_f| ≤ 0.10·I + 3·SE_d for every (task, transform) pair, SE_d the paired SE of "
        "the difference (KSG's subsampling SE on the same blocks of rows); the smallest MI change "
        "the rule flags with power 0.8 is stated; control: the same rule under X + N(0, I), "
        "which lowers the MI",
        "estimation", _V + "test_estimator_tasks.py::test_E5_verdict", "holds"),
    ClaimSpec(
        "T1", "theorem",
        "Population DV value of any bilinear critic ≤ true MI (Gaussian, closed form)",
        "min over random problems and critics of I − DV(W) must be ≥ 0, and the closed-form "
        "marginal term must match Monte Carlo",
        "gaussian", _V + "test_gaussian_theory.py::test_T1_verdict", "holds"),
    ClaimSpec(
        "T2", "theorem",
        "Alternating block-gradient ascent with step below 1/L never decreases the population DV "
        "objective",
        "worst change of the population DV over block steps of size < 1/L must be ≥ −rounding",
        "gaussian", _V + "test_alternating.py::test_T2_verdict", "holds"),
    ClaimSpec(
        "T3", "identity",
        "Taylor-DV error under Gaussian data equals the closed form and is O(s⁴)",
        "fitted log-log slope of the error against the critic scale s within 0.2 of 4",
        "gaussian", _V + "test_gaussian_theory.py::test_T3_verdict", "holds"),
    ClaimSpec(
        "T4", "identity",
        "Isserlis holds symbolically (4th, 6th order) and on Gaussian samples; its violation on "
        "non-Gaussian data equals the 4th joint cumulant",
        "symbolic derivation, and max |z| of sample 4th cumulants against the closed form below "
        "the Bonferroni bound (family-wise 1 %)",
        "surrogate_error", _V + "test_isserlis.py::test_T4_verdict", "holds"),
    ClaimSpec(
        "T5", "theorem",
        "Taylor-DV error under non-Gaussian data, as the mathematics gives it: whether the "
        "marginal term is finite is set by the tails (not the kurtosis); for symmetric i.i.d. "
        "sources the small-scale error ratio grows as 1 + aκ + bκ²; skewness enters at O(s³); "
        "computed across critic scales up to each family's finiteness limit",
        "three parts, each a check: (tails) families of equal kurtosis split into finite and "
        "infinite M by their tails; (kurtosis) the quadratic 1 + aκ + bκ² fits the small-scale "
        "ratios of the symmetric families within 5 %; (skew) the log-log slope of the error of "
        "skewed families at small s is 3 ± 0.3, of symmetric ones 4 ± 0.3; the check can fail: "
        "the kurtosis rule on the skewed families, which it must not fit",
        "surrogate_error", _V + "test_surrogate_error.py::test_T5_verdict", "holds"),
    ClaimSpec(
        "T6", "identity",
        "Taylor-DV reduces to a Barlow-Twins-form loss under the stated assumptions; the "
        "reduction does not identify λ (the off-diagonal weight is s/2 against the linear "
        "invariance term); residual measured when relaxed",
        "max |L_TDV − (Barlow form)| on aligned float64 batches ≤ 1e-9 and the λ ↔ s map "
        "λ = s/2 reproduced numerically; the relaxed residuals are reported with intervals",
        "surrogate_error", _V + "test_barlow_reduction.py::test_T6_verdict", "holds"),
    ClaimSpec(
        "T7", "theorem", "The joint term alone is maximized by a constant encoder (collapse)",
        "J ≤ 1/τ attained by a constant encoder, and ascent on J alone collapses the embedding",
        "gaussian", _V + "test_collapse_theory.py::test_T7_verdict", "holds"),
    ClaimSpec(
        "T8", "empirical",
        "With non-concave critics and encoders, over whole runs with the real optimizer (AdamW, "
        "minibatches), alternating block ascent stays monotone at least as far up the learning "
        "rate as simultaneous steps (the paper: alternation makes SDMI a monotone block "
        "coordinate ascent)",
        "cosine critic, MLP encoders (tanh decides; ReLU runs, monotone under either scheme, are "
        "reported beside), 300 AdamW steps per block on minibatches of 64, "
        "alternating vs simultaneous (M-step gradient at the new vs the old θ) at the same rates "
        "f·η_L, f ∈ {1, 4, …, 1024}, η_L the measured curvature bound; a run is monotone when the "
        "held-out DV never drops below its running max by > 1.96 SE of that max; per seed "
        "Δ = (monotone rungs, alternating) − (simultaneous), mean over the tanh seeds: "
        "holds when its one-sided 95 % lower bound > −1 rung, fails when the upper bound < −1; "
        "the monotone range f_alt, f_sim is reported; control (one factor): the alternating "
        "arm's learning rate ×64 (its runs three rungs up the ladder, same seeds and minibatches)",
        "nonconcave", _V + "test_nonconcave.py::test_T8_verdict", "holds"),
    ClaimSpec(
        "P1", "empirical",
        "Alternation and stop-gradient are each necessary for SDMI's MI growth (mechanism 1), "
        "compared with the explicit marginal term and with the predictor alone as its surrogate",
        "{explicit marginal (gradient M-step), predictor only (copy M-step)} × {−alternating, "
        "−stop-grad}, one mechanism removed per cell: the held-out MI reached (trained InfoNCE "
        "critic, mean of the last 3 read-outs) against the canonical run's, paired by seed; "
        "necessary when the one-sided 95 % upper bound of the effect < −δ, not needed when its "
        "lower bound > −δ (δ = 0.1 × the row's canonical MI), power by simulating the design; "
        "holds when every cell is necessary, fails when none is, partial when both occur; "
        "control (one factor): the canonical run under other seeds on the same data (null: must "
        "read not needed), or, against a failing claim, the marginal term removed (T7: must read "
        "necessary)",
        "training", _V + "test_paradigms.py::test_P1_verdict", "partial"),
    ClaimSpec(
        "P2", "empirical",
        "Canonical SDMI and JMI: MI, read by an estimator other than the training objective, "
        "grows near-monotonically",
        "per seed, MI of held-out embeddings read by a trained InfoNCE critic (estimators, not "
        "the cos-DV loss): gain first → last > 3 SE and no drop between evaluations beyond 3 SE, "
        "on every seed of both runs; control (one factor): JMI without its invariance term (the "
        "marginal term alone, a healthy objective that does not ask the views to agree)",
        "training", _V + "test_paradigms.py::test_P2_verdict", "holds"),
    ClaimSpec(
        "P3", "empirical",
        "SDMI collapse without the marginal term, over M-step {gradient, copy, EMA} × predictor "
        "{on, off} × marginal {on, off}; without stop-gradient",
        "time to collapse per arm, 5 seeds, up to 3000 steps or until the target has travelled "
        "its initial norm: a run has collapsed when its cos-DV MI stays below 0.1 × the "
        "canonical arm's at the same step (the setting's own scale) for ≥ 3 evaluations to its "
        "end; the theory's prediction per arm (healthy iff the marginal term is on, or the "
        "predictor is on with an M-step that ties ξ to θ: copy, EMA; with a gradient M-step and "
        "no marginal term ξ ascends the joint term alone, T7) against every seed; holds when all "
        "12 arms match, partial when some do; control: the copy arm with predictor, without "
        "stop-gradient, where the prediction must fail",
        "training", _V + "test_paradigms.py::test_P3_verdict", "holds", full_only=True),
    ClaimSpec(
        "P4", "empirical",
        "JMI without a regularizer collapses; with each surrogate it does not",
        "JMI −marginal collapses completely and jmi, jmi-taylor, barlow, vicreg, simclr are "
        "healthy on every seed; control: the same health rule on those methods with their "
        "regularizer ablated",
        "training", _V + "test_paradigms.py::test_P4_verdict", "holds"),
    ClaimSpec(
        "P5", "empirical",
        "MI reached vs downstream accuracy across methods (open question 2), with the design's "
        "power stated",
        "10 methods × 2 training lengths × 5 independent seeds per (method, length), fresh seeds "
        "per length, shared by the methods within a length (block design); per run the held-out "
        "MI of the backbone features (trained InfoNCE critic) and the linear-probe accuracy on "
        "5103 test points (SE ≤ 0.007); per length the Spearman ρ of the method means, averaged "
        "over lengths; one-sided permutation test between methods (accuracy ranks permuted "
        "within lengths): holds when p < 0.05; otherwise fails when the simulated power of this "
        "design (observed spread, block-residual seed SDs, persistence of the methods across "
        "lengths) to detect ρ = 0.5 is ≥ 0.8, else undecided; control (one factor, the "
        "relation; seed noise kept): each method's accuracies moved onto a permuted method's "
        "level (must not reject), or, against a claim that does not hold, onto the level its MI "
        "rank gives (must hold)",
        "training", _V + "test_paradigms.py::test_P5_verdict", "holds", full_only=True),
    ClaimSpec(
        "P6", "empirical",
        "Every method trains on real images without collapse and well above its random-init "
        "probe",
        "per method over 3 seeds on Fashion-MNIST: mean paired probe gain > 3 SE, every seed "
        "gains, no collapse (benchmarks/p6_fashion_mnist.py); not run by the report", None,
        _V + "test_images.py::test_P6_vicreg_beats_random_init_on_fashion_mnist"),
    ClaimSpec(
        "P7", "empirical",
        "The SDMI predictor as surrogate of the marginal term: capacity sweep, and the alignment "
        "of its E-step gradient with the full DV gradient along training",
        "canonical SDMI, marginal off, predictor none / linear rank r / MLP width w, per M-step "
        "that ties ξ to θ (copy; EMA in the full report): Spearman ρ of capacity and of "
        "gradient alignment cos(∇J, ∇DV) with the DV reached (DV of the target embeddings, no "
        "predictor, relative to the explicit-marginal run) > 0 at permutation p < 0.05, and "
        "every non-collapsed predictor gains ≥ 0.1 relative DV over no predictor; control (one "
        "factor, the predictor's training): the same checks on the same capacities frozen at "
        "their random initialization (copy M-step)",
        "training", _V + "test_predictor.py::test_P7_verdict", "partial"),
    ClaimSpec(
        "P8", "empirical",
        "P1–P4 on a non-image modality and on two modalities with asymmetric encoders (open "
        "question 1)",
        "two settings, token sequences (order-only classes, 1-D CNN) and a continuous view "
        "paired with a bag of tokens (MLP against EmbeddingBag, exact I(X_A; X_B)), 3 "
        "independent seeds, each through the P1–P4 plan with P1–P4's rules, their cos-DV bars on "
        "the setting's own scale (healthy from 0.1 × the exact I(X_A; X_B), or × the canonical "
        "SDMI arm's median cos-DV for the sequences; complete collapse under 1/20 of that), plus "
        "every other registry method and ablation against 'healthy iff a marginal term or a "
        "predictor is left and stop-gradient is on'; "
        "holds when all 10 sub-claims hold, partial when some do; control: the sub-claims' own "
        "controls, which must not hold",
        "modalities", _V + "test_modalities.py::test_P8_verdict", "partial", full_only=True),
    ClaimSpec(
        "P9", "empirical",
        "A nuisance factor the two views share raises their MI while lowering linear-probe "
        "accuracy (open question 2: why high MI need not give high accuracy)",
        "views = [label part μ_y + noise, nuisance part s·u + noise] with I(X_A; X_B) known per "
        "part (nuisance: closed-form log-det; label: Monte Carlo, ≤ log K); per method (SDMI, "
        "JMI; SimCLR in the full report), nuisance strengths s ∋ 0, ≥ 3 seeds per cell, a "
        "width-8 MLP backbone; on the backbone features of held-out views: view MI (trained "
        "InfoNCE critic), I(Z; label) (mixed KSG), I(Z; nuisance) (KSG), linear-probe "
        "accuracy; least-squares trend over strengths and seeds with one-sided 95 % t bounds: "
        "a method passes when view MI rises by more than 0.1 × the shared nuisance MI at s_max "
        "and accuracy falls by more than 0.1 × (Bayes accuracy − 1/K); holds when every method "
        "passes, fails when none does; control (one factor: sharing): the same rule with the "
        "nuisance drawn apart for each view, same per-view law",
        "nuisance", _V + "test_nuisance.py::test_P9_verdict", "holds"),
)  # fmt: skip
REGISTER: dict[str, ClaimSpec] = {spec.id: spec for spec in _SPECS}


def claim_order(claim_id: str) -> int:
    """Position of a claim id in the register (unknown ids raise ``KeyError``)."""
    return list(REGISTER).index(claim_id)


def render_markdown() -> str:
    """CLAIMS.md: the register as a document a user of the repository can read."""
    lines = [
        "# Claims register",
        "",
        "Every claim that `mitheory report` decides and `pytest verification/` asserts, with its "
        "kind and how its verdict is computed. In `pytest verification/` a claim that holds "
        "passes and one that fails, is partial or is undecided is a strict xfail; a verdict "
        "other than the one below fails. Generated from `mitheory/claims/register.py` "
        "(`python -m mitheory.claims.register > CLAIMS.md`); do not edit by hand.",
        "",
        "Kinds: **identity** — an algebraic identity checked numerically or symbolically; "
        "**theorem** — a proved statement checked numerically (a software check, not evidence "
        "for the paper); **empirical** — a measured statement whose verdict can come out either "
        "way, shown by a negative control in the same run (the same rule on a case built to "
        "violate the claim must reach the opposite verdict). Verdicts: holds, fails, partial, "
        "undecided. All information values are in nats.",
        "",
        "| id | kind | claim | how it is decided | asserted by | report verdict (quick) |",
        "|---|---|---|---|---|---|",
    ]
    for s in _SPECS:
        verdict = (s.expected or "not run by the report") + (" (full)" if s.full_only else "")
        test = f"`{s.test}`" if s.test else "—"
        lines.append(f"| {s.id} | {s.kind} | {s.text} | {s.decided} | {test} | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
