"""One data path for every command: a simlab store or raw market-data files, loaded as order flow (and books).

:func:`load_dataset` is the only place that tells a store from raw files. A store (a ``*.zarr`` folder written by
``simlab ingest``, ``simlab simulate`` or ``simlab replay``) is loaded as it is: its reader options were fixed when
it was ingested. Raw files go through :func:`simlab.io.read` with a format (detected or given) and reader options.
Several inputs that each hold a whole dataset (stores, or files of a one-file format such as consecutive
``*.trades.csv.gz``) are read one by one and concatenated in time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.store import is_store, list_groups, load_store

ROW_DIMS = {"events": "event", "books": "time"}
"""The groups a dataset holds, and the dimension they are concatenated along."""


def load_dataset(
    paths: Path | str | Sequence[Path | str],
    group: str | None = None,
    *,
    format: str = "auto",
    **options: Any,
) -> dict[str, xr.Dataset]:
    """Return ``{"events": ..., "books": ...}`` (books when present) from simlab stores or raw market-data files.

    Parameters
    ----------
    paths
        One store, several stores read in order, raw files of one format (several for a format that pairs files,
        e.g. a LOBSTER message and orderbook file; consecutive files of a one-file format), or a folder of raw
        files read together.
    group
        Stores only: the events group of a store holding several (default: ``events``, else the first group, e.g.
        ``path0000`` of ``simlab simulate hawkes``); a store without groups is one events Dataset.
    format
        Raw files only: a format of :data:`simlab.io.FORMATS`, or ``"auto"`` to detect it.
    **options
        Raw files only: the reader's keyword options (e.g. ``sort=True``).
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ParameterError("`paths` must name at least one store or file; got none")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DataError(f"dataset {', '.join(missing)} does not exist; expected a simlab store or raw data files")
    stores = [p for p in paths if is_store(p)]
    if stores and len(stores) < len(paths):
        raw = [p.name for p in paths if p not in stores]
        raise ParameterError(
            f"`paths` mixes simlab stores {[p.name for p in stores]} with raw files {raw}; ingest the raw files "
            "with `simlab ingest` first, or give stores only or files only"
        )
    if stores:
        if format != "auto" or options:
            given = [f"format={format!r}"] * (format != "auto") + sorted(options)
            raise ParameterError(
                f"{[p.name for p in stores]} are simlab stores, read with the options fixed at ingest; `format` and "
                f"`options` (reader options) apply to raw files only; got {', '.join(given)}"
            )
        parts = [(p.name, _from_store(p, group)) for p in paths]
    else:
        if group is not None:
            raise ParameterError(f"`group` applies to a simlab store; {[p.name for p in paths]} are raw files")
        parts = _from_files(paths, format, options)
    return _concatenate(parts)


def _from_store(path: Path, group: str | None) -> dict[str, xr.Dataset]:
    groups = list_groups(path)
    if not groups:
        data = {"events": load_store(path)}
    else:
        events = group or ("events" if "events" in groups else groups[0])
        if events not in groups:
            raise DataError(f"store {path} has no group {events!r}; its groups are {groups}")
        data = {"events": load_store(path, events)}
        if events == "events" and "books" in groups:
            data["books"] = load_store(path, "books")
    found = sorted(data["events"].variables)
    if not {"ts_ns", "kind", "side"} <= set(found):
        where = f"store {path}" + (f", group {events!r}," if groups else "")
        raise DataError(
            f"{where} holds no events: expected the variables ts_ns, kind and side of the event schema (as "
            f"`simlab ingest` or `simlab simulate` write); found {found[:8]}"
        )
    return data


def _from_files(paths: list[Path], format: str, options: dict[str, Any]) -> list[tuple[str, dict[str, xr.Dataset]]]:
    from simlab.io import FORMATS, detect_format, read

    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{[str(p) for p in paths]}: the folder holds no files; expected raw data files or a store")
    name = detect_format(files) if format == "auto" else format
    one_file = name in FORMATS and FORMATS[name].bind.__name__ == "_one"
    if one_file and len(files) > 1:
        return [(f.name, _order_flow(read(f, name, **options), f.name, name)) for f in files]
    label = ", ".join(f.name for f in files)
    return [(label, _order_flow(read(files, name, **options), label, name))]


def _order_flow(groups: dict[str, xr.Dataset], label: str, format: str) -> dict[str, xr.Dataset]:
    if "events" not in groups:
        raise DataError(f"{label}: the {format} reader gave no events (groups: {sorted(groups)}); expected order flow")
    return {name: groups[name] for name in ROW_DIMS if name in groups}


def _concatenate(parts: list[tuple[str, dict[str, xr.Dataset]]]) -> dict[str, xr.Dataset]:
    if len(parts) == 1:
        return parts[0][1]
    kinds = {label: sorted(data) for label, data in parts}
    if len({tuple(k) for k in kinds.values()}) != 1:
        raise DataError(f"the inputs hold different groups {kinds}; give inputs of one kind to read them together")
    for (before, a), (after, b) in zip(parts, parts[1:], strict=False):
        last, first = a["events"]["ts_ns"].values[-1:], b["events"]["ts_ns"].values[:1]
        if last.size and first.size and first[0] < last[0]:
            raise DataError(
                f"{after} starts at ts_ns {first[0]}, before {before} ends ({last[0]}); give consecutive inputs "
                "in time order"
            )
    return {
        name: xr.concat([data[name] for _, data in parts], dim=dim, combine_attrs="override")
        for name, dim in ROW_DIMS.items()
        if name in parts[0][1]
    }
