"""The report and the suite cannot disagree: ``mitheory report --quick`` renders the very claim
results that ``test_<ID>_verdict`` asserts (one implementation, ``mitheory.claims``), and
results.json carries each claim's register fields and a discriminating control."""

from __future__ import annotations

import json
import shutil

from mitheory import claims, report
from mitheory.claims import training as tr
from mitheory.claims.register import REGISTER
from mitheory.claims.result import opposite


def test_report_renders_the_verdicts_that_verification_asserts(tmp_path, monkeypatch,
                                                                cached_family) -> None:
    def builder(family):
        def build(quick, seed, out, progress=None):
            sections, folder = cached_family(family)
            for s in sections:
                for name in s.figures:
                    shutil.copy(folder / name, out / name)
            return list(sections)

        return build

    monkeypatch.setattr(report, "_builders",
                        lambda: [(claims.LABELS[f], builder(f)) for f in claims.FAMILIES])
    report.run_report(tmp_path, quick=True, seed=0, progress=False)
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    decided = {c["id"]: c for c in results["claims"]}
    expected = {s.id for s in REGISTER.values() if s.family is not None and not s.full_only}
    assert set(decided) == expected
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for cid, c in decided.items():
        spec = REGISTER[cid]
        assert c["verdict"] == spec.expected, (cid, c["verdict"], c["detail"])
        assert (c["text"], c["kind"], c["test"]) == (spec.text, spec.kind, spec.test)
        assert f"| {cid} | {spec.kind} |" in md and f"**{c['verdict']}**" in md
        assert "control" in c or spec.kind != "empirical", cid
        if "control" in c:  # every empirical claim; a theorem's check that can fail (E3, T5)
            assert c["control"]["verdict"] == opposite(c["verdict"]), (cid, c["control"])
    # P3 is decided by the full report (time to collapse); quick lists it and shows its screen
    assert "P3 (full report only)" in md and "P3 screen at 300 steps" in md
    assert "## Findings" in md and "P3: decided in the full report." in md
    cells = decided["P1"]["cells"]
    assert {(c["row"], c["removed"]) for c in cells} == {
        (row, m) for row, _ in tr.P1_ROWS for m in tr.P1_MECHANISMS}
