"""Store round trips (hypothesis), groups, atomic publication and incomplete-store detection."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import StoreError
from simlab.provenance import provenance
from simlab.schema import EventKind, make_books, make_events
from simlab.store import StoreWriter, iter_store, list_groups, load_store, open_store, write_store


def _events(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return make_events(
        ts_ns=np.sort(rng.integers(0, 10**12, n)),
        kind=rng.choice([k.value for k in EventKind], n),
        side=rng.choice([-1, 0, 1], n),
        price_ticks=rng.integers(-(10**9), 10**9, n),
        qty_lots=rng.integers(0, 10**6, n),
        order_id=rng.integers(-1, 10**9, n),
        tick_size=0.01,
        lot_size=0.001,
        instrument="TEST",
        venue="unit",
        extra={"trade_id": np.arange(n)},
    )


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 300), chunk=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_events_round_trip(tmp_path_factory, n, chunk, seed):
    events = _events(n, seed)
    path = write_store(events, tmp_path_factory.mktemp("s") / "e.zarr", chunk=chunk, attrs=provenance(seed=seed))
    back = load_store(path)
    assert back.drop_attrs().identical(events.drop_attrs())
    assert back.attrs["seed"] == seed and back.attrs["tick_size"] == 0.01


def test_groups_round_trip_and_carry_provenance(tmp_path):
    books = make_books(
        ts_ns=[1, 2],
        bid_price=[[99, 98]] * 2,
        bid_qty=[[1, 2]] * 2,
        ask_price=[[101, 102]] * 2,
        ask_qty=[[3, 4]] * 2,
    )
    path = write_store({"events": _events(50), "books": books}, tmp_path / "m.zarr", attrs={"seed": 7})
    assert list_groups(path) == ["books", "events"]
    assert load_store(path, "books").drop_attrs().identical(books.drop_attrs())
    assert open_store(path, "events").attrs["seed"] == 7


def test_pieces_append_and_iterate(tmp_path):
    events = _events(1000)
    with StoreWriter(tmp_path / "p.zarr", chunk=128) as writer:
        for start in range(0, 1000, 300):
            writer.append(events.isel(event=slice(start, start + 300)))
    pieces = list(iter_store(tmp_path / "p.zarr", piece=256))
    assert [p.sizes["event"] for p in pieces] == [256, 256, 256, 232]
    assert np.array_equal(np.concatenate([p["ts_ns"].values for p in pieces]), events["ts_ns"].values)
    assert zarr.open_array(tmp_path / "p.zarr" / "ts_ns", mode="r").chunks == (128,)


def test_crash_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), StoreWriter(tmp_path / "c.zarr") as writer:
        writer.append(_events(10))
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_existing_store_is_kept_unless_overwrite(tmp_path):
    path = write_store(_events(5), tmp_path / "x.zarr")
    with pytest.raises(StoreError, match="already exists"):
        write_store(_events(6), path)
    write_store(_events(6), path, overwrite=True)
    assert load_store(path).sizes["event"] == 6
    assert [p.name for p in tmp_path.iterdir()] == ["x.zarr"]


def test_incomplete_or_missing_store_is_refused(tmp_path):
    _events(5).to_zarr(tmp_path / "half.zarr", zarr_format=3, consolidated=False)
    with pytest.raises(StoreError, match="incomplete"):
        open_store(tmp_path / "half.zarr")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "none.zarr")
    path = write_store(_events(5), tmp_path / "ok.zarr")
    with pytest.raises(StoreError, match="cannot be opened"):
        open_store(path, "nope")


def test_ingest_records_source_digests_at_the_root(tmp_path):
    import hashlib
    import json

    from simlab.io import ingest

    source = tmp_path / "BTCUSDT-trades-2024-08-08.csv"
    source.write_text(
        "1,61800.10,0.001,61.8001,1723075200000,true,true\n2,61800.20,0.002,123.6004,1723075200001,false,true\n"
    )
    ingest(source, tmp_path / "t.zarr")
    events = open_store(tmp_path / "t.zarr", "events")
    (entry,) = json.loads(events.attrs["sources"])
    assert entry == {
        "name": source.name,
        "bytes": source.stat().st_size,
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
    }
    assert json.loads(events.attrs["config"])["format"] == "binance-trades" and events.attrs["seed"] is None


def test_text_is_stored_as_portable_strings(tmp_path):
    # numpy's fixed-width unicode has no zarr v3 specification (zarr warns that other readers may fail on it): the
    # store writes text as variable-length strings, in pieces too, and the text reads back unchanged
    import warnings

    import xarray as xr

    piece = xr.Dataset(
        {"label": ("row", np.array(["ab", "cde"])), "value": ("row", [1.0, 2.0])},
        coords={"row": np.array(["p", "q"]), "design": ("row", np.array(["fixed", "dynamic"]))},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", zarr.errors.UnstableSpecificationWarning)
        with StoreWriter(tmp_path / "t.zarr") as writer:
            writer.append(piece)
            writer.append(piece.assign_coords(row=np.array(["r", "s"])))
    back = load_store(tmp_path / "t.zarr")
    assert back["label"].values.tolist() == ["ab", "cde", "ab", "cde"]
    assert back["row"].values.tolist() == ["p", "q", "r", "s"]
    assert back["design"].values.tolist() == ["fixed", "dynamic"] * 2
    assert back["value"].values.tolist() == [1.0, 2.0, 1.0, 2.0]
    assert zarr.open_array(tmp_path / "t.zarr" / "label", mode="r").dtype == np.dtypes.StringDType()


def test_text_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    import os

    from simlab.store import write_text_atomic

    path = write_text_atomic(tmp_path / "scores.json", "old\n")
    assert path.read_text() == "old\n"
    assert write_text_atomic(str(path), "new\n") == path and path.read_text() == "new\n"

    def interrupted(src, dst):  # a run killed between writing the temporary file and renaming it
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(path, "half")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]  # no temporary file left behind
