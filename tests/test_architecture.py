"""The layers of the project, read from the source (parsed, never imported).

Every import counts, at module level and inside functions (a lazy import is still a
dependency), ``TYPE_CHECKING`` blocks too, and so do modules named to ``lazy_module`` or
``importlib.import_module``. From the bottom up (``docs/architecture.md``, "Layers"):

1. ``envelope``: the encryption library; no Django.
2. ``ops``: the foundation (API error envelope, permissions, pagination, schema hooks,
   middleware, signals sent on commit, lazy imports, health).
3. ``audit``, then ``accounts`` and ``vault``: the foundations every app uses.
4. the domain apps, each above the ones it follows: ``datasets_app``, ``trainer``,
   ``serving``, then ``openai_api`` and ``evaluation`` side by side, then ``privacy`` (it
   adds its section to evaluation's report).
5. ``console``: what gathers several apps (dashboard, 404 handler, bootstrap, worker heartbeat).

``platform_site`` is the wiring above them all; a package may only import its environment
readers and offline switches. An import may only point to a lower layer; an app that must
react to a higher one subscribes to the signals it declares (``datasets_app.signals``,
``trainer.signals``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_PACKAGES = {"tests", "bench", "scripts", "docs", "static", "templates"}
# Bottom first; a package may import only packages of lower rows.
LAYERS: list[tuple[str, ...]] = [
    ("envelope",),
    ("ops",),
    ("audit",),
    ("accounts", "vault"),
    ("datasets_app",),
    ("trainer",),
    ("serving",),
    ("openai_api", "evaluation"),
    ("privacy",),
    ("console",),
]
WIRING = "platform_site"
# What the wiring package offers below it: plain readers of the environment.
WIRING_FOUNDATIONS = {"platform_site.env", "platform_site.offline"}
FRAMEWORKS = {"django", "rest_framework", "drf_spectacular", "celery", "kombu"}
LAZY_IMPORTERS = {"lazy_module", "import_module"}

Edge = tuple[str, str]  # (importing package, imported module)


def project_packages(root: Path = ROOT) -> list[str]:
    """Top-level packages of the project (folders with an ``__init__.py``)."""
    return sorted(
        path.name
        for path in root.iterdir()
        if (path / "__init__.py").is_file() and path.name not in NOT_PACKAGES
    )


def source_files(package_dir: Path) -> Iterator[Path]:
    """The package's Python files; migrations are history, not dependencies."""
    for path in sorted(package_dir.rglob("*.py")):
        if "migrations" not in path.relative_to(package_dir).parts:
            yield path


def imported_modules(path: Path) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import in ``path``, wherever it stands."""
    module_package = path.parent.relative_to(ROOT).parts if path.is_relative_to(ROOT) else ()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = list(module_package[: len(module_package) - node.level + 1])
                yield ".".join([*base, *([node.module] if node.module else [])]), node.lineno
            elif node.module:
                yield node.module, node.lineno
        elif isinstance(node, ast.Call) and _lazy_target(node):
            yield _lazy_target(node), node.lineno


def _lazy_target(node: ast.Call) -> str:
    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
    if name in LAZY_IMPORTERS and node.args and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    return ""


def package_imports(root: Path = ROOT) -> dict[Edge, list[str]]:
    """(package, imported project module) -> where, as ``file:line``; imports within one
    package are left out."""
    packages = set(project_packages(root))
    edges: dict[Edge, list[str]] = defaultdict(list)
    for package in packages:
        for path in source_files(root / package):
            for module, line in imported_modules(path):
                top = module.split(".")[0]
                if top in packages and top != package:
                    edges[(package, module)].append(f"{path.relative_to(root)}:{line}")
    return edges


def package_graph(edges: dict[Edge, list[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for package, module in edges:
        graph[package].add(module.split(".")[0])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``[]`` when it has none."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target, [*path, target])
                if cycle:
                    return cycle
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return []


def _evidence(edges: dict[Edge, list[str]], source: str, target: str) -> list[str]:
    return [
        f"{where} imports {module}"
        for (package, module), places in sorted(edges.items())
        if package == source and module.split(".")[0] == target
        for where in places
    ]


def _imports_of(folder: Path) -> Iterator[tuple[str, str]]:
    for path in source_files(folder):
        for module, line in imported_modules(path):
            yield module, f"{path.relative_to(ROOT)}:{line}"


# --- the graph walker can fail --------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/services.py": "def later():\n    from high.models import Thing\n",
            "high/__init__.py": "",
            "high/models.py": "from low import services\n",
        },
    )
    edges = package_imports(root)
    assert find_cycle(package_graph(edges)) == ["high", "low", "high"]
    assert edges[("low", "high.models")] == ["low/services.py:2"]


def test_lazy_module_names_count_as_imports_and_no_cycle_is_none(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "high/__init__.py": "",
            "high/views.py": "gen = lazy_module('low.generation')\n",
        },
    )
    graph = package_graph(package_imports(root))
    assert graph == {"high": {"low"}} and find_cycle(graph) == []


# --- the rules -------------------------------------------------------------------------------


def test_no_import_cycle_between_packages() -> None:
    edges = package_imports()
    graph = package_graph(edges)
    graph.pop(WIRING, None)  # the wiring imports every app: that is its job
    cycle = find_cycle(graph)
    evidence = [e for a, b in zip(cycle, cycle[1:], strict=False) for e in _evidence(edges, a, b)]
    assert not cycle, f"import cycle {' -> '.join(cycle)}:\n" + "\n".join(evidence)


def test_every_package_has_a_layer() -> None:
    layered = {package for row in LAYERS for package in row}
    missing = set(project_packages()) - layered - {WIRING}
    assert not missing, (
        f"{sorted(missing)}: add each new package to LAYERS in {Path(__file__).name} (above "
        "what it imports, below what imports it) and to the layers in docs/architecture.md"
    )


def test_imports_point_down_the_layers() -> None:
    rank = {package: row for row, packages in enumerate(LAYERS) for package in packages}
    upward = [
        f"{where}: {package} imports {module}"
        for (package, module), places in sorted(package_imports().items())
        if package in rank
        and module.split(".")[0] in rank
        and rank[module.split(".")[0]] >= rank[package]
        for where in places
    ]
    assert not upward, "imports that do not point down the layers:\n" + "\n".join(upward)


def test_packages_import_only_the_foundations_of_the_wiring() -> None:
    wrong = [
        f"{where}: {package} imports {module}"
        for (package, module), places in sorted(package_imports().items())
        if module.split(".")[0] == WIRING and package != WIRING and module not in WIRING_FOUNDATIONS
        for where in places
    ]
    assert not wrong, "\n".join(wrong)


def test_ops_imports_no_project_package() -> None:
    found = [
        f"{w}: {m}" for (p, m), places in package_imports().items() if p == "ops" for w in places
    ]
    assert not found, "ops is the foundation; it imports no project package:\n" + "\n".join(found)


def test_no_app_imports_the_console() -> None:
    found = [
        f"{where}: {package} imports {module}"
        for (package, module), places in sorted(package_imports().items())
        if module.split(".")[0] == "console" and package != WIRING
        for where in places
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [("trainer/engine", {"trainer.engine", "envelope"}), ("envelope", {"envelope"})],
)
def test_engine_and_envelope_import_no_django_and_no_app(folder: str, allowed: set[str]) -> None:
    packages = set(project_packages())
    wrong = [
        f"{where}: {module}"
        for module, where in _imports_of(ROOT / folder)
        if module.split(".")[0] in FRAMEWORKS
        or (
            module.split(".")[0] in packages
            and not any(module == a or module.startswith(a + ".") for a in allowed)
        )
    ]
    assert not wrong, f"{folder} must run without Django and apps:\n" + "\n".join(wrong)
