"""The tree keeps its layers: the core packages import no CLI, rendering or heavy library, and
the top of the package stays small (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "moeplan"
CORE = ("model", "memory", "hardware", "perf", "plan")
FORBIDDEN_IN_CORE = ("moeplan.cli", "typer", "rich", "tabulate", "torch", "pynvml", "click")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", CORE)
def test_core_packages_import_no_cli_or_heavy_library(package):
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / package).rglob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE)
    }
    assert not offenders


def test_at_most_six_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 6, top


def test_torch_is_imported_only_inside_profile_functions():
    """torch/pynvml appear only in moeplan/profile, and only inside functions (lazy)."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        top_level = {
            a.name.split(".")[0]
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for a in (
                node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
            )
        }
        assert not top_level & {"torch", "pynvml", "triton", "numpy"}, path
