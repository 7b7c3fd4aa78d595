"""The package structure, checked from the source: which package may import which.

- No import cycles between packages, beyond the ones listed in KNOWN_CYCLES (open items of the
  structure issue, each to be removed, never added to): a new cycle fails with its edges.
- No package imports another package's private modules (``jitwarm.x._y`` from outside ``x``),
  and every package's modules are private behind its ``__all__``.
- Only ``jitwarm.deepgemm`` imports deep_gemm; torch only there and in the reference server's
  model (``jitwarm.server._refmodel``, which calls DeepGEMM through ``jitwarm.deepgemm``); the
  planning core imports neither.
Imports inside functions count (a dependency is a dependency); ``if TYPE_CHECKING`` ones do not.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jitwarm"

# Package cycles that exist today; shrink this set, never grow it.
KNOWN_CYCLES: set[frozenset[str]] = set()
# The one adapter of DeepGEMM.
DEEPGEMM_PACKAGES = {"deepgemm"}
# Modules that may import torch: the adapter, and the reference model the server's engine runs.
TORCH_MODULE_PREFIXES = ("jitwarm.deepgemm", "jitwarm.server._refmodel")
# The planning core (the guide's list): never torch, never deep_gemm, tested on every CI run.
PLANNING_CORE = {
    "models",
    "plan",
    "selection",
    "profiles",
    "deepjit",
    "build",
    "ahead",
    "cache",
    "bundle",
    "record",
    "locks",
    "interposer",
    "doctor",
    "serving",
    "mset",
    "dgenv",
    "errors",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _imports() -> dict[str, set[str]]:
    """module -> every absolute module it imports."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        module = _module_name(path)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out[module].add(node.module)
            elif isinstance(node, ast.Import):
                out[module].update(alias.name for alias in node.names)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_new_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _imports().items():
        for target in targets:
            a, b = _package(module), _package(target)
            if target.startswith("jitwarm.") and a and b and a != b:
                packages[a].add(b)
    new = [c for c in _cycles(packages) if frozenset(c) not in KNOWN_CYCLES]
    assert not new, f"new package import cycles: {new}"


def test_no_module_cycle_inside_a_package() -> None:
    imports = _imports()
    modules = {m: {t for t in ts if t in imports} for m, ts in imports.items()}
    inside = [c for c in _cycles(modules) if len({_package(m) for m in c}) == 1]
    # A package's __init__ re-exporting its own modules is not a cycle of concepts.
    inside = [c for c in inside if not any(m.count(".") == 1 for m in c)]
    assert not inside, f"module import cycles inside one package: {inside}"


def test_no_package_imports_another_packages_private_modules() -> None:
    bad = []
    for module, targets in _imports().items():
        for target in targets:
            parts = target.split(".")
            if (
                parts[0] == "jitwarm"
                and len(parts) >= 3
                and parts[2].startswith("_")
                and parts[1] != _package(module)
            ):
                bad.append(f"{module} imports {target}")
    assert not bad, "\n".join(bad)


def test_every_package_keeps_its_modules_private_behind_its_all() -> None:
    """One privacy rule: a package's modules are ``_name.py``; its ``__init__`` names the
    interface in ``__all__``."""
    public, no_all = [], []
    for init in SRC.glob("*/__init__.py"):
        package = init.parent
        public += [
            str(p.relative_to(SRC))
            for p in package.iterdir()
            if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
        ]
        names = {
            t.id
            for node in ast.parse(init.read_text()).body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        if "__all__" not in names:
            no_all.append(str(init.relative_to(SRC)))
    assert not public, f"public modules (name them _x.py, export from __init__): {public}"
    assert not no_all, f"packages without __all__: {no_all}"


def test_only_the_deepgemm_package_imports_deep_gemm() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in _imports().items()
        for target in targets
        if target.split(".")[0] == "deep_gemm" and _package(module) not in DEEPGEMM_PACKAGES
    ]
    assert not bad, "\n".join(bad)


def test_torch_only_in_the_adapter_and_the_reference_model() -> None:
    bad = [
        f"{module} imports {target}"
        for module, targets in _imports().items()
        for target in targets
        if target.split(".")[0] == "torch" and not module.startswith(TORCH_MODULE_PREFIXES)
    ]
    assert not bad, "\n".join(bad)


def test_the_planning_core_reaches_neither_torch_nor_deep_gemm() -> None:
    """Not even through another jitwarm package: follow every import from the core's modules."""
    imports = _imports()
    reached: dict[str, str] = {}  # module -> the core module whose imports reached it
    todo = [m for m in imports if _package(m) in PLANNING_CORE]
    for m in todo:
        reached.setdefault(m, m)
    while todo:
        module = todo.pop()
        for target in imports.get(module, ()):
            if target not in reached:
                reached[target] = reached[module]
                if target in imports:
                    todo.append(target)
    bad = sorted(
        f"{origin} reaches {m}"
        for m, origin in reached.items()
        if m.split(".")[0] in ("torch", "deep_gemm")
    )
    assert not bad, "\n".join(bad)


def test_no_merge_conflict_markers_are_left() -> None:
    root = SRC.parents[1]
    files = [root / "README.md", *root.glob("docs/*.md"), *SRC.rglob("*.py")]
    files += [p for p in (root / "tests").glob("*.py")]
    bad = [
        f"{p.relative_to(root)}:{i}"
        for p in files
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if line.startswith(("<<<<<<< ", ">>>>>>> "))
    ]
    assert not bad, f"merge conflict markers: {bad}"


@pytest.mark.parametrize(
    ("api", "default", "public", "adapter"),
    [
        ("jitwarm.warmer._api", "default_backend", "warm", "DeepGEMMBackend"),
        ("jitwarm.verify._api", "default_calls", "verify_plan", "DeepGEMMCalls"),
    ],
)
def test_warm_and_verify_get_deepgemm_injected_from_above(
    api: str, default: str, public: str, adapter: str
) -> None:
    """Neither jitwarm.warmer nor jitwarm.verify imports jitwarm.deepgemm: importing that
    package registers its backend and its calls provider as their defaults (one mechanism), and
    without it each says so in one line."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"from {api} import {default}\n"
        "from jitwarm.errors import UsageError\n"
        "try:\n"
        f"    {default}()\n"
        "except UsageError as exc:\n"
        "    print('refused:', exc)\n"
        "import jitwarm\n"
        f"jitwarm.{public}  # the public call brings DeepGEMM's\n"
        f"print(type({default}()).__name__, 'torch' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(SRC.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    assert out[0].startswith("refused: no DeepGEMM")
    assert out[1] == f"{adapter} False"


def test_one_list_of_fatal_cuda_errors() -> None:
    """warm's and verify's workers decide "this CUDA context is dead" by one list."""
    defining = [
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if '"illegal memory access"' in p.read_text()
    ]
    assert defining == ["warmer/_backend.py"]


# Modules that port a DeepGEMM source file name the exact builds they follow in their module
# docstring (the provenance the MIT licence and a reviewer need: which file, of which build);
# that docstring may name versions, nothing else in them may.
PORTS = (
    "deepjit/_generators/*.py",
    "selection/_sm90.py",
    "selection/_sm100.py",
    "ahead/_source.py",
    "ahead/_digest.py",
)


def _version_pattern() -> re.Pattern[str]:
    from jitwarm.profiles import PROFILES

    releases = {p.release for p in PROFILES} | {p.version for p in PROFILES}
    series = {p.release.rsplit(".", 1)[0] + ".x" for p in PROFILES}  # "2.8.x"
    words = "|".join(re.escape(v) for v in sorted(releases | series, key=len, reverse=True))
    return re.compile(rf"(?<![\d.])(?:{words})(?!\d)")


def _docstring_lines(tree: ast.Module) -> set[int]:
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return set()


def test_no_module_outside_the_profiles_names_a_deepgemm_version() -> None:
    pattern = _version_pattern()
    assert pattern.search("sm100-2.8.0") and pattern.search("(2.8.x)")
    assert not pattern.search("CUDA 12.5.0") and not pattern.search("2.8.10")
    ports = {p for glob in PORTS for p in SRC.glob(glob)}
    bad = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] == "profiles":
            continue
        text = path.read_text()
        allowed = _docstring_lines(ast.parse(text)) if path in ports else set()
        bad += [
            f"{path.relative_to(SRC)}:{i}: {line.strip()}"
            for i, line in enumerate(text.splitlines(), 1)
            if i not in allowed and pattern.search(line)
        ]
    assert not bad, "a build's facts belong in its profile (jitwarm.profiles):\n" + "\n".join(bad)
