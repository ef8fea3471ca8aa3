"""The sweep store: one zarr (v3) store per sweep, one region per point, written as results arrive.

Layout (readable with ``xarray.open_zarr``): the design dimensions (one per swept parameter of a grid, or
``point``) followed by each result variable's own dimensions (e.g. ``path``); every variable is chunked one point
per chunk, so that writing a point touches only its own chunk files (zarr writes each file atomically). Beside the
results: ``status`` (0 pending, 1 done, 2 failed), ``error`` (the failed point's error sentence) and the
coordinate ``key`` (the hash of the point's job, parameters, seed and paths). A point's status is written after its
results, so a sweep killed at any moment leaves every ``done`` point whole.

The root attributes hold the provenance (seed, spec text, version, commit), the ``sweep`` description (job, dims,
variables, fingerprint of every key), the counts ``done``, ``failed`` and ``pending`` and ``simlab_complete``
(true only when nothing is pending), and ``timing`` (the only attribute that differs between equal runs).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError, StoreError

PENDING, DONE, FAILED = 0, 1, 2
COMPLETE_ATTR = "simlab_complete"
RESERVED = ("status", "error", "key")


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
            ones = (1,) * len(dims)
            group.create_array("status", shape=shape, dtype="int8", chunks=ones, fill_value=PENDING,
                               dimension_names=dims)  # fmt: skip
            group.create_array("error", shape=shape, dtype=str, chunks=ones, fill_value="", dimension_names=dims)
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

    def statuses(self) -> np.ndarray:
        """Return every point's status in design order."""
        return np.asarray(self.group["status"][...]).ravel()

    def write_done(self, index: int, outputs: dict[str, np.ndarray]) -> None:
        """Write the results of point ``index`` (design order), then mark it done."""
        where = np.unravel_index(index, self.shape)
        for name, value in outputs.items():
            self._arrays[name][where] = value
        self._arrays["error"][where] = ""
        self._arrays["status"][where] = DONE

    def write_failed(self, index: int, sentence: str) -> None:
        """Record point ``index`` as failed with its error sentence."""
        where = np.unravel_index(index, self.shape)
        self._arrays["error"][where] = sentence
        self._arrays["status"][where] = FAILED

    def update_counts(self, statuses: np.ndarray, timing: dict[str, Any] | None = None) -> dict[str, int]:
        """Write the counts of done, failed and pending points (and the timing) to the attributes; return them."""
        counts = {"done": int((statuses == DONE).sum()), "failed": int((statuses == FAILED).sum()),
                  "pending": int((statuses == PENDING).sum())}  # fmt: skip
        update: dict[str, Any] = {**counts, COMPLETE_ATTR: counts["pending"] == 0}
        if timing is not None:
            update["timing"] = json.dumps(timing, sort_keys=True)
        self.group.attrs.update(update)
        return counts


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
