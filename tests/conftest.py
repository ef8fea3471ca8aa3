"""Shared fixtures: the real-data folder beside the repository, skipped (or failed in CI) when absent."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (derandomized), so a submission never lands or fails by chance; local runs
# keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(relative: str) -> Path:
    """Return a path under ../shared/data; skip the test when it is absent, fail in CI (CI=true)."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real data {path} is absent (../shared/data beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


def optional_module(name: str, extra: str = "test"):
    """Import a peer package a cross-check needs; skip when it is absent, fail in CI (CI=true), like real data.

    Such peers (tick, ...) sit in an extra of pyproject.toml, never in the runtime dependencies, because they do not
    install everywhere; CI installs the extra, so a missing peer there is a broken environment, not a reason to skip.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} is not importable ({exc}); install it with pip install -e '.[{extra}]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must have it")
        pytest.skip(message, allow_module_level=True)


# The slowest files first. With `--dist loadfile --no-loadscope-reorder` (the README's test command, pytest-xdist
# >= 3.8) pytest-xdist hands the files to its workers in collection order, so the slowest start first and the many
# short files fill in around them (longest first). By default it would order the files by their number of tests,
# which put the one-test demo on the real data (about 6 minutes on a loaded core) among the last files to start.
# xdist gives a worker with fewer than two tests pending a second file at once: on 2 workers the third file here
# waits behind the real-data demo, so it is a short one. The demo on the synthetic sample (tests/scenarios/test_cli.py)
# keeps its place in the middle: started beside the real-data demo it would compile the same numba kernels at the
# same time, twice.
SLOWEST_FIRST = (
    "tests/scenarios/test_demo_real.py",  # the demo on the real data
    "tests/scenarios/test_generate_ground_truth.py",
    "tests/simlab/book/test_engine_properties.py",  # about 40 s: on 2 workers it waits behind the demo
    "tests/generators/test_demo.py",
    "tests/scenarios/test_generate_amzn.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the tests of the files in :data:`SLOWEST_FIRST` first, in that order; the rest keep theirs."""
    rank = {path: position for position, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skip when absent; fail in CI)."""
    return shared_path("")
