"""Trade-flow features against slow, obvious twins on seeded random trades, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, ParameterError
from simlab.features import (
    bin_ends,
    cumulative_volume_delta,
    large_trade_threshold,
    rolling_trade_flow,
    select_trades,
    trade_bars,
)
from simlab.schema import EventKind, make_events

SEEDS = range(12)


def random_events(seed: int, n: int = 60, horizon: int = 1_000, trade_share: float = 0.8):
    """Random events: trades (some hidden, some of unknown side) mixed with book messages, tied stamps."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, horizon, n)) + 10_000
    kind = np.where(rng.random(n) < trade_share, EventKind.TRADE, EventKind.ADD)
    kind = np.where((kind == EventKind.TRADE) & (rng.random(n) < 0.2), EventKind.TRADE_HIDDEN, kind)
    side = rng.choice([-1, 1, 1, -1, 0] if seed % 3 == 0 else [-1, 1], n)
    return make_events(
        ts_ns=ts,
        kind=kind.astype(np.int8),
        side=side,
        price_ticks=rng.integers(1_000, 1_008, n),
        qty_lots=rng.integers(0 if seed % 4 == 0 else 1, 20, n),
        tick_size=0.01,
        lot_size=1.0,
        instrument="TEST",
        venue="SIM",
    )


def trade_list(events):
    """The trades as a list of (ts, side, price, qty) tuples, selected by a plain loop."""
    rows = []
    for i in range(events.sizes["event"]):
        if int(events["kind"][i]) in (EventKind.TRADE, EventKind.TRADE_HIDDEN):
            rows.append(tuple(int(events[name][i]) for name in ("ts_ns", "side", "price_ticks", "qty_lots")))
    return rows


def slow_percentile(values, percentile):
    ordered = sorted(values)
    position = (len(ordered) - 1) * percentile / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slow_bars(trades, ends, bin_ns, large):
    """Bars by brute force; the TWAP averages the held price over every single nanosecond of the bin."""
    rows = []
    for end in ends:
        start = end - bin_ns
        inside = [t for t in trades if start <= t[0] < end]
        buys = [t for t in inside if t[1] > 0]
        sells = [t for t in inside if t[1] < 0]
        volume = sum(t[3] for t in inside)
        held = []
        for moment in range(start, end):
            before = [t for t in trades if t[0] <= moment]
            if before:
                held.append(before[-1][2])
        row = {
            "trade_count": len(inside),
            "buy_count": len(buys),
            "sell_count": len(sells),
            "volume_lots": volume,
            "buy_volume_lots": sum(t[3] for t in buys),
            "sell_volume_lots": sum(t[3] for t in sells),
            "vwap_ticks": sum(t[2] * t[3] for t in inside) / volume if volume else math.nan,
            "twap_ticks": sum(held) / len(held) if held else math.nan,
            "close_ticks": inside[-1][2] if inside else math.nan,
            "large_trade_share": sum(t[3] > large for t in inside) / len(inside) if inside else math.nan,
            "large_volume_share": sum(t[3] for t in inside if t[3] > large) / volume if volume else math.nan,
        }
        both = row["buy_volume_lots"] + row["sell_volume_lots"]
        row["trade_imbalance"] = (row["buy_volume_lots"] - row["sell_volume_lots"]) / both if both else math.nan
        counted = len(buys) + len(sells)
        row["ofi"] = (len(buys) - len(sells)) / counted if counted else math.nan
        row["ofi_signal"] = 1 if row["ofi"] > 0.1 else (-1 if row["ofi"] < -0.1 else 0)
        rows.append(row)
    cvd = 0
    for row in rows:
        cvd += row["buy_volume_lots"] - row["sell_volume_lots"]
        row["cvd_lots"] = cvd
    return rows


def assert_bars_match(bars, rows):
    assert bars.sizes["time"] == len(rows)
    for name in rows[0] if rows else []:
        expected = np.array([row[name] for row in rows], dtype=float)
        np.testing.assert_allclose(bars[name].values.astype(float), expected, rtol=1e-12, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
def test_trade_bars_match_the_twin(seed):
    events = random_events(seed)
    bin_ns = [7, 50, 100, 333][seed % 4]
    bars = trade_bars(events, bin_ns=bin_ns)
    trades = trade_list(events)
    large = slow_percentile([t[3] for t in trades], 95)
    ts = events["ts_ns"].values
    first = (int(ts[0]) // bin_ns) * bin_ns
    ends = list(range(first + bin_ns, int(ts[-1]) + bin_ns + 1, bin_ns))
    ends = [e for e in ends if e - bin_ns <= ts[-1]]
    assert bars["ts_ns"].values.tolist() == ends
    assert bars.attrs["large_trade_lots"] == pytest.approx(large)
    assert_bars_match(bars, slow_bars(trades, ends, bin_ns, large))


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_trade_bars_on_a_given_window_carry_the_price_in(seed):
    events = random_events(seed)
    start, end = 10_300, 10_800
    bars = trade_bars(events, bin_ns=100, start_ns=start, end_ns=end, large_lots=10)
    ends = list(range(start + 100, end + 1, 100))
    assert bars["ts_ns"].values.tolist() == ends
    assert_bars_match(bars, slow_bars(trade_list(events), ends, 100, 10))


def test_trade_bars_edge_cases():
    one = make_events(
        ts_ns=[1_500],
        kind=EventKind.TRADE,
        side=1,
        price_ticks=7,
        qty_lots=3,
        tick_size=1.0,
        lot_size=1.0,
        instrument="X",
        venue="V",
    )
    bars = trade_bars(one, bin_ns=1_000)
    assert bars["ts_ns"].values.tolist() == [2_000]
    assert bars["buy_count"].item() == 1 and bars["ofi"].item() == 1.0 and bars["ofi_signal"].item() == 1
    assert bars["vwap_ticks"].item() == 7.0 and bars["twap_ticks"].item() == 7.0
    assert bars["vwap_deviation_bps"].item() == 0.0
    empty = one.isel(event=slice(0, 0))
    assert trade_bars(empty, bin_ns=10).sizes["time"] == 0
    gap = trade_bars(empty, bin_ns=10, start_ns=0, end_ns=30)
    assert gap["trade_count"].values.tolist() == [0, 0, 0] and gap["cvd_lots"].values.tolist() == [0, 0, 0]
    assert np.isnan(gap["vwap_ticks"].values).all() and np.isnan(gap["twap_ticks"].values).all()
    assert np.isnan(gap["ofi"].values).all() and (gap["ofi_signal"].values == 0).all()
    later = trade_bars(one, bin_ns=1_000, end_ns=4_000)
    assert later["trade_count"].values.tolist() == [1, 0, 0]
    assert np.isnan(later["vwap_ticks"].values[1:]).all()
    assert later["twap_ticks"].values.tolist() == [7.0, 7.0, 7.0], "the TWAP holds the last price"


def test_all_buy_bins_give_full_imbalance():
    events = make_events(
        ts_ns=[1, 2, 3],
        kind=EventKind.TRADE,
        side=1,
        price_ticks=[5, 6, 5],
        qty_lots=[1, 2, 3],
        tick_size=1.0,
        lot_size=1.0,
        instrument="X",
        venue="V",
    )
    bars = trade_bars(events, bin_ns=10)
    assert bars["trade_imbalance"].item() == 1.0 and bars["ofi"].item() == 1.0
    assert bars["sell_volume_lots"].item() == 0 and bars["cvd_lots"].item() == 6
    assert bars["vwap_ticks"].item() == pytest.approx((5 + 12 + 15) / 6)


def test_bin_ends_rules():
    assert bin_ends(np.array([1_050, 2_999]), 1_000).tolist() == [2_000, 3_000]
    assert bin_ends(np.array([-5]), 10).tolist() == [0]
    assert bin_ends(np.array([1_000]), 1_000).tolist() == [2_000]
    assert bin_ends(np.array([], dtype=np.int64), 10, start_ns=0, end_ns=25).tolist() == [10, 20, 30]
    for bad in (0, -1, 1.5, True, "1s"):
        with pytest.raises(ParameterError, match="bin_ns"):
            bin_ends(np.array([1]), bad)


def slow_rolling(trades, window):
    rows = []
    for t in trades:
        inside = [u for u in trades if t[0] - window < u[0] <= t[0]]
        rows.append(
            (
                sum(u[1] > 0 for u in inside),
                sum(u[1] < 0 for u in inside),
                sum(u[3] for u in inside if u[1] > 0),
                sum(u[3] for u in inside if u[1] < 0),
            )
        )
    return rows


@pytest.mark.parametrize("seed", SEEDS)
def test_rolling_trade_flow_matches_the_twin(seed):
    events = random_events(seed)
    window = [1, 30, 100, 5_000][seed % 4]
    flow = rolling_trade_flow(events, window_ns=window)
    trades = trade_list(events)
    expected = np.array(slow_rolling(trades, window)).reshape(-1, 4)
    got = np.stack(
        [flow[name].values for name in ("buy_count", "sell_count", "buy_volume_lots", "sell_volume_lots")], 1
    )
    np.testing.assert_array_equal(got, expected)
    assert flow["ts_ns"].values.tolist() == [t[0] for t in trades]
    counted = expected[:, 0] + expected[:, 1]
    with np.errstate(invalid="ignore"):
        ofi = (expected[:, 0] - expected[:, 1]) / counted
    np.testing.assert_allclose(flow["ofi"].values, ofi, equal_nan=True)


def test_rolling_window_rejects_bad_lengths():
    with pytest.raises(ParameterError, match="window_ns"):
        rolling_trade_flow(random_events(0), window_ns=0)


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_cumulative_volume_delta_matches_the_twin(seed):
    events = random_events(seed)
    running, expected = 0, []
    for t in trade_list(events):
        running += t[1] * t[3]
        expected.append(running)
    assert cumulative_volume_delta(events).values.tolist() == expected


def test_select_trades_and_threshold_validation():
    events = random_events(1)
    assert select_trades(events).sizes["event"] == len(trade_list(events))
    with pytest.raises(DataError, match="qty_lots"):
        select_trades(events.drop_vars("qty_lots"))
    with pytest.raises(ParameterError, match="percentile"):
        large_trade_threshold(np.array([1, 2]), 101)
    assert np.isnan(large_trade_threshold(np.array([], dtype=np.int64)))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.sampled_from([-1, 0, 1]), st.integers(1, 5), st.integers(0, 9)),
        max_size=25,
    ),
    st.integers(1, 120),
)
def test_trade_bars_property_against_the_twin(rows, bin_ns):
    rows = sorted(rows, key=lambda row: row[0])
    columns = np.array(rows, dtype=np.int64).reshape(-1, 4).T
    events = make_events(
        ts_ns=columns[0],
        kind=EventKind.TRADE,
        side=columns[1],
        price_ticks=columns[2],
        qty_lots=columns[3],
        tick_size=1.0,
        lot_size=1.0,
        instrument="X",
        venue="V",
    )
    bars = trade_bars(events, bin_ns=bin_ns, large_lots=4)
    assert_bars_match(bars, slow_bars([tuple(map(int, row)) for row in rows], bars["ts_ns"].values.tolist(), bin_ns, 4))
    assert int(bars["volume_lots"].sum()) == int(columns[3].sum())
