"""The approximation-error report: ``mitheory report [--quick] --out DIR`` (DESIGN.md §5).

Writes into ``DIR``:

- ``report.md``: the claims table (id, verdict, the number behind it), then one section per claim
  family with derivations (LaTeX), tables and captioned figures;
- ``results.json``: ``claims`` (objects with ``id``, ``verdict``, ``figure``, ``detail``),
  ``sections`` (each section's raw numbers), ``files`` (everything this run wrote) and run info;
- the PNG figures of the sections.

Sections, in the order of the claims register: ``mitheory.estimator_study`` (E1–E5),
``mitheory.gaussian_study`` (T1, T2, T3, T7), ``mitheory.nongaussian_study`` (T4, T5, T6, when
present) and ``mitheory.paradigm_study`` (P1–P5, short training runs through ``paradigms``,
imported only while it runs). P6 (real images) is listed as not run: its verdict comes from
``verification/test_images.py``. Every file is written atomically, figures only after
every section succeeded; files listed in the previous run's ``results.json`` that this run did not
write again are removed, so a re-run leaves no stale figures behind.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitheory.atomic import atomic_write_json, atomic_write_text
from mitheory.report_types import Section

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
#: hidden staging folders are named STAGING_PREFIX + "<pid>-<random>"
STAGING_PREFIX = ".report-staging-"
#: the optional module that contributes the non-Gaussian sections (T4, T5, T6)
NONGAUSSIAN_MODULE = "mitheory.nongaussian_study"
#: claims of the register (DESIGN.md §4) that no section of this report computes
NOT_RUN = ("P6 (real images; its verdict comes from verification/test_images.py)",)
#: claim families in register order (DESIGN.md §4)
FAMILIES = "ETP"

Builder = Callable[[bool, int, Path], list[Section]]


def _builders() -> tuple[list[tuple[str, Builder]], list[str]]:
    """(label, builder) pairs in report order and the parts that are not available; imported
    lazily to keep the CLI start fast."""
    from mitheory import estimator_study, gaussian_study, paradigm_study

    builders: list[tuple[str, Builder]] = [("E1–E5", estimator_study.report_sections)]
    builders += [
        (label, lambda q, s, o, build=build: [build(q, s, o)])
        for label, build in gaussian_study.SECTIONS
    ]
    missing = []
    if importlib.util.find_spec(NONGAUSSIAN_MODULE) is not None:
        module = importlib.import_module(NONGAUSSIAN_MODULE)
        builders.append(("T4–T6", module.report_sections))
    else:
        missing.append(f"T4–T6 ({NONGAUSSIAN_MODULE} is not available)")
    builders.append(("P1–P5", paradigm_study.report_sections))
    return builders, [*missing, *NOT_RUN]


def claim_order(claim_id: str) -> tuple[int, int, str]:
    """Sort key of a claim id in register order: E before T before P, then by number."""
    family, number = claim_id[:1], claim_id[1:]
    return (
        FAMILIES.index(family) if family in FAMILIES else len(FAMILIES),
        int(number) if number.isdigit() else 0,
        claim_id,
    )


def _jsonable(obj: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples and nested containers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, 0-d tensors
        return _jsonable(obj.tolist())
    return obj


def _previous_files(out: Path) -> list[str]:
    """Plain file names the previous run recorded in results.json (empty if none or unreadable)."""
    try:
        previous = json.loads((out / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = previous.get("files", []) if isinstance(previous, dict) else []
    return [f for f in files if isinstance(f, str) and f == Path(f).name and not f.startswith(".")]


def _claims_table(sections: list[Section]) -> str:
    rows = ["| claim | verdict | figure | what the figure is |", "|---|---|---|---|"]
    claims = sorted((c for s in sections for c in s.claims), key=lambda c: claim_order(c.id))
    for c in claims:
        rows.append(f"| {c.id} | **{c.verdict}** | {c.figure:.6g} | {c.detail} |")
    return "\n".join(rows)


def _render(sections: list[Section], info: dict[str, Any]) -> str:
    mode = "quick" if info["quick"] else "full"
    parts = [
        "# mitheory approximation-error report",
        "",
        f"Mode **{mode}**, seed {info['seed']}, {info['seconds']:.1f} s. All information values "
        "in nats. Claim ids refer to DESIGN.md §4; `results.json` holds every number shown here.",
        "",
        "## Claims",
        "",
        _claims_table(sections),
        "",
    ]
    if info["missing"]:
        parts += [f"*Not in this run: {', '.join(info['missing'])}.*", ""]
    for s in sections:
        parts += [f"## {s.title}", "", s.markdown.strip(), ""]
    return "\n".join(parts)


def _check_sections(sections: list[Section], out: Path) -> list[str]:
    """The distinct figures the sections reference, after checking each exists in ``out``."""
    figures = []
    for s in sections:
        if not isinstance(s, Section):
            raise TypeError(f"a report builder returned {type(s).__name__}, expected Section")
        for name in s.figures:
            if name != Path(name).name or not (out / name).is_file():
                raise RuntimeError(f"section {s.title!r} lists figure {name!r}, not found in {out}")
            if name not in figures:  # two sections may share a figure
                figures.append(name)
    return figures


def _remove_orphaned_staging(out: Path) -> None:
    """Remove staging folders left in ``out`` by runs that were killed (their process is gone).

    A folder whose name carries the id of a live process (a report running now) is left alone;
    one without a readable process id is left alone too (it is not ours to judge).
    """
    for path in out.glob(f"{STAGING_PREFIX}*"):
        pid_text = path.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if not path.is_dir() or not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # a live process of another user
            continue


def run_report(
    out: Path, *, quick: bool = False, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Compute every section, write report.md, results.json and the figures into ``out``.

    ``quick`` uses smaller Monte Carlo and training budgets (minutes → well under two minutes on
    two cores). Returns the results.json content.
    """
    from tqdm import tqdm

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {type(quick).__name__}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(out)

    start = time.perf_counter()
    builders, missing = _builders()
    # Sections draw into a hidden staging folder; only a run that completes moves its figures
    # into ``out`` (each by an atomic rename), so a failed run leaves the previous report whole.
    _remove_orphaned_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out))
    try:
        sections: list[Section] = []
        bar = tqdm(builders, desc="report", file=sys.stderr, disable=not progress, unit="section")
        for label, build in bar:
            bar.set_postfix_str(label)
            sections.extend(build(quick, seed, staging))
        bar.close()
        figures = _check_sections(sections, staging)
        for name in figures:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    info = {
        "quick": quick,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "missing": missing,
    }
    files = [REPORT_FILE, RESULTS_FILE, *figures]
    results = {
        "claims": [
            c.to_dict()
            for c in sorted(
                (c for s in sections for c in s.claims), key=lambda c: claim_order(c.id)
            )
        ],
        "sections": [
            {"title": s.title, "figures": s.figures, "data": _jsonable(s.data)} for s in sections
        ],
        "files": files,
        "unit": "nats",
        **info,
    }
    atomic_write_text(out / REPORT_FILE, _render(sections, info))
    atomic_write_json(out / RESULTS_FILE, results)
    for stale in set(previous) - set(files):
        (out / stale).unlink(missing_ok=True)
    return results
