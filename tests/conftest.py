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


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skip when absent; fail in CI)."""
    return shared_path("")
