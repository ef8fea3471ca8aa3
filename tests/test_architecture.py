"""The import direction of the house: simlab <- calibration, generators <- scenarios, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "simlab": {"simlab"},
    "calibration": {"simlab", "calibration"},
    "generators": {"simlab", "generators"},
    "scenarios": {"simlab", "calibration", "generators", "scenarios"},
}
OURS = set(ALLOWED)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_direction(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) - ALLOWED[package])
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) - ALLOWED[package]
    }
    assert offenders == {}, f"{package} imports an upper or sibling layer: {offenders}"


def test_simlab_kernel_does_not_import_torch():
    for path in (ROOT / "simlab").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] == "torch" for m in modules), f"{path} imports torch"


def test_the_checker_sees_a_wrong_arrow(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from scenarios.cli import app\nimport numpy\n")
    assert _imports(bad) - ALLOWED["simlab"] == {"scenarios"}
