"""The pieces a report section hands to the report writer (``mitheory.report``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("holds", "fails", "partial")


@dataclass(frozen=True)
class Claim:
    """One row of the claims table: claim id (DESIGN.md §4), verdict, the number behind it."""

    id: str
    verdict: str
    figure: float
    detail: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "figure": float(self.figure),
            "detail": self.detail,
        }


@dataclass
class Section:
    """A titled block of report.md with its claims, figures (file names in the output folder) and
    the raw numbers that go to results.json under ``data``."""

    title: str
    markdown: str
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
