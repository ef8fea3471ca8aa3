"""The sweep store: one zarr (v3) store per sweep, one region per point, written as results arrive.

Layout (readable with ``xarray.open_zarr``): the design dimensions (one per swept parameter of a grid, or
``point``) followed by each result variable's own dimensions (e.g. ``path``); a chunk holds about 256 KiB of
consecutive points along the last design dimension, and the points of a task, consecutive in design order, are
written as one slice per array and run. Zarr writes each chunk file atomically (a new file renamed over the old
one) and only this process writes, so a chunk always holds the points written before. Beside the results:
``status`` (0 pending, 1 done, 2 failed), ``error`` (the failed point's error sentence) and the coordinate ``key``
(the hash of the point's job, parameters, seed and paths). A point's status is written after its results and error,
so a sweep killed at any moment leaves every ``done`` point whole.

The root attributes hold the provenance (seed, spec text, version, commit), the ``sweep`` description (job, dims,
variables, fingerprint of every key), the counts ``done``, ``failed`` and ``pending`` and ``simlab_complete``
(true only when nothing is pending), and ``timing`` (the only attribute that differs between equal runs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError, StoreError

PENDING, DONE, FAILED = 0, 1, 2
COMPLETE_ATTR = "simlab_complete"
RESERVED = ("status", "error", "key")
CHUNK_BYTES = 1 << 18
PARTIAL_WRITE = re.compile(r".*\.[0-9a-f]{32}\.partial")  # zarr's LocalStore: a chunk file being written


def fill_value(dtype: np.dtype) -> Any:
    """Return the value a result variable of ``dtype`` holds until its point is written."""
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "b":
        return False
    return 0


class SweepStore:
    """A sweep's zarr store, opened for writing points (see the module docstring for the layout)."""

    def __init__(self, path: str | Path) -> None:
        import zarr

        self.path = Path(path)
        self.group = zarr.open_group(self.path, mode="r+", zarr_format=3)
        self.info = json.loads(self.group.attrs["sweep"])
        self.shape = tuple(self.info["shape"])
        self._arrays = {name: self.group[name] for name in (*self.info["variables"], "status", "error")}

    @classmethod
    def create(
        cls,
        path: str | Path,
        template: xr.Dataset,
        keys: list[str],
        *,
        info: dict[str, Any],
        attrs: dict[str, Any],
        overwrite: bool = False,
    ) -> SweepStore:
        """Write an empty store (every point pending) beside ``path`` and move it into place; return it open.

        ``template`` holds the coordinates and, as dask arrays chunked one point per chunk, the result variables.
        """
        import zarr

        path = Path(path)
        shape = tuple(info["shape"])
        dims = tuple(info["dims"])
        tmp = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            dataset = template.assign_coords(key=(dims, np.array(keys, dtype=object).reshape(shape)))
            dataset.attrs = {**attrs, "sweep": json.dumps(info), "done": 0, "failed": 0, "pending": len(keys),
                             COMPLETE_ATTR: False}  # fmt: skip
            dataset.to_zarr(tmp, mode="w-", compute=False, zarr_format=3, consolidated=False)
            group = zarr.open_group(tmp, mode="r+", zarr_format=3)
            chunks = (1,) * (len(dims) - 1) + (chunk_points(64, shape[-1]),)
            group.create_array("status", shape=shape, dtype="int8", chunks=chunks, fill_value=PENDING,
                               dimension_names=dims)  # fmt: skip
            group.create_array("error", shape=shape, dtype=str, chunks=chunks, fill_value="", dimension_names=dims)
            _move_into_place(tmp, path, overwrite)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(path)

    @classmethod
    def open_for_resume(cls, path: str | Path) -> SweepStore:
        """Open an existing sweep store to continue it."""
        import zarr

        path = Path(path)
        if not path.is_dir():
            raise StoreError(f"--resume: store {path} does not exist; run the sweep without --resume to start it")
        try:
            attrs = dict(zarr.open_group(path, mode="r", zarr_format=3).attrs)
        except Exception as exc:  # zarr raises many kinds of errors on what is not a zarr v3 store
            raise StoreError(f"--resume: {path} is not a zarr v3 store ({exc})") from exc
        if "sweep" not in attrs:
            raise StoreError(f"--resume: store {path} was not written by a sweep (no `sweep` attribute)")
        return cls(path)

    def check_fingerprint(self, fingerprint: str, source: str) -> None:
        """Raise unless this store was written from the same points (jobs, parameters, seeds, paths, metrics)."""
        if self.info["fingerprint"] != fingerprint:
            raise ParameterError(f"--resume: store {self.path} was written from another spec than {source} (its points "
                                 f"fingerprint {self.info['fingerprint'][:12]}, the spec's {fingerprint[:12]}); "
                                 f"use a new output path")  # fmt: skip

    def discard_partial_writes(self) -> list[Path]:
        """Remove the temporary files of chunk writes a killed sweep left behind (zarr writes ``<chunk>.<uuid>.partial``
        and renames it over the chunk; killed before the rename, the chunk holds its previous bytes and the temporary
        file stays); return them."""
        leftovers = [p for p in self.path.rglob("*.partial") if PARTIAL_WRITE.fullmatch(p.name)]
        for leftover in leftovers:
            leftover.unlink()
        return leftovers

    def statuses(self) -> np.ndarray:
        """Return every point's status in design order."""
        return np.asarray(self.group["status"][...]).ravel()

    def write_points(
        self, done: dict[int, dict[str, np.ndarray]], failed: dict[int, str], stale: Collection[int] = ()
    ) -> None:
        """Write the results of the ``done`` points (by index in design order), then the error sentences of the
        ``failed`` points and an empty one over the ``stale`` errors of done points that had failed before (every
        other error is still empty), then every point's status; runs of consecutive points are written as one slice
        per array."""
        for where in _runs(sorted(done), self.shape):
            for name in self.info["variables"]:
                self._arrays[name][where[0]] = np.stack([done[i][name] for i in where[1]])
        for selection, indices in _runs(sorted({*failed, *stale}), self.shape):
            self._arrays["error"][selection] = np.array([failed.get(i, "") for i in indices], dtype=object)
        for selection, indices in _runs(sorted({*done, *failed}), self.shape):
            self._arrays["status"][selection] = np.array([FAILED if i in failed else DONE for i in indices], "int8")

    def update_counts(self, statuses: np.ndarray, timing: dict[str, Any] | None = None) -> dict[str, int]:
        """Write the counts of done, failed and pending points (and the timing) to the attributes; return them."""
        counts = {"done": int((statuses == DONE).sum()), "failed": int((statuses == FAILED).sum()),
                  "pending": int((statuses == PENDING).sum())}  # fmt: skip
        update: dict[str, Any] = {**counts, COMPLETE_ATTR: counts["pending"] == 0}
        if timing is not None:
            update["timing"] = json.dumps(timing, sort_keys=True)
        self.group.update_attributes(update)  # one write of the metadata (``attrs.update`` writes it once per key)
        return counts


def _runs(indices: list[int], shape: tuple[int, ...]) -> Iterator[tuple[tuple, list[int]]]:
    """Yield (selection, indices) for each run of sorted flat indices that are consecutive along the last design
    dimension with the same leading coordinates."""
    run: list[int] = []
    for index in indices:
        if run and (index != run[-1] + 1 or index % shape[-1] == 0):
            yield _selection(run, shape), run
            run = []
        run.append(index)
    if run:
        yield _selection(run, shape), run


def _selection(run: list[int], shape: tuple[int, ...]) -> tuple:
    lead = np.unravel_index(run[0], shape)[:-1]
    last = run[0] % shape[-1]
    return (*(int(i) for i in lead), slice(last, last + len(run)))


def chunk_points(point_bytes: int, last: int) -> int:
    """Return how many points along the last design dimension one chunk holds (about ``CHUNK_BYTES``: a task's
    write reads and rewrites the chunks it touches, so they stay near a task's size)."""
    return int(min(max(1, CHUNK_BYTES // max(point_bytes, 1)), last))


def schema_of(result: dict[str, tuple[tuple[str, ...], np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Return the dims, shape and dtype of each result variable (the store's schema, from the pilot point)."""
    return {name: {"dims": list(dims), "shape": list(value.shape), "dtype": value.dtype.str}
            for name, (dims, value) in result.items()}  # fmt: skip


def _move_into_place(tmp: Path, final: Path, overwrite: bool) -> None:
    if final.exists():
        if not overwrite:
            raise StoreError(f"store {final} appeared while the sweep started; choose another path")
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
