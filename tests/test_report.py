"""The report writer: files, results.json schema, figure references, atomic and clean re-runs.

The default tests drive ``run_report`` with small stand-in sections (the writer's behaviour does
not depend on what a section computes); the real ``mitheory report --quick`` run is marked slow.
"""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from estimators.atomic import atomic_savefig
from mitheory import report
from mitheory.claims.register import REGISTER, render_markdown
from mitheory.claims.result import VERDICTS, Claim, Control, Section
from mitheory.cli import main


def _section(name: str, claim_id: str, value: float):
    def build(quick, seed, out, progress=None):
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot([0, 1], [0, value])
        atomic_savefig(fig, Path(out) / f"{name}.png")
        return [
            Section(
                title=f"section {name}",
                markdown=f"text with ![f]({name}.png) seed={seed} quick={quick}",
                claims=[Claim(claim_id, "holds", value, "stand-in",
                              control=Control("stand-in control", "fails"))],
                figures=[f"{name}.png"],
                data={"value": value, "seed": seed},
            )
        ]

    return build


@pytest.fixture
def fake_sections(monkeypatch):
    """Replace the section list; returns a setter for the builders of the next run."""
    state = {"builders": [("A", _section("fig_a", "T1", 1.5)), ("B", _section("fig_b", "T3", 4.0))]}
    monkeypatch.setattr(report, "_builders", lambda: state["builders"])
    return state


def _referenced_figures(md: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)


def test_writes_report_results_and_figures(tmp_path, fake_sections):
    results = report.run_report(tmp_path, quick=True, seed=3, progress=False)
    md = (tmp_path / "report.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == results
    assert [c["id"] for c in on_disk["claims"]] == ["T1", "T3"]
    for c in on_disk["claims"]:
        assert c["verdict"] in VERDICTS and math.isfinite(c["figure"])
    assert sorted(on_disk["files"]) == ["fig_a.png", "fig_b.png", "report.md", "results.json"]
    assert on_disk["sections"][0]["data"] == {"value": 1.5, "seed": 3}
    figures = _referenced_figures(md)
    assert figures == ["fig_a.png", "fig_b.png"]
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in figures)
    assert "| T1 | theorem | " in md and "| **holds** | 1.5 — stand-in |" in md  # claims table


def test_rerun_removes_stale_figures_but_keeps_foreign_files(tmp_path, fake_sections):
    report.run_report(tmp_path, progress=False)
    (tmp_path / "notes.txt").write_text("mine")
    fake_sections["builders"] = [("A", _section("fig_a", "T1", 2.0))]
    results = report.run_report(tmp_path, progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fig_a.png", "notes.txt", "report.md", "results.json"]  # no temporaries
    assert "fig_b" not in (tmp_path / "report.md").read_text()
    assert results["claims"][0]["figure"] == 2.0


def test_failed_run_leaves_the_previous_report_intact(tmp_path, fake_sections):
    report.run_report(tmp_path, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(quick, seed, out, progress=None):
        raise RuntimeError("section crashed")

    # the first section succeeds and draws a new fig_a before the second one fails
    fake_sections["builders"] = [("A", _section("fig_a", "T1", 9.0)), ("B", broken)]
    with pytest.raises(RuntimeError, match="section crashed"):
        report.run_report(tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_staging_left_by_a_killed_run_is_removed_but_a_live_ones_is_kept(tmp_path, fake_sections):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs (reuse within this test is improbable)
    orphan = tmp_path / f"{report.STAGING_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{report.STAGING_PREFIX}{os.getpid()}-def"
    for folder in (orphan, live):
        folder.mkdir()
        (folder / "fig_a.png").write_bytes(b"partial")
    report.run_report(tmp_path, progress=False)
    assert not orphan.exists()
    assert (live / "fig_a.png").read_bytes() == b"partial"


def test_section_listing_a_missing_figure_is_an_error(tmp_path, fake_sections):
    def no_file(quick, seed, out, progress=None):
        return [Section("s", "md", [Claim("T1", "holds", 0.0)], ["absent.png"])]

    fake_sections["builders"] = [("A", no_file)]
    with pytest.raises(RuntimeError, match=r"absent\.png"):
        report.run_report(tmp_path, progress=False)


def test_progress_goes_to_stderr(tmp_path, fake_sections, capsys):
    report.run_report(tmp_path, progress=True)
    captured = capsys.readouterr()
    assert "report" in captured.err and captured.out == ""


def test_bad_arguments(tmp_path, fake_sections, capsys):
    with pytest.raises(ValueError, match="seed"):
        report.run_report(tmp_path, seed=-1, progress=False)
    with pytest.raises(TypeError, match="quick"):
        report.run_report(tmp_path, quick="yes", progress=False)
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="folder"):
        report.run_report(a_file, progress=False)
    assert main(["report", "--out", str(a_file), "--no-progress"]) == 2
    assert "folder" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_quick_report_end_to_end(tmp_path):
    """The real ``mitheory report --quick`` (about a minute on two cores)."""
    out = tmp_path / "rep"
    assert main(["report", "--quick", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    ids = {c["id"] for c in results["claims"]}
    assert {"T1", "T2", "T3", "T7"} <= ids
    for c in results["claims"]:
        assert c["verdict"] in VERDICTS and math.isfinite(c["figure"])
    md = (out / "report.md").read_text()
    for name in _referenced_figures(md):
        assert (out / name).is_file(), name
    for name in results["files"]:
        assert (out / name).is_file(), name
    assert {"t1_bilinear_dv_vs_mi.png", "t3_taylor_error_vs_scale.png"} <= set(results["files"])
    assert results["quick"] is True and results["seconds"] < 120


def test_two_sections_may_share_a_figure(tmp_path, fake_sections):
    build = _section("shared", "T4", 1.0)

    def second(quick, seed, out, progress=None):
        return [Section("again", "![s](shared.png)", [Claim("T6", "partial", 2.0)], ["shared.png"])]

    fake_sections["builders"] = [("A", build), ("B", second)]
    results = report.run_report(tmp_path, progress=False)
    assert results["files"].count("shared.png") == 1
    assert [c["verdict"] for c in results["claims"]] == ["holds", "partial"]


def test_claims_follow_the_register_order_and_unrun_claims_are_listed(tmp_path, monkeypatch):
    """Claims table order is the register's; the register claim that no family decides (P6)
    and, in quick mode, the full-only P5 and P8 are listed as not run."""
    assert sorted(["P1", "T7", "E2", "T1"], key=report.claim_order) == ["E2", "T1", "T7", "P1"]
    labels = [label for label, _ in report._builders()]
    assert labels[0] == "E1–E5" and labels[-1] == "P9"
    assert any(m.startswith("P6") for m in report.not_run(quick=False))
    for full_only in ("P5", "P8"):
        assert any(m.startswith(full_only) for m in report.not_run(quick=True))
        assert not any(m.startswith(full_only) for m in report.not_run(quick=False))
    monkeypatch.setattr(report, "_builders", lambda: [
        ("x", _section("fig_p", "P1", 1.0)), ("y", _section("fig_e", "E3", 2.0))])
    results = report.run_report(tmp_path, progress=False)
    assert [c["id"] for c in results["claims"]] == ["E3", "P1"]
    assert any(m.startswith("P6") for m in results["not_run"])
    assert "P6 (" in (tmp_path / "report.md").read_text()
    assert not any(m.startswith(("T8", "P7", "P8")) for m in results["not_run"])


def test_results_claims_carry_the_contract_fields(tmp_path, fake_sections):
    """DESIGN.md §5: id, text, kind, verdict, figure, threshold, test, seeds; control on
    empirical claims; text and kind come from the register."""
    fake_sections["builders"] = [("x", _section("fig_p", "P1", 1.0))]
    claim = report.run_report(tmp_path, progress=False)["claims"][0]
    for key in ("id", "text", "kind", "verdict", "figure", "threshold", "test", "seeds"):
        assert key in claim
    assert claim["text"] == REGISTER["P1"].text and claim["kind"] == "empirical"
    assert claim["control"] == {"what": "stand-in control", "verdict": "fails", "figure": None}


def test_an_empirical_claim_without_a_control_is_refused(tmp_path, monkeypatch):
    def build(quick, seed, out, progress=None):
        return [Section("s", "x", claims=[Claim("P2", "holds", 1.0)])]

    monkeypatch.setattr(report, "_builders", lambda: [("x", build)])
    with pytest.raises(RuntimeError, match="P2 has no negative control"):
        report.run_report(tmp_path, progress=False)


def test_the_shipped_register_document_is_current() -> None:
    """CLAIMS.md at the repository root is what the register renders (users read it)."""
    root = Path(__file__).resolve().parents[1]
    assert (root / "CLAIMS.md").read_text(encoding="utf-8") == render_markdown()


def test_every_named_verification_test_exists() -> None:
    """Each register entry's ``test`` node id names a test function that exists."""
    root = Path(__file__).resolve().parents[1]
    for spec in REGISTER.values():
        if not spec.test:
            assert spec.family is None, spec.id
            continue
        path, name = spec.test.split("::")
        assert f"def {name}(" in (root / path).read_text(encoding="utf-8"), spec.test
