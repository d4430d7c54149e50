"""The claims package: one module per claim family, each the experiment that decides its claims.

- ``estimation``: E1–E5 (bounds on score matrices, the optimal critic, the known-MI task set);
- ``gaussian``: T1, T2, T3, T7 (Gaussian closed forms, alternating ascent, collapse);
- ``nonconcave``: T8 (whole AdamW runs with cosine critics and MLP encoders, alternating vs
  simultaneous block ascent; the single-step local-curvature probe as a detail);
- ``surrogate_error``: T4, T5, T6 (Isserlis, the Taylor-DV error off Gaussianity, Barlow Twins);
- ``training``: P1–P5 and P7 (short training runs through ``paradigms``, imported only while it
  runs; P7's probe, rule and section are in ``predictor``, its runs are shared with P3);
- ``modalities``: P8 (P1–P4 on token sequences and on two modalities, full report only);
- ``nuisance``: P9 (a nuisance factor shared by the views: view MI against probe accuracy, open
  question 2).

Each family module has ``report_sections(quick, seed, out) -> list[Section]``; every ``Claim`` in
those sections is computed from the numbers of the run (no verdict is a literal). The report
(``mitheory.report``) renders them and ``pytest verification/`` asserts them through
:func:`evaluate`, so the two cannot disagree. The register (text, kind, rule, test) is
``mitheory.claims.register``. This package belongs to the report layer: it may import
``estimators`` and (lazily) ``paradigms``; the theory modules of ``mitheory`` import nothing of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from mitheory.claims.register import FAMILIES, REGISTER, START_ORDER, ClaimSpec
from mitheory.claims.result import VERDICTS, Claim, Control, Section, opposite, verdict_of

Builder = Callable[..., list[Section]]

#: progress labels of the families (report order)
LABELS = {"estimation": "E1–E5", "gaussian": "T1–T3, T7", "nonconcave": "T8",
          "surrogate_error": "T4–T6", "training": "P1–P5, P7", "modalities": "P8",
          "nuisance": "P9"}  # fmt: skip


def builder(family: str) -> Builder:
    """``report_sections`` of a family module (imported on demand)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown claim family {family!r}; expected one of {', '.join(FAMILIES)}")
    return importlib.import_module(f"mitheory.claims.{family}").report_sections


def evaluate(
    family: str, *, quick: bool, seed: int, out: Path, progress: Callable[[str], None] | None = None
) -> list[Section]:
    """Run one family's experiments (figures into ``out``) and return its sections."""
    return builder(family)(quick, seed, Path(out), progress=progress)


__all__ = [
    "FAMILIES",
    "LABELS",
    "REGISTER",
    "START_ORDER",
    "VERDICTS",
    "Claim",
    "ClaimSpec",
    "Control",
    "Section",
    "builder",
    "evaluate",
    "opposite",
    "verdict_of",
]
