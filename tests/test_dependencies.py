"""Every third-party module the code imports is declared in pyproject.toml, so a fresh virtual environment has it.

The library packages may use only the runtime dependencies; the tests may also use the `test` extra (what the README's
test command installs through `dev`). Benchmarks are run by hand with the `bench` extra and are not checked here.
A module that is imported but not installed at all fails too: a fresh machine would not have it either.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
OURS = {"simlab", "calibration", "generators", "scenarios", "tests"}
LIBRARY = ("simlab", "calibration", "generators", "scenarios")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(extras: tuple[str, ...]) -> set[str]:
    """Distributions pyproject.toml brings in with these extras, with everything they require in turn."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        todo += [Requirement(r) for r in project["optional-dependencies"][extra]]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        if _key(requirement.name) == "simlab":  # a self-reference such as simlab[test]
            todo += [Requirement(r) for e in requirement.extras for r in project["optional-dependencies"][e]]
            continue
        if _key(requirement.name) in seen:
            continue
        seen.add(_key(requirement.name))
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            wanted = requirement.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(sub)
    return seen


def imported_modules(path: Path) -> set[str]:
    """Top-level third-party modules a file imports (standard library, ours and relative imports left out)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS and n != "__future__"}


def undeclared(files: list[Path], declared: set[str]) -> dict[str, str]:
    """Map each module no declared distribution provides to the first file importing it."""
    providers = metadata.packages_distributions()
    missing: dict[str, str] = {}
    for path in files:
        for module in sorted(imported_modules(path)):
            if not {_key(d) for d in providers.get(module, [])} & declared:
                missing.setdefault(module, os.path.relpath(path, ROOT))
    return missing


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py") if "benchmarks" not in p.parts)


def test_library_imports_only_runtime_dependencies():
    assert undeclared(_python_files(*LIBRARY), _declared(())) == {}


def test_tests_import_only_declared_test_dependencies():
    assert undeclared(_python_files("tests"), _declared(("test",))) == {}


def test_peers_are_not_runtime_dependencies():
    runtime = {
        _key(Requirement(r).name)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert not runtime & {"tick", "hftbacktest", "numpydoc", "six"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import orjson_not_a_real_module\n", {"orjson_not_a_real_module"}),  # not installed anywhere
        ("from pytest import fixture\n", {"pytest"}),  # installed, but only by the test extra
        ("import numpy\nimport json\nfrom simlab import io\nfrom . import x\n", set()),
    ],
)
def test_the_checker_sees_an_undeclared_import(tmp_path, source, expected):
    (tmp_path / "module.py").write_text(source)
    assert set(undeclared([tmp_path / "module.py"], _declared(()))) == expected


def test_dev_extra_holds_the_test_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras["test"]) <= set(extras["dev"])
