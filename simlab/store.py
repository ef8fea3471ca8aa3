"""The data store: xarray Datasets in zarr (v3) directories, written atomically and read lazily in pieces.

A store is written into a hidden sibling directory and renamed into place only once complete, so a crash never
leaves a half-written store under the final name. :class:`StoreWriter` appends pieces along one dimension, so a
store larger than memory can be written; :func:`iter_store` reads one back piece by piece.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError, StoreError

DEFAULT_CHUNK = 1 << 18
_COMPLETE_ATTR = "simlab_complete"


def write_store(
    dataset: xr.Dataset,
    path: str | Path,
    *,
    attrs: dict[str, Any] | None = None,
    chunk: int = DEFAULT_CHUNK,
    overwrite: bool = False,
) -> Path:
    """Write ``dataset`` to the zarr store at ``path`` atomically and return the path.

    Parameters
    ----------
    dataset
        Events, books or bars (any Dataset whose attributes are JSON-serialisable).
    path
        The store directory (conventionally ``*.zarr``).
    attrs
        Attributes added to the dataset's own (provenance: seed, config, version, commit, true parameters).
    chunk
        Chunk length along the first dimension of every variable.
    overwrite
        Replace an existing store; otherwise an existing path is an error.
    """
    with StoreWriter(path, attrs=attrs, chunk=chunk, overwrite=overwrite) as writer:
        writer.append(dataset)
    return Path(path)


class StoreWriter:
    """Write a store piece by piece along its first dimension, then publish it atomically.

    Use as a context manager: ``with StoreWriter(path) as w: w.append(piece)``. On a clean exit the store is
    renamed into place; on an exception the partial store is deleted and nothing appears at ``path``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        attrs: dict[str, Any] | None = None,
        chunk: int = DEFAULT_CHUNK,
        overwrite: bool = False,
    ) -> None:
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk <= 0:
            raise ParameterError(f"`chunk` of StoreWriter must be a positive int; got {chunk!r}")
        self.path = Path(path)
        self.attrs = dict(attrs or {})
        self.chunk = int(chunk)
        self.overwrite = overwrite
        self._tmp = self.path.parent / f".{self.path.name}.partial-{uuid.uuid4().hex[:12]}"
        self._dim: str | None = None
        self._pieces = 0

    def __enter__(self) -> StoreWriter:
        if self.path.exists() and not self.overwrite:
            raise StoreError(f"store {self.path} already exists; pass overwrite=True to replace it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def append(self, piece: xr.Dataset) -> None:
        """Append one piece; every piece must share the variables of the first along its first dimension."""
        dim = next(iter(piece.dims)) if self._dim is None else self._dim
        if dim not in piece.dims:
            raise StoreError(f"piece {self._pieces} of store {self.path} lacks the dimension {dim!r}")
        piece = piece.copy()
        if self._dim is None:
            self._dim = dim
            piece.attrs = {**piece.attrs, **self.attrs, _COMPLETE_ATTR: False}
            encoding = {name: {"chunks": self._chunks(piece[name])} for name in piece.variables}
            piece.to_zarr(self._tmp, mode="w-", zarr_format=3, consolidated=False, encoding=encoding)
        else:
            piece.attrs = {}
            piece.to_zarr(self._tmp, append_dim=dim, zarr_format=3, consolidated=False)
        self._pieces += 1

    def _chunks(self, variable: xr.Variable) -> tuple[int, ...]:
        return tuple(min(self.chunk, max(size, 1)) if i == 0 else max(size, 1) for i, size in enumerate(variable.shape))

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._pieces == 0:
            shutil.rmtree(self._tmp, ignore_errors=True)
            if exc_type is None:
                raise StoreError(f"store {self.path}: nothing was appended, so nothing was written")
            return
        import zarr

        group = zarr.open_group(self._tmp, mode="r+", zarr_format=3)
        group.attrs[_COMPLETE_ATTR] = True
        _publish(self._tmp, self.path, self.overwrite)


def _publish(tmp: Path, final: Path, overwrite: bool) -> None:
    old = None
    if final.exists():
        if not overwrite:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"store {final} appeared while writing; pass overwrite=True to replace it")
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def open_store(path: str | Path) -> xr.Dataset:
    """Open a store lazily (nothing is loaded until indexed) after checking it is complete."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"store {path} does not exist")
    try:
        dataset = xr.open_dataset(path, engine="zarr", chunks=None, consolidated=False, zarr_format=3)
    except Exception as exc:  # zarr raises many kinds of errors on a damaged store
        raise StoreError(f"store {path} cannot be opened as a zarr v3 store: {exc}") from exc
    if dataset.attrs.get(_COMPLETE_ATTR) is not True:
        raise StoreError(f"store {path} is incomplete (its writer did not finish); write it again")
    dataset.attrs = {k: v for k, v in dataset.attrs.items() if k != _COMPLETE_ATTR}
    return dataset


def load_store(path: str | Path) -> xr.Dataset:
    """Open a store and load it into memory."""
    return open_store(path).load()


def iter_store(path: str | Path, *, piece: int = DEFAULT_CHUNK) -> Iterator[xr.Dataset]:
    """Yield a store in loaded pieces of ``piece`` entries along its first dimension."""
    if isinstance(piece, bool) or not isinstance(piece, (int, np.integer)) or piece <= 0:
        raise ParameterError(f"`piece` of iter_store must be a positive int; got {piece!r}")
    dataset = open_store(path)
    dim = next(iter(dataset.dims))
    for start in range(0, dataset.sizes[dim], piece):
        yield dataset.isel({dim: slice(start, start + piece)}).load()
