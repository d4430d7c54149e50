"""The import direction of DESIGN.md §2, read from the source: estimators imports nothing of
ours; paradigms nothing of mitheory's command line, report or claims; mitheory's theory modules
nothing of ours but each other and the bound formulas (estimators.bounds); only mitheory's
command line, report and claims import paradigms, and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("estimators", "mitheory", "paradigms")


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Top package of every absolute import in ``path`` (module level only if asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def ours(names: set[str], *packages: str) -> set[str]:
    return {n for n in names if n.split(".")[0] in packages}


@pytest.mark.parametrize("path", files("estimators"), ids=lambda p: p.name)
def test_estimators_import_nothing_of_ours(path):
    assert not ours(imports(path), "mitheory", "paradigms"), "estimators imports nothing of ours"


#: mitheory's theory modules: its top-level modules but the command line and the report
THEORY = sorted(p.stem for p in (ROOT / "mitheory").glob("*.py")
                if p.stem not in ("__init__", "__main__", "cli", "report"))  # fmt: skip


@pytest.mark.parametrize("name", THEORY)
def test_theory_modules_import_nothing_of_ours_but_theory(name):
    found = ours(imports(ROOT / "mitheory" / f"{name}.py"), *OURS)
    assert found <= {f"mitheory.{t}" for t in THEORY} | {"estimators"}
    if "estimators" in found:  # the bound formulas, kept in one place
        tree = ast.parse((ROOT / "mitheory" / f"{name}.py").read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and n.module == "estimators" for a in n.names}  # fmt: skip
        assert names == {"bounds"}


@pytest.mark.parametrize("path", files("mitheory"), ids=lambda p: str(p.relative_to(ROOT)))
def test_paradigms_only_lazily_and_only_from_cli_report_claims(path):
    rel = path.relative_to(ROOT / "mitheory").parts
    assert not ours(imports(path, top_level_only=True), "paradigms")
    if rel[0] not in ("cli.py", "report.py", "claims", "__main__.py"):
        assert not ours(imports(path), "paradigms")


@pytest.mark.parametrize("path", files("paradigms"), ids=lambda p: p.name)
def test_paradigms_use_no_command_line_report_or_claims(path):
    bad = {n for n in ours(imports(path), "mitheory")
           if n.split(".")[1:2] and n.split(".")[1] in ("cli", "report", "claims")}  # fmt: skip
    assert not bad
