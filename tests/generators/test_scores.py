"""The per-score breakdown of a held-out scorecard and the real windows it is compared with
(:mod:`scenarios.generate.scores`)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from generators.evaluation import realism
from scenarios.generate.heldout import classifier_record, floor_summary
from scenarios.generate.scores import level_span, real_windows, score_rows, window_summary, windows_of
from simlab.errors import DataError, ParameterError


def _span(seconds: list[float]) -> dict[str, xr.Dataset]:
    ts = (np.asarray(seconds) * 1e9).astype(np.int64)
    return {"events": xr.Dataset({"ts_ns": ("event", ts)})}


def test_level_span_is_the_median_ticks_to_level_10_over_the_rows_that_have_10_levels():
    bid_price = np.array([[100 - 2 * k for k in range(12)], [100 - 3 * k for k in range(12)], [100] * 12])
    ask_price = np.array([[101 + k for k in range(12)]] * 3)
    bid_qty = np.ones((3, 12), np.int64)
    bid_qty[2, 5:] = 0  # the third row has 5 bid levels: left out
    ask_qty = np.ones((3, 12), np.int64)
    arrays = {"bid_price": bid_price, "bid_qty": bid_qty, "ask_price": ask_price, "ask_qty": ask_qty}
    books = xr.Dataset({name: (("time", "level"), v) for name, v in arrays.items()})
    out = level_span(books)
    assert out["bid"] == {"median_ticks": 22.5, "full_share": 2 / 3}  # 18 and 27 ticks
    assert out["ask"] == {"median_ticks": 9.0, "full_share": 1.0}


def test_windows_of_cuts_whole_windows_from_the_first_event():
    span = _span([0.0, 0.5, 1.9, 2.0, 3.99, 4.0, 6.5, 7.0, 9.0, 10.5])
    # 10.5 s hold 5 whole windows of 2 s: [0, 2), [2, 4), [4, 6), [6, 8), [8, 10); the last event is left out
    assert windows_of(span, 2.0) == [(0, 0, 3), (1, 3, 5), (2, 5, 6), (3, 6, 8), (4, 8, 9)]
    assert windows_of(span, 2.0, every=2) == [(0, 0, 3), (2, 5, 6), (4, 8, 9)]
    assert windows_of(span, 11.0) == []
    with pytest.raises(ParameterError, match="`duration` of windows_of must be a number of seconds > 0; got 0"):
        windows_of(span, 0)
    with pytest.raises(ParameterError, match="`every` of windows_of must be an int >= 1; got 0"):
        windows_of(span, 2.0, every=0)


def test_real_windows_score_each_window_of_the_earlier_spans_against_the_test_span(zi_spans):
    windows = real_windows(zi_spans, 20.0, seed=5, names=("validation",), n_boot=10)
    validation = zi_spans["validation"]
    ts = validation["events"]["ts_ns"].values
    assert [w["index"] for w in windows] == list(range(int((ts[-1] - ts[0]) // 20e9)))
    assert len(windows) == 2
    for window in windows:
        lo, hi = window["rows"]
        assert ts[lo] >= ts[0] + window["index"] * 20e9 and ts[hi - 1] < ts[0] + (window["index"] + 1) * 20e9
        assert lo == 0 or ts[lo - 1] < ts[0] + window["index"] * 20e9  # nothing of the window left out
    # the second window scored by hand gives the same card
    lo, hi = windows[1]["rows"]
    direct = {
        "events": validation["events"].isel(event=slice(lo, hi)),
        "books": validation["books"].isel(time=slice(lo, hi)),
    }
    card = realism([direct], zi_spans["test"], seed=5, n_boot=10)[0]
    assert windows[1]["mean_l1"] == card.summary["l1"]["mean"]
    # the classifier's record: here the reason it did not apply (a 20-s window holds too few classifier windows)
    assert isinstance(card.discriminative, str) and windows[1]["classifier"] == f"not applicable: {card.discriminative}"
    rows = score_rows(card)
    assert rows == windows[1]["rows_l1"]
    # each row is its score's value less its floor, worst first; indistinguishable as floor_summary says
    summary = floor_summary(card)
    assert len(rows) == len(summary["l1_rows"]) > 10
    for row in rows:
        d = summary["l1_rows"][row["score"]]
        assert row["excess"] == d["value"] - d["floor"]
        assert row["indistinguishable"] == (row["score"] in summary["indistinguishable"])
    assert [r["excess"] for r in rows] == sorted((r["excess"] for r in rows), reverse=True)
    # the summary over windows: each score's smallest, median and largest value over the windows that have it
    table = window_summary(windows)
    name = rows[0]["score"]
    values = [r["value"] for w in windows for r in w["rows_l1"] if r["score"] == name]
    assert table[name] == {"min": min(values), "median": float(np.median(values)), "max": max(values), "count": 2}


def test_real_windows_refuse_missing_spans_and_spans_without_a_whole_window(zi_spans):
    with pytest.raises(DataError, match=r"real windows: the spans must hold 'test'"):
        real_windows({"validation": zi_spans["validation"]}, 20.0, seed=5, names=("validation",))
    with pytest.raises(DataError, match=r"the spans \['validation'\] hold no whole window of 500 s"):
        real_windows(zi_spans, 500.0, seed=5, names=("validation",), n_boot=10)


def test_the_long_spec_is_the_default_spec_trained_twice_as_long():
    from dataclasses import replace
    from pathlib import Path

    from generators.spec import load_spec

    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    default, long = (load_spec(library / f"generate_aapl_tiny{tail}.toml") for tail in ("", "_long"))
    assert long.overrides == {"max_steps": 3000}
    assert replace(long, overrides={}, text="") == replace(default, text="")


def test_a_record_keeps_the_classifier_whole(zi_spans):
    """The held-out records store the classifier's result, not its AUC alone: its interval, the features it read (the
    book's five where both datasets are quoted) and any windows it left out; where it did not apply, the reason."""
    card = realism([zi_spans["train"]], zi_spans["test"], seed=5, n_boot=10)[0]
    record = classifier_record(card)
    assert record == card.discriminative.to_dict() and record["low"] <= record["auc"] <= record["high"]
    assert {"mean_spread", "mean_imbalance", "log_touch_volume"} <= set(record["features"])  # a quoted ZI book
    short = {"events": zi_spans["validation"]["events"].isel(event=slice(0, 300)),
             "books": zi_spans["validation"]["books"].isel(time=slice(0, 300))}  # fmt: skip
    few = realism([short], zi_spans["test"], seed=5, n_boot=10)[0]  # 300 events: too few windows
    assert classifier_record(few) == f"not applicable: {few.discriminative}"
