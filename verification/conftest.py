"""Shared claim results for the verification suite.

Every ``test_<ID>_verdict`` asserts the verdict that the claim's one implementation
(``mitheory.claims``) reaches in the quick-report budget, seed 0 — the same call that
``mitheory report --quick`` renders — against the register's recorded finding, and that the
negative control of every empirical claim reaches the opposite verdict. Each family runs once per
session (cached); its figures go to a temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from mitheory import claims
from mitheory.claims.register import REGISTER


@functools.cache
def family_sections(family: str) -> tuple[claims.Section, ...]:
    """The family's quick-report sections, seed 0; figures stay in :func:`figure_folder`."""
    return tuple(claims.evaluate(family, quick=True, seed=0, out=figure_folder(family)))


@functools.cache
def figure_folder(family: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"claims-{family}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def family_claims(family: str) -> dict[str, claims.Claim]:
    return {c.id: c for s in family_sections(family) for c in s.claims}


def check_claim(claim_id: str) -> claims.Claim:
    """Assert the register's recorded verdict and, for empirical claims, a control that reaches
    the opposite verdict; returns the claim for further checks."""
    spec = REGISTER[claim_id]
    claim = family_claims(spec.family)[claim_id]
    assert claim.verdict == spec.expected, (claim.verdict, claim.detail)
    if spec.kind == "empirical":
        assert claim.control is not None, f"{claim_id} has no negative control"
        assert claim.control_discriminates, (claim.verdict, claim.control)
    return claim


@pytest.fixture
def claim_check():
    return check_claim


@pytest.fixture
def section_data():
    """``section_data(family)``: the merged ``data`` of that family's quick-report sections."""

    def get(family: str) -> dict:
        merged: dict = {}
        for s in family_sections(family):
            merged.update(s.data)
        return merged

    return get


@pytest.fixture
def cached_family():
    """``cached_family(family)``: (sections, figure folder) of the quick-report run above."""
    return lambda family: (family_sections(family), figure_folder(family))
