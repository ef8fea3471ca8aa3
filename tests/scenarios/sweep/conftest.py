"""A Dask cluster shared by the sweep tests: a scheduler on localhost with two worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

JOB = "tests.scenarios.sweep.sweep_jobs:noisy"


@pytest.fixture(scope="session")
def scheduler() -> str:
    """Return the address of a scheduler started here on localhost, with two worker processes (set up as the
    runner's local cluster, so that no Dask default leaks into this process's environment and later clusters)."""
    from scenarios.sweep.cluster import local_cluster

    with local_cluster(2, host="127.0.0.1") as cluster:
        yield cluster.scheduler_address


def spec_text(*, seed: int = 1, xs: int = 6, marker_dir: str = "", sleep_s: float = 0.0, fail_at: int = -1,
              task_seconds: float = 1.0, retries: int = 1) -> str:  # fmt: skip
    """Return a sweep spec of the noisy job over a grid of ``xs`` x 2 points."""
    return f"""
[sweep]
name = "noisy"
job = "{JOB}"
seed = {seed}
paths = 5
retries = {retries}
task_seconds = {task_seconds}

[parameters]
x = {list(range(xs))}
y = ["a", "b"]
marker_dir = {json.dumps(marker_dir)}
sleep_s = {sleep_s}
fail_at = {fail_at}
"""


def store_files(path: Path) -> dict[str, bytes]:
    """Return every file of a store by relative path, the root attributes without ``timing`` standing in for the
    root metadata."""
    files = {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    root = json.loads(files.pop("zarr.json"))
    root["attributes"].pop("timing", None)
    files["zarr.json (attributes without timing)"] = json.dumps(root, sort_keys=True).encode()
    return files


def assert_same_store(a: Path, b: Path) -> None:
    """Assert two stores hold the same files with the same bytes (timing aside)."""
    left, right = store_files(a), store_files(b)
    assert sorted(left) == sorted(right)
    different = [name for name in left if left[name] != right[name]]
    assert not different, different
