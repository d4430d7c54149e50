"""The ``--ablate`` switches: each name switches one component of a method off (DESIGN.md §5).

- ``predictor``: the online branch's predictor head (SDMI methods that have one).
- ``marginal``: the explicit marginal term (DV / InfoNCE negatives); the joint term is kept.
- ``stop-grad``: the stop-gradient on the target branch (SDMI methods whose target gets gradients
  or is the online network itself).
- ``regularizer``: a JMI surrogate of the marginal term (Taylor-DV second-order term, Barlow Twins
  redundancy term, VICReg variance + covariance terms); the joint (invariance) term is kept.
- ``invariance``: the joint (invariance) term of a JMI objective (the DV joint term, VICReg's
  invariance MSE); the marginal term or its surrogate is kept: a healthy objective that does not
  ask the two views to agree (claim P2's control).
- ``alternating``: the E-step and M-step are taken simultaneously from the same point instead of
  one after the other (SDMI with a gradient M-step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ABLATIONS = ("predictor", "marginal", "stop-grad", "regularizer", "invariance", "alternating")


def parse_ablations(spec: str | Iterable[str]) -> frozenset[str]:
    """Names from a comma-separated string (or an iterable of names); unknown names are rejected."""
    if isinstance(spec, str):
        names = [part.strip() for part in spec.split(",")]
    else:
        names = [str(part).strip() for part in spec]
    names = [name for name in names if name]
    unknown = sorted(set(names) - set(ABLATIONS))
    if unknown:
        raise ValueError(
            f"unknown ablation(s) {', '.join(map(repr, unknown))}; expected a comma-separated list "
            f"of: {', '.join(ABLATIONS)}"
        )
    return frozenset(names)


def check_applicable(
    method: str,
    ablate: frozenset[str],
    applicable: frozenset[str],
    options: Mapping[str, object] | None = None,
) -> None:
    """Raise ``ValueError`` if ``ablate`` names a component that ``method`` does not have, or one
    whose removal would not change the update under the method's ``options`` (e.g. ``stop-grad``
    with an EMA target, which no gradient reaches)."""
    unknown = sorted(ablate - set(ABLATIONS))
    if unknown:
        raise ValueError(
            f"unknown ablation(s) {', '.join(map(repr, unknown))}; expected: {', '.join(ABLATIONS)}"
        )
    wrong = sorted(ablate - applicable)
    if wrong:
        allowed = ", ".join(sorted(applicable)) or "none"
        where = "".join(f" with {k}={v!r}" for k, v in sorted((options or {}).items()))
        raise ValueError(
            f"ablation(s) {', '.join(map(repr, wrong))} do not apply to method {method!r}{where} "
            f"(it has no such component, or removing it would not change the update); "
            f"applicable to {method!r}{where}: {allowed}"
        )
