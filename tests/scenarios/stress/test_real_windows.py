"""Real stress windows: a synthetic tape whose extreme window and shape are known, a tape shorter than a window, and
one real tape (the AAPL LOBSTER messages) against a brute-force search written with loops."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from scenarios.stress.real_windows import (
    TAPES,
    lean_last_sale,
    markdown_table,
    real_windows,
    regular_session_ns,
    tape_paths,
    tape_windows,
    windows_dataset,
)
from simlab.errors import ParameterError
from simlab.io.lean import read_lean_equity
from simlab.io.lobster import read_lobster
from simlab.metrics.crash import crash_path_from_book, extreme_move
from simlab.schema import EventKind, make_books, make_events

ORIGIN_NS = 1_600_000_000 * 10**9


def trade_tape(prices: np.ndarray, qty: np.ndarray | None = None):
    """One trade a second at the given prices (ticks) from ORIGIN_NS."""
    n = prices.size
    return make_events(
        ts_ns=ORIGIN_NS + np.arange(n, dtype=np.int64) * 10**9, kind=int(EventKind.TRADE), side=1,
        price_ticks=prices.astype(np.int64), qty_lots=np.ones(n, np.int64) if qty is None else qty,
        tick_size=0.01, lot_size=1.0, instrument="TOY", venue="test",
    )  # fmt: skip


def planted_crash() -> np.ndarray:
    """3000 s: noise of +-1 tick around 10000 until 1500 s, flat to 2100 s, a fall of 300 ticks over 60 s, a linear
    recovery of 0.5 tick/s to 9850 at 2460 s, then flat."""
    t = np.arange(3000)
    noise = np.random.default_rng(7).integers(-1, 2, t.size)
    price = np.where(t < 1500, 10000 + noise, 10000)
    price = np.where((t >= 2100) & (t <= 2160), 10000 - 5 * (t - 2100), price)
    return np.where(t > 2160, np.minimum(9700 + 0.5 * (t - 2160), 9850), price)


def test_the_planted_crash_is_the_extreme_minute_with_its_known_shape():
    qty = np.where((np.arange(3000) >= 2100) & (np.arange(3000) <= 2160), 4, 1)
    path = crash_path_from_book(trade_tape(planted_crash(), qty), None)
    assert path.origin_ns == ORIGIN_NS and path.depth is None and path.spread is None
    assert extreme_move(path, 60.0) == (2100.0, -1, pytest.approx(-0.03))
    (row,) = tape_windows("toy", [path], windows_s=(60.0,))
    assert row["start_utc"] == "2020-09-13T13:01:40+00:00"  # 1.6e9 s + 2100 s
    assert row["direction"] == -1 and row["drawdown"] == pytest.approx(0.03)  # pre-event median 10000
    assert row["time_to_trough_s"] == 60.0
    assert row["half_life_s"] == pytest.approx(300.0)  # 150 ticks back at 0.5 tick/s
    assert row["recovered_1min"] == pytest.approx(30 / 300)
    assert row["volume_ratio"] == pytest.approx(4.0)  # 4 lots/s on the leg against 1 lot/s before
    assert math.isnan(row["min_depth_ratio"]) and math.isnan(row["hot_potato_ratio"])


def test_a_window_longer_than_the_tape_is_not_measured():
    path = crash_path_from_book(trade_tape(planted_crash()[1800:2161]), None)  # 6 minutes
    rows = tape_windows("short", [path])
    assert [r["window_s"] for r in rows] == [60.0, 300.0, 900.0]
    assert rows[0]["move"] == pytest.approx(-0.03) and rows[1]["move"] == pytest.approx(-0.03)
    assert math.isnan(rows[2]["drawdown"]) and rows[2]["start_utc"] == ""
    assert rows[2]["note"].startswith("not measured: the tape spans 360 s")
    table = windows_dataset(rows, config=dict(grid_s=1.0))
    assert table.attrs["seed"] is None and '"grid_s": 1.0' in table.attrs["config"]
    np.testing.assert_array_equal(table["window_s"].values, [60.0, 300.0, 900.0])
    assert table["drawdown"].values[0] == rows[0]["drawdown"] and np.isnan(table["drawdown"].values[2])
    assert "| short | 15 min | n/a |" in markdown_table([dict(r, mid_source="trades") for r in rows])


def test_the_most_extreme_segment_wins_and_a_span_cuts_the_grid():
    calm = crash_path_from_book(trade_tape(np.full(400, 10000)), None)
    crash = crash_path_from_book(trade_tape(planted_crash()[1900:2300]), None)
    (row,) = tape_windows("two days", [calm, crash], windows_s=(60.0,))
    assert row["move"] == pytest.approx(-0.03) and row["event_s"] == 200.0
    books = make_books(
        ts_ns=np.array([ORIGIN_NS - 10**9, ORIGIN_NS + 5 * 10**9]),
        bid_price=np.array([[9999, 9980], [9998, 9985]]), bid_qty=np.array([[3, 9], [4, 7]]),
        ask_price=np.array([[10001, 10011], [10001, 10005]]), ask_qty=np.array([[2, 1], [2, 1]]),
        attrs=dict(tick_size=0.01, instrument="TOY", venue="test"),
    )  # fmt: skip
    span = (ORIGIN_NS + 2 * 10**9, ORIGIN_NS + 9 * 10**9)
    path = crash_path_from_book(trade_tape(np.full(20, 10000)), books, span_ns=span)
    np.testing.assert_array_equal(path.mid, [10000, 10000, 10000, 9999.5, 9999.5, 9999.5, 9999.5, 9999.5])
    np.testing.assert_array_equal(path.spread, [2, 2, 2, 3, 3, 3, 3, 3])
    # 10 bps of the mid is 10 ticks: 9980 and 10011 (book 1) and 9985 (book 2) lie outside
    np.testing.assert_array_equal(path.depth, [5, 5, 5, 7, 7, 7, 7, 7])
    np.testing.assert_array_equal(path.volume, np.ones(8))  # trades before 2 s and after 9 s left out
    with pytest.raises(ParameterError, match="span_ns"):
        crash_path_from_book(trade_tape(np.full(5, 100)), None, span_ns=(5, 5))


def test_regular_session_in_utc():
    start, end = regular_session_ns("2013-10-07")  # EDT: UTC-4
    assert (start, end) == (1381152600 * 10**9, 1381176000 * 10**9)


def test_the_aapl_tape_against_a_brute_force_search(shared_data):
    (tape,) = [t for t in TAPES if t.name.startswith("LOBSTER AAPL")]
    rows = real_windows(shared_data, tapes=[tape])
    assert [r["window_s"] for r in rows] == [60.0, 300.0, 900.0] and all(r["mid_source"] == "trades" for r in rows)
    events = read_lobster(shared_data / tape.segments[0][0])["events"]
    trade = np.isin(events["kind"].values, (EventKind.TRADE, EventKind.TRADE_HIDDEN))
    ts, price = events["ts_ns"].values[trade].tolist(), events["price_ticks"].values[trade].tolist()
    origin = min(events["ts_ns"].values.tolist()) // 10**9 * 10**9
    mids, i, last = [], 0, math.nan
    for k in range((max(events["ts_ns"].values.tolist()) - origin) // 10**9 + 1):
        while i < len(ts) and ts[i] <= origin + k * 10**9:
            last, i = price[i], i + 1
        mids.append(last)
    for row in rows:
        m = int(row["window_s"])
        best, start = 0.0, None
        for k in range(1, len(mids) - m):
            if not (math.isnan(mids[k]) or math.isnan(mids[k + m])) and abs(mids[k + m] / mids[k] - 1) > abs(best):
                best, start = mids[k + m] / mids[k] - 1, k
        assert row["move"] == pytest.approx(best, rel=1e-12) and row["event_s"] == start
        assert row["drawdown"] > 0 and 0 < row["time_to_trough_s"] <= row["window_s"]
        assert math.isfinite(row["volume_ratio"]) and math.isnan(row["min_depth_ratio"])


def test_an_average_price_print_does_not_set_the_mid_of_a_trade_tape(shared_data):
    (tape,) = [t for t in TAPES if t.name.startswith("LEAN SPY")]
    files = [f for f in tape.segments if "20131010" in f[0]][0]
    events = read_lean_equity(shared_data / files[0])["events"]
    eligible = lean_last_sale(events)
    ts = events["ts_ns"].values
    bad = int(np.flatnonzero(ts == 1381432792836000000)[0])  # 19:19:52.836 UTC, 165.59 USD, flags 0x20100000
    assert events["price_ticks"].values[bad] == 1655900 and not eligible[bad]
    (path,) = tape_paths(dataclasses.replace(tape, segments=(files,)), shared_data)
    (row,) = tape_windows("SPY 2013-10-10", [path], windows_s=(60.0,))
    assert abs(row["move"]) < 0.005  # with the print as a price the day's extreme minute was a fake 2.1 %
    unfiltered = crash_path_from_book(events, None, span_ns=regular_session_ns("2013-10-10"))
    assert abs(extreme_move(unfiltered, 60.0)[2]) > 0.02
