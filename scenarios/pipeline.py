"""Library functions behind the CLI's data commands: features of a store, and a store's description."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from simlab.errors import DataError
from simlab.features import compute_features
from simlab.provenance import provenance
from simlab.store import list_groups, load_store, open_store, write_store
from simlab.times import parse_duration_ns


def features_to_store(
    store: Path, output: Path, *, bin: str | int = "1s", threshold: float = 0.1, overwrite: bool = False
) -> dict[str, Any]:
    """Compute the standard feature bars of ``store`` (its events, and its books when present) into ``output``."""
    groups = list_groups(store)
    if "events" not in groups:
        raise DataError(f"store {store} has no 'events' group (groups: {groups}); ingest trades or messages first")
    events = load_store(store, "events")
    books = load_store(store, "books") if "books" in groups else None
    bin_ns = parse_duration_ns(bin)
    started = time.perf_counter()
    bars = compute_features(events, books, bin_ns=bin_ns, threshold=threshold)
    elapsed = time.perf_counter() - started
    config = {"store": str(store), "bin_ns": bin_ns, "threshold": threshold}
    write_store(bars, output, attrs=provenance(seed=None, config=config), overwrite=overwrite)
    return {"bars": bars.sizes["time"], "variables": len(bars.data_vars), "seconds": round(elapsed, 3)}


def describe_store(store: Path) -> dict[str, Any]:
    """Return a JSON-ready description of a store: groups, sizes, variables, dtypes and attributes."""
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
