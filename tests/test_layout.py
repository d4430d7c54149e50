"""The import direction of DESIGN.md §2, read from the source: estimators imports nothing of
ours; paradigms nothing of mitheory's command line, report or claims; mitheory's theory modules
nothing of ours but each other and the bound formulas (estimators.bounds); only mitheory's
command line, report and claims import paradigms, and inside functions.

Inside paradigms: no import circles among its modules, and its layers in the order
data → networks → methods → measurement → training, each importing only from itself and the
layers before it (data nothing of the others; networks only data; methods nothing of measurement
or training; measurement nothing of training). The former flat module paths ``paradigms.train``,
``paradigms.monitors``, ``paradigms.metric_logs`` and ``paradigms.lightning_monitor`` are aliases
on top, which no layer imports."""

from __future__ import annotations

import ast
import importlib
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


@pytest.mark.parametrize("path", files("paradigms"), ids=lambda p: str(p.relative_to(ROOT)))
def test_paradigms_use_no_command_line_report_or_claims(path):
    bad = {n for n in ours(imports(path), "mitheory")
           if n.split(".")[1:2] and n.split(".")[1] in ("cli", "report", "claims")}  # fmt: skip
    assert not bad


def module_name(path: Path) -> str:
    """``paradigms/data/images.py`` → ``paradigms.data.images``; a package's ``__init__.py`` is
    the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports, anywhere in its source (inside functions
    too; relative imports resolved; ``from p import m`` counts as importing the submodule m where
    m is one, else the module p)."""
    modules = {module_name(p): p for p in files(package)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                            for a in node.names}  # fmt: skip
        known = set()
        for target in targets:  # the longest prefix that is one of the package's modules
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                known.add(target)
        graph[name] = known
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as [m1, m2, ..., m1], or None when it is acyclic."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])) is not None:
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])) is not None:
            return cycle
    return None


def test_paradigms_modules_import_each_other_without_circles():
    cycle = find_cycle(import_graph("paradigms"))
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


#: the layers of paradigms, lowest first: each imports only from itself and the layers before it
LAYERS = ("data", "networks", "methods", "measurement", "training")


def layer(module: str) -> str | None:
    """The layer ``paradigms.<layer>...`` of a module; None for the package and the aliases."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_paradigms_module_but_the_aliases_is_in_a_layer():
    outside = {m for m in import_graph("paradigms") if layer(m) is None}
    assert outside == {"paradigms", *ALIASES}


@pytest.mark.parametrize("name", LAYERS)
def test_paradigms_layers_import_only_from_the_layers_before_them(name):
    allowed = set(LAYERS[: LAYERS.index(name) + 1])
    bad = sorted(
        f"{module} → {target}"
        for module, targets in import_graph("paradigms").items()
        if layer(module) == name
        for target in targets
        if layer(target) not in allowed
    )
    assert not bad, f"the {name} layer imports from above it (or an alias): {bad}"


#: the former flat module paths kept as aliases, and names users import from them (README.md)
ALIASES = {
    "paradigms.train": ("train", "TrainConfig", "config_from_recipe", "run_from_cli"),
    "paradigms.monitors": ("monitor", "collect_metrics", "is_collapsed", "effective_rank"),
    "paradigms.metric_logs": ("CSVMetricsLogger", "TensorBoardMetricsLogger"),
    "paradigms.lightning_monitor": ("MonitorCallback",),
}


@pytest.mark.parametrize("alias", ALIASES)
def test_former_module_paths_give_the_moved_objects(alias):
    if alias == "paradigms.lightning_monitor":
        pytest.importorskip("lightning")
    module = importlib.import_module(alias)
    for name in ALIASES[alias]:
        moved = getattr(module, name)
        assert moved is getattr(importlib.import_module(moved.__module__), name)
        assert layer(moved.__module__) in ("training", "measurement")
