"""Library functions behind the CLI's data commands: features of a dataset, and a store's description."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simlab.errors import DataError
from simlab.features import compute_features
from simlab.io.dataset import load_dataset
from simlab.provenance import provenance
from simlab.store import is_store, list_groups, open_store, write_store
from simlab.times import parse_duration_ns


def features_to_store(
    paths: Path | str | Sequence[Path | str],
    output: Path | None = None,
    *,
    bin: str | int = "1s",
    threshold: float = 0.1,
    overwrite: bool = False,
    format: str = "auto",
    **options: Any,
) -> dict[str, Any]:
    """Compute the standard feature bars of a dataset (its events, and its books when present) into ``output``.

    ``paths`` is a store or raw files (see :func:`simlab.io.dataset.load_dataset`, which takes ``format`` and the
    reader ``options``). ``output`` defaults to ``STORE.bars.zarr`` beside a single store; raw files need it.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if output is None:
        if len(paths) != 1 or not is_store(paths[0]):
            raise DataError(f"{[p.name for p in paths]} are raw files: pass `output`, the bars store to write")
        output = paths[0].with_name(paths[0].name.removesuffix(".zarr") + ".bars.zarr")
    data = load_dataset(paths, format=format, **options)
    bin_ns = parse_duration_ns(bin)
    started = time.perf_counter()
    bars = compute_features(data["events"], data.get("books"), bin_ns=bin_ns, threshold=threshold)
    elapsed = time.perf_counter() - started
    config = {"data": [str(p) for p in paths], "bin_ns": bin_ns, "threshold": threshold}
    config.update(format=format, options=options)
    write_store(bars, output, attrs=provenance(seed=None, config=config), overwrite=overwrite)
    return {
        "output": str(output),
        "bars": bars.sizes["time"],
        "variables": len(bars.data_vars),
        "seconds": round(elapsed, 3),
    }


def describe_store(store: Path) -> dict[str, Any]:
    """Return a JSON-ready description of a store: groups, sizes, variables, dtypes and attributes."""
    store = Path(store)
    if not store.exists():
        raise DataError(f"store {store} does not exist")
    if not is_store(store):
        found = "a file" if store.is_file() else "a folder without zarr.json"
        raise DataError(
            f"{store} is not a simlab store: expected a zarr folder holding zarr.json, as `simlab ingest` and "
            f"`simlab simulate` write; found {found}"
        )
    groups = list_groups(store) or [None]
    description: dict[str, Any] = {"store": str(store), "groups": {}}
    for group in groups:
        dataset = open_store(store, group)
        attrs = {
            k: (v if len(json.dumps(v, default=str)) < 300 else f"<{len(str(v))} chars>")
            for k, v in dataset.attrs.items()
        }
        description["groups"][group or "/"] = {
            "sizes": dict(dataset.sizes),
            "variables": {name: str(var.dtype) for name, var in dataset.variables.items()},
            "attrs": attrs,
        }
    return description
