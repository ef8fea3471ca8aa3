"""Shared fixtures: the real-data folder beside the repository, skipped (or failed in CI) when absent."""

from __future__ import annotations

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


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skip when absent; fail in CI)."""
    return shared_path("")
