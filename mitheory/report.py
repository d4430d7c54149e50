"""The approximation-error report: ``mitheory report [--quick] --out DIR`` (DESIGN.md §5).

Writes into ``DIR``:

- ``report.md``: the claims table (id, kind, claim text, verdict, the number behind it, rule and
  threshold, negative control, seeds), one section per claim family with derivations (LaTeX),
  tables and captioned figures, and a footer (commit, package versions, command, hardware, seeds,
  wall time);
- ``results.json``: ``claims`` (objects with ``id``, ``text``, ``kind``, ``verdict``, ``figure``,
  ``threshold``, ``test``, ``seeds`` and, for empirical claims, ``control``), ``sections`` (each
  section's raw numbers), ``files`` (everything this run wrote), ``not_run`` and run info;
- the PNG figures of the sections.

The sections come from the claim families of ``mitheory.claims`` in register order; this module
only renders what they return (it decides no verdict). Register claims that no family decides are
listed as not run. Every file is written atomically, figures only after every section succeeded;
files listed in the previous run's ``results.json`` that this run did not write again are
removed, so a re-run leaves no stale figures behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estimators.atomic import atomic_write_json, atomic_write_text
from mitheory import claims
from mitheory.claims.findings import findings
from mitheory.claims.register import REGISTER, claim_order
from mitheory.claims.result import Section
from mitheory.claims.runtime import shared_pool, turn

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
#: hidden staging folders are named STAGING_PREFIX + "<pid>-<random>"
STAGING_PREFIX = ".report-staging-"

#: ``build(quick, seed, out, progress=callback)``: a family's ``report_sections``
Builder = Callable[..., list[Section]]


def _builders() -> list[tuple[str, Builder]]:
    """(label, builder) pairs of the claim families in register order; each family's module is
    imported when its builder first runs (on its own thread: the first families start their
    worker jobs while the others still load)."""

    def lazy(family: str) -> Builder:
        return lambda *args, **kwargs: claims.builder(family)(*args, **kwargs)

    return [(claims.LABELS[f], lazy(f)) for f in claims.FAMILIES]


def not_run(quick: bool) -> list[str]:
    """Register claims that this mode of the report does not decide, with the reason."""
    out = [f"{s.id} ({s.decided})" for s in REGISTER.values() if s.family is None]
    if quick:
        out += [f"{s.id} (full report only)" for s in REGISTER.values() if s.full_only]
    return out


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


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _claims_table(sections: list[Section]) -> str:
    rows = [
        "| id | kind | claim | verdict | figure | rule and threshold | negative control | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found = sorted((c for s in sections for c in s.claims), key=lambda c: claim_order(c.id))
    for c in found:
        spec = REGISTER[c.id]
        control = (
            f"{_cell(c.control.what)}: **{c.control.verdict}**" if c.control is not None else "—"
        )
        rows.append(
            f"| {c.id} | {spec.kind} | {_cell(spec.text)} | **{c.verdict}** | {c.figure:.4g} — "
            f"{_cell(c.detail)} | {_cell(c.threshold or spec.decided)} | {control} | "
            f"{', '.join(map(str, c.seeds)) or '—'} |"
        )
    return "\n".join(rows)


def run_info(quick: bool, seed: int) -> dict[str, Any]:
    """Provenance for the footer and results.json: commit, package versions, command, hardware."""
    import platform
    import subprocess

    import numpy
    import scipy
    import sympy
    import torch

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent, check=False,
        ).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "commit": commit,
        "command": f"mitheory report{' --quick' if quick else ''} --seed {seed}",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "sympy": sympy.__version__},
        "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}, CUDA {'yes' if torch.cuda.is_available() else 'no'}",
    }


def _render(sections: list[Section], info: dict[str, Any]) -> str:
    mode = "quick" if info["quick"] else "full"
    parts = [
        "# mitheory approximation-error report",
        "",
        f"Mode **{mode}**, seed {info['seed']}. All information values in nats. Claims and how "
        "each is decided: `CLAIMS.md` (the register, `mitheory/claims/register.py`); "
        "`results.json` holds every number shown here. Kinds: *identity* and *theorem* rows are "
        "software checks of mathematics, not evidence for the paper; *empirical* rows are "
        "measured, and each carries a negative control run in the same report (the same rule on "
        "a case built to violate the claim), which must reach the opposite verdict.",
        "",
        "## Claims",
        "",
        _claims_table(sections),
        "",
    ]
    if info["not_run"]:
        parts += [f"*Not decided by this report: {'; '.join(info['not_run'])}.*", ""]
    decided = {c.id: c for s in sections for c in s.claims}
    parts += ["## Findings", "", findings(decided).strip(), ""]
    for s in sections:
        parts += [f"## {s.title}", "", s.markdown.strip(), ""]
    v = info["versions"]
    parts += [
        "---",
        "",
        f"*Run: `{info['command']}` at commit `{info['commit']}`; Python {v['python']}, torch "
        f"{v['torch']}, numpy {v['numpy']}, scipy {v['scipy']}, sympy {v['sympy']}; "
        f"{info['hardware']}; report seed {info['seed']} (each claim lists the seeds it used); "
        f"wall time {info['seconds']:.1f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in info["family_seconds"].items()) + ").*",
        "",
    ]
    return "\n".join(parts)


def _check_sections(sections: list[Section], out: Path) -> list[str]:
    """The distinct figures the sections reference, after checking each exists in ``out``."""
    figures = []
    for s in sections:
        if not isinstance(s, Section):
            raise TypeError(f"a report builder returned {type(s).__name__}, expected Section")
        for c in s.claims:
            if c.id not in REGISTER:
                raise RuntimeError(f"section {s.title!r} reports claim {c.id!r}, not registered")
            if REGISTER[c.id].kind == "empirical" and c.control is None:
                raise RuntimeError(f"empirical claim {c.id} has no negative control")
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


def _run_families(
    builders: list[tuple[str, Builder]], quick: bool, seed: int, staging: Path, progress: bool
) -> tuple[list[Section], dict[str, float]]:
    """Every family's sections (register order) and its elapsed seconds.

    The families run at the same time, each on a thread of this process, taking turns to compute
    here and sharing the caller's pool of worker processes (:func:`mitheory.claims.runtime.
    shared_pool`; without one each family's jobs start their own): families whose
    runs go to the workers (``claims.START_ORDER``) take their first turn first, so the workers
    start at once. torch runs on one thread meanwhile. No family touches global random state in
    this process (their generators are seeded objects; training runs happen in the workers), so
    the numbers do not depend on the schedule. The first error cancels the queued jobs and is
    raised (the threads are daemons: a family still waiting then does not hold the process).
    """
    import queue
    import threading

    import torch
    from tqdm import tqdm

    bar = tqdm(total=len(builders), desc="report", file=sys.stderr, disable=not progress,
               unit="family")  # fmt: skip
    timings: dict[str, float] = {}
    found: dict[str, list[Section]] = {}
    finished: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()

    def run(label: str, build: Builder, started: threading.Event) -> None:
        def note(step: str) -> None:
            bar.set_postfix_str(f"{label}: {step}")

        try:
            with turn():
                started.set()
                began = time.perf_counter()
                found[label] = build(quick, seed, staging, progress=note)
                timings[label] = round(time.perf_counter() - began, 1)
        except BaseException as error:  # handed to the report's thread, which raises it
            finished.put((label, error))
        else:
            finished.put((label, None))
        finally:
            started.set()

    rank = {claims.LABELS[f]: i for i, f in enumerate(claims.START_ORDER)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label, build in sorted(builders, key=lambda b: rank.get(b[0], len(rank))):
            started = threading.Event()
            threading.Thread(target=run, args=(label, build, started), daemon=True,
                             name=f"family {label}").start()  # fmt: skip
            started.wait()  # first turns in START_ORDER
        for _ in builders:
            label, error = finished.get()
            if error is not None:
                raise error  # the caller's shared_pool cancels the queued jobs
            bar.update(1)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    sections = [s for label, _ in builders for s in found[label]]
    return sections, {label: timings[label] for label, _ in builders}


def run_report(
    out: Path, *, quick: bool = False, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Compute every section, write report.md, results.json and the figures into ``out``.

    ``quick`` uses smaller Monte Carlo and training budgets (minutes → well under two minutes on
    two cores). Returns the results.json content.
    """

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
    with shared_pool():
        builders = _builders()
        # Sections draw into a hidden staging folder; only a run that completes moves its
        # figures into ``out`` (each by an atomic rename), so a failed run leaves the previous
        # report whole.
        _remove_orphaned_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out))
        try:
            from estimators.flags import MIWarning

            with warnings.catch_warnings():  # the sections read the estimators' flags themselves
                warnings.simplefilter("ignore", MIWarning)
                sections, timings = _run_families(builders, quick, seed, staging, progress)
            figures = _check_sections(sections, staging)
            for name in figures:
                os.replace(staging / name, out / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    info = {
        "quick": quick,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "not_run": not_run(quick),
        "family_seconds": timings,
        **run_info(quick, seed),
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
