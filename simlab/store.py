"""The data store: xarray Datasets in zarr (v3) directories, written atomically and read lazily in pieces.

A store is written into a hidden sibling directory and renamed into place only once complete, so a crash never
leaves a half-written store under the final name. :class:`StoreWriter` appends pieces along one dimension, so a
store larger than memory can be written; :func:`iter_store` reads one back piece by piece.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError, StoreError

DEFAULT_CHUNK = 1 << 18
_COMPLETE_ATTR = "simlab_complete"


def write_store(
    dataset: xr.Dataset | Mapping[str, xr.Dataset],
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
        Events, books or bars (any Dataset whose attributes are JSON-serialisable), or a mapping of group names
        to Datasets (``{"events": ..., "books": ...}``), each written as a zarr group.
    path
        The store directory (conventionally ``*.zarr``).
    attrs
        Attributes added to the dataset's own (provenance: seed, config, version, commit, true parameters).
    chunk
        Chunk length along the first dimension of every variable.
    overwrite
        Replace an existing store; otherwise an existing path is an error.
    """
    groups = {None: dataset} if isinstance(dataset, xr.Dataset) else dict(dataset)
    if not groups:
        raise StoreError(f"store {path}: nothing to write (an empty mapping of groups)")
    with StoreWriter(path, attrs=attrs, chunk=chunk, overwrite=overwrite) as writer:
        for group, data in groups.items():
            writer.append(data, group=group)
    return Path(path)


class StoreWriter:
    """Write a store piece by piece along its first dimension, then publish it atomically.

    Use as a context manager: ``with StoreWriter(path) as w: w.append(piece)``. Pieces may go to named groups
    (``w.append(events, group="events")``). The store's provenance ``attrs`` go on its root. On a clean exit the
    store is renamed into place; on an exception the partial store is deleted and nothing appears at ``path``.
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
        self._dims: dict[str | None, str] = {}
        self._pieces = 0

    def __enter__(self) -> StoreWriter:
        if self.path.exists() and not self.overwrite:
            raise StoreError(f"store {self.path} already exists; pass overwrite=True to replace it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def append(self, piece: xr.Dataset, group: str | None = None) -> None:
        """Append one piece to ``group`` (the root when None) along the first dimension of its first piece."""
        if group is not None and (not group.isidentifier() or group.startswith("_")):
            raise StoreError(f"store {self.path}: group names must be identifiers; got {group!r}")
        dim = self._dims.get(group) or next(iter(piece.dims), None)
        if dim is None or dim not in piece.dims:
            raise StoreError(f"piece {self._pieces} of store {self.path} (group {group!r}) lacks dimension {dim!r}")
        piece = _portable_text(piece.copy())
        if group not in self._dims:
            root_attrs = {**self.attrs, _COMPLETE_ATTR: False} if not self._dims else {}
            if group is None:
                piece.attrs = {**piece.attrs, **root_attrs}
            elif root_attrs:
                xr.Dataset(attrs=root_attrs).to_zarr(self._tmp, mode="w-", zarr_format=3, consolidated=False)
            self._dims[group] = dim
            encoding = {name: {"chunks": self._chunks(piece[name])} for name in piece.variables}
            mode = "w-" if not root_attrs or group is None else "a"
            piece.to_zarr(self._tmp, group=group, mode=mode, zarr_format=3, consolidated=False, encoding=encoding)
        else:
            piece.attrs = {}
            piece.to_zarr(self._tmp, group=group, append_dim=dim, zarr_format=3, consolidated=False)
        self._pieces += 1

    def _chunks(self, variable: xr.Variable) -> tuple[int, ...]:
        return tuple(min(self.chunk, max(size, 1)) if i == 0 else max(size, 1) for i, size in enumerate(variable.shape))

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._dims:
            shutil.rmtree(self._tmp, ignore_errors=True)
            if exc_type is None:
                raise StoreError(f"store {self.path}: nothing was appended, so nothing was written")
            return
        import zarr

        group = zarr.open_group(self._tmp, mode="r+", zarr_format=3)
        group.attrs[_COMPLETE_ATTR] = True
        _publish(self._tmp, self.path, self.overwrite)


def _portable_text(piece: xr.Dataset) -> xr.Dataset:
    """Return ``piece`` with its fixed-width unicode variables as variable-length strings.

    Zarr v3 has no specification for numpy's fixed-width ``<U`` type (zarr warns that other libraries may not read
    it); variable-length UTF-8 strings are in the specification. The text is unchanged; it reads back as ``object``.
    """
    text = [name for name, variable in piece.variables.items() if variable.dtype.kind == "U"]
    if not text:
        return piece
    piece = piece.assign_coords({name: piece[name].astype(object) for name in text if name in piece.coords})
    return piece.assign({name: piece[name].astype(object) for name in text if name in piece.data_vars})


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to the file ``path`` atomically and return the path.

    The text goes to a hidden temporary file beside ``path``, which is then renamed over it: a reader, or a run
    killed half-way, sees the old file whole or the new one, never a part. The folder must exist.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


def open_store(path: str | Path, group: str | None = None) -> xr.Dataset:
    """Open a store (or one of its groups) lazily, after checking that its writer finished.

    Nothing is loaded until indexed. A group's Dataset carries the store's root (provenance) attributes too; they
    take precedence over the group's own attributes of the same name.
    """
    path = Path(path)
    root_attrs = _root_attrs(path)
    try:
        dataset = xr.open_dataset(path, group=group, engine="zarr", chunks=None, consolidated=False, zarr_format=3)
    except Exception as exc:  # zarr raises many kinds of errors on a damaged store or a missing group
        where = f"group {group!r} of store {path}" if group else f"store {path}"
        raise StoreError(f"{where} cannot be opened (groups: {list_groups(path)}): {exc}") from exc
    dataset.attrs = {**dataset.attrs, **root_attrs}
    dataset.attrs.pop(_COMPLETE_ATTR, None)
    return dataset


def is_store(path: str | Path) -> bool:
    """Return whether ``path`` is a zarr v3 store (a folder holding ``zarr.json``), as every simlab store is."""
    return (Path(path) / "zarr.json").is_file()


def list_groups(path: str | Path) -> list[str]:
    """Return the names of the groups of a store (empty for a single-Dataset store)."""
    import zarr

    _root_attrs(Path(path))
    root = zarr.open_group(path, mode="r", zarr_format=3)
    return sorted(name for name, _ in root.groups())


def _root_attrs(path: Path) -> dict[str, Any]:
    import zarr

    if not path.exists():
        raise StoreError(f"store {path} does not exist")
    try:
        attrs = dict(zarr.open_group(path, mode="r", zarr_format=3).attrs)
    except Exception as exc:
        raise StoreError(f"store {path} is not a zarr v3 store: {exc}") from exc
    if attrs.get(_COMPLETE_ATTR) is not True:
        raise StoreError(f"store {path} is incomplete (its writer did not finish); write it again")
    return attrs


def load_store(path: str | Path, group: str | None = None) -> xr.Dataset:
    """Open a store (or one of its groups) and load it into memory."""
    return open_store(path, group).load()


def iter_store(path: str | Path, *, group: str | None = None, piece: int = DEFAULT_CHUNK) -> Iterator[xr.Dataset]:
    """Yield a store (or one of its groups) in loaded pieces of ``piece`` entries along its first dimension."""
    if isinstance(piece, bool) or not isinstance(piece, (int, np.integer)) or piece <= 0:
        raise ParameterError(f"`piece` of iter_store must be a positive int; got {piece!r}")
    dataset = open_store(path, group)
    dim = next(iter(dataset.dims))
    for start in range(0, dataset.sizes[dim], piece):
        yield dataset.isel({dim: slice(start, start + piece)}).load()
