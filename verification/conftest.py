"""Shared claim results for the verification suite, and the suite as the verdict table.

Every ``test_<ID>_verdict`` hands the claim that its one implementation (``mitheory.claims``)
reaches in the quick-report budget, seed 0 — the same call that ``mitheory report --quick``
renders — to :func:`check_claim`. That asserts the register's recorded verdict (a test whose
verdict differs from the report's fails) and a control that reaches the opposite verdict where
the claim has one (every empirical claim must); then a claim that holds passes and one that fails,
is partial or is undecided raises :class:`ClaimDoesNotHold`. The register's verdict test of such a
claim carries a strict ``xfail`` for exactly that exception (:func:`pytest_collection_modifyitems`),
so the xfailed count of the summary line is the number of claims that do not hold (the verdict
tests of the others pass), and a change of verdict in either direction is a failure. Each family
runs once per session (cached); its figures go to a temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from mitheory import claims
from mitheory.claims.register import REGISTER, ClaimSpec


class ClaimDoesNotHold(Exception):
    """Raised by :func:`check_claim` for a claim whose (agreed) verdict is not ``holds``."""


def _short(spec: ClaimSpec, width: int = 72) -> str:
    return spec.text if len(spec.text) <= width else spec.text[: width - 1].rstrip() + "…"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The verdict test of every claim the register records as not holding is a strict xfail
    that only :class:`ClaimDoesNotHold` satisfies: any other failure (the report and the suite
    disagree, the control does not discriminate) stays a failure, and a pass is an XPASS, which
    strict turns into a failure."""
    tests = {spec.test: spec for spec in REGISTER.values() if spec.expected not in (None, "holds")}
    for item in items:
        spec = tests.get(item.nodeid)
        if spec is not None:
            item.add_marker(pytest.mark.xfail(
                strict=True, raises=ClaimDoesNotHold,
                reason=f"{spec.id} {spec.expected}: {_short(spec)}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """An xfailed verdict test reports the measured figure too: its reason becomes the message
    of the :class:`ClaimDoesNotHold` that :func:`check_claim` raised."""
    report = yield
    if getattr(report, "wasxfail", None) and call.excinfo is not None \
            and call.excinfo.errisinstance(ClaimDoesNotHold):
        report.wasxfail = str(call.excinfo.value)
    return report


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


def quick_claim(claim_id: str) -> claims.Claim:
    """The claim as the quick report (seed 0) decides it."""
    return family_claims(REGISTER[claim_id].family)[claim_id]


def check_claim(claim: str | claims.Claim) -> None:
    """The verdict-table outcome of one claim (an id: its quick-report result; or a result the
    test computed, e.g. the full-report P5 and P8): fail unless the verdict is the register's and
    the control, where there is one, reaches the opposite verdict; then pass if the claim holds,
    else raise :class:`ClaimDoesNotHold` with the claim's id, verdict, text and figure."""
    if isinstance(claim, str):
        claim = quick_claim(claim)
    spec = REGISTER[claim.id]
    assert claim.verdict == spec.expected, (
        f"{claim.id}: the suite computes {claim.verdict!r}, the register and report record "
        f"{spec.expected!r}: {claim.detail}")
    if spec.kind == "empirical":
        assert claim.control is not None, f"{claim.id} has no negative control"
    if claim.control is not None:
        assert claim.control_discriminates, (claim.verdict, claim.control)
    if claim.verdict != "holds":
        raise ClaimDoesNotHold(f"{claim.id} {claim.verdict}: {_short(spec)} "
                               f"(figure {claim.figure:.4g})")


@pytest.fixture
def claim_check() -> Callable[[str | claims.Claim], None]:
    return check_claim


@pytest.fixture
def claim_result() -> Callable[[str], claims.Claim]:
    """``claim_result(id)``: the quick-report claim, for checks of its finding before
    ``claim_check``."""
    return quick_claim


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
