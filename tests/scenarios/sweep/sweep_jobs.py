"""Tiny jobs for the sweep runner's tests, given to specs as dotted paths (``tests.scenarios.sweep.sweep_jobs:...``).

``noisy`` appends one line to ``<marker_dir>/x=<x>,y=<y>`` each time it runs (so a test counts executions per
point), sleeps ``sleep_s`` and raises on ``x == fail_at``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr


def noisy(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    x: int = 0,
    y: str = "a",
    marker_dir: str = "",
    sleep_s: float = 0.0,
    fail_at: int = -1,
) -> xr.Dataset:
    """Return ``paths`` normal draws shifted by ``x`` and their sum; raise on ``x == fail_at``."""
    if marker_dir:
        with open(Path(marker_dir) / f"x={x},y={y}", "a") as handle:
            handle.write("run\n")
    time.sleep(sleep_s)
    if x == fail_at:
        raise ValueError(f"`x` of the noisy job must not be {fail_at}; got {x}")
    draws = np.random.default_rng(seed).normal(size=paths) + x
    return xr.Dataset({"draw": ("path", draws), "total": ((), draws.sum()), "count": ((), np.int64(paths))})


def markers(marker_dir: str | Path) -> dict[str, int]:
    """Return how many times each point ran."""
    return {p.name: len(p.read_text().splitlines()) for p in Path(marker_dir).iterdir()}
