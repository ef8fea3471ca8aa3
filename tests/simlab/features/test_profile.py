"""Volume profile, point of control, footprint and stacked imbalances against slow dictionary-based twins."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from simlab.errors import DataError, ParameterError
from simlab.features import footprint, point_of_control, stacked_imbalance, volume_profile
from simlab.schema import EventKind, make_events
from tests.simlab.features.test_trades import random_events, trade_list


def slow_profile(trades, start, end, bucket):
    volume = {}
    for ts, side, price, qty in trades:
        if (start is None or ts >= start) and (end is None or ts < end):
            level = (price // bucket) * bucket
            total, buy, sell = volume.get(level, (0, 0, 0))
            volume[level] = (total + qty, buy + qty * (side > 0), sell + qty * (side < 0))
    return dict(sorted(volume.items()))


@pytest.mark.parametrize("seed", range(8))
def test_volume_profile_matches_the_twin(seed):
    events = random_events(seed)
    start, end = [(None, None), (10_200, 10_700)][seed % 2]
    bucket = 1 + seed % 3
    profile = volume_profile(events, start_ns=start, end_ns=end, bucket_ticks=bucket)
    expected = slow_profile(trade_list(events), start, end, bucket)
    assert profile["price_ticks"].values.tolist() == list(expected)
    got = np.stack([profile[name].values for name in ("volume_lots", "buy_volume_lots", "sell_volume_lots")], 1)
    assert [tuple(row) for row in got.tolist()] == list(expected.values())
    top = max(v[0] for v in expected.values())
    assert int(profile["point_of_control_ticks"]) == min(p for p, v in expected.items() if v[0] == top)


def test_point_of_control_ties_go_to_the_lowest_price():
    events = make_events(
        ts_ns=[1, 2, 3, 4],
        kind=EventKind.TRADE,
        side=[1, -1, 1, 1],
        price_ticks=[12, 10, 11, 12],
        qty_lots=[2, 4, 1, 2],
        tick_size=1.0,
        lot_size=1.0,
        instrument="X",
        venue="V",
    )
    profile = volume_profile(events)
    assert profile["volume_lots"].values.tolist() == [4, 1, 4]
    assert int(profile["point_of_control_ticks"]) == 10
    assert point_of_control(profile["volume_lots"].isel(price_ticks=[2, 1, 0])) == 10
    empty = volume_profile(events, start_ns=100)
    assert empty.sizes["price_ticks"] == 0 and "point_of_control_ticks" not in empty
    with pytest.raises(DataError, match="empty"):
        point_of_control(empty["volume_lots"])
    with pytest.raises(ParameterError, match="bucket_ticks"):
        volume_profile(events, bucket_ticks=0)


def slow_footprint(trades, ends, bin_ns, bucket):
    cells = {}
    for ts, side, price, qty in trades:
        for b, end in enumerate(ends):
            if end - bin_ns <= ts < end and side != 0:
                key = (b, (price // bucket) * bucket, side)
                cells[key] = cells.get(key, 0) + qty
    return cells


@pytest.mark.parametrize("seed", range(8))
def test_footprint_matches_the_twin(seed):
    events = random_events(seed)
    bin_ns, bucket = [50, 100, 400][seed % 3], 1 + seed % 2
    grid = footprint(events, bin_ns=bin_ns, bucket_ticks=bucket)
    assert grid.dims == ("time", "price_ticks", "side") and grid["side"].values.tolist() == [1, -1]
    cells = slow_footprint(trade_list(events), grid["ts_ns"].values.tolist(), bin_ns, bucket)
    got = {
        (b, int(price), int(side)): int(grid.values[b, p, s])
        for b in range(grid.sizes["time"])
        for p, price in enumerate(grid["price_ticks"].values)
        for s, side in enumerate(grid["side"].values)
        if grid.values[b, p, s]
    }
    assert got == {key: value for key, value in cells.items() if value}
    assert int(grid.sum()) == sum(t[3] for t in trade_list(events) if t[1] != 0)


def slow_stacked(grid, share, quantile):
    buy, sell = grid.sel(side=1).values.tolist(), grid.sel(side=-1).values.tolist()
    flags = []
    for row_buy, row_sell in zip(buy, sell, strict=True):
        volumes = [b + s for b, s in zip(row_buy, row_sell, strict=True)]
        traded = sorted(v for v in volumes if v > 0)
        rank = max(math.ceil(Fraction(str(quantile)) * len(traded)), 1)
        cut = traded[rank - 1] if traded else math.inf
        row = []
        for b, s, v in zip(row_buy, row_sell, volumes, strict=True):
            heavy = v > 0 and v >= cut
            row.append(1 if heavy and b / v > share else (-1 if heavy and s / v > share else 0))
        flags.append(row)
    return flags


@pytest.mark.parametrize("seed", range(10))
def test_stacked_imbalance_matches_the_twin(seed):
    events = random_events(seed, n=200)
    grid = footprint(events, bin_ns=[100, 250, 1_000][seed % 3])
    share, quantile = [(0.7, 0.8), (0.6, 0.5), (0.5, 1.0), (0.9, 0.3)][seed % 4]
    flags = stacked_imbalance(grid, share=share, quantile=quantile)
    assert flags.dims == ("time", "price_ticks")
    assert flags.values.tolist() == slow_stacked(grid, share, quantile)


def test_stacked_imbalance_hand_case_and_validation():
    # one bin, levels 1..5 with volumes 1, 2, 3, 4, 10 (buy shares 1, 0, 1, 0.25, 0.9): the 0.8 quantile is
    # v_(4) = 4 (j = ceil(0.8 * 5)), so levels 4 (75 % sell) and 5 (90 % buy) qualify; at 0.6, v_(3) = 3 adds level 3
    events = make_events(
        ts_ns=np.arange(8),
        kind=EventKind.TRADE,
        side=[1, -1, 1, -1, 1, 1, -1, -1],
        price_ticks=[1, 2, 3, 3, 4, 5, 5, 4],
        qty_lots=[1, 2, 3, 0, 1, 9, 1, 3],
        tick_size=1.0,
        lot_size=1.0,
        instrument="X",
        venue="V",
    )
    grid = footprint(events, bin_ns=100)
    flags = stacked_imbalance(grid, share=0.7, quantile=0.8)
    assert flags.values.tolist() == [[0, 0, 0, -1, 1]]
    assert stacked_imbalance(grid, share=0.7, quantile=0.6).values.tolist() == [[0, 0, 1, -1, 1]]
    assert stacked_imbalance(grid, share=0.8, quantile=0.6).values.tolist() == [[0, 0, 1, 0, 1]]
    with pytest.raises(ParameterError, match="share"):
        stacked_imbalance(grid, share=1.0)
    with pytest.raises(ParameterError, match="quantile"):
        stacked_imbalance(grid, quantile=0.0)
    with pytest.raises(DataError, match="footprint"):
        stacked_imbalance(grid.transpose("side", "time", "price_ticks"))
