"""The toy market against its closed forms: Poisson counts, buy share, martingale touch, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.synthetic import ToyMarketParams, toy_market
from simlab.times import local_midnight_utc_ns, parse_duration_ns


def test_counts_and_buy_share_match_closed_forms():
    params = ToyMarketParams(buy_rate_hz=3.0, sell_rate_hz=1.0)
    duration = 2000.0
    events = toy_market(5, duration, params)["events"]
    n = events.sizes["event"]
    expected = (params.buy_rate_hz + params.sell_rate_hz) * duration
    assert abs(n - expected) < 4 * np.sqrt(expected)
    buy_share = (events["side"].values > 0).mean()
    assert abs(buy_share - 0.75) < 4 * np.sqrt(0.75 * 0.25 / n)
    mean_size = events["qty_lots"].values.mean()
    assert abs(mean_size - params.mean_size_lots) < 4 * np.sqrt(params.mean_size_lots**2 / n)


def test_touch_moves_by_impact_and_books_follow():
    params = ToyMarketParams(impact_probability=1.0)
    market = toy_market(1, 60.0, params)
    events, books = market["events"], market["books"]
    side = events["side"].values.astype(np.int64)
    bid_after = params.start_bid_ticks + np.cumsum(side)
    last = np.searchsorted(events["ts_ns"].values, books["ts_ns"].values, side="right") - 1
    expected = np.where(last >= 0, bid_after[np.maximum(last, 0)], params.start_bid_ticks)
    assert (books["bid_price"].values[:, 0] == expected).all()
    assert (books["ask_price"].values[:, 0] - books["bid_price"].values[:, 0] == 1).all()
    buys = side > 0
    assert (events["price_ticks"].values[buys] == params.start_bid_ticks + np.cumsum(side)[buys]).all()


def test_same_seed_same_bytes_and_true_params_recorded():
    first, second = toy_market(9, 30.0), toy_market(9, 30.0)
    assert first["events"].identical(second["events"]) and first["books"].identical(second["books"])
    assert not first["events"].equals(toy_market(10, 30.0)["events"])
    assert '"buy_rate_hz": 2.5' in first["events"].attrs["true_params"] and first["events"].attrs["seed"] == 9


def test_bad_parameters_are_named():
    with pytest.raises(ParameterError, match="impact_probability"):
        ToyMarketParams(impact_probability=1.5)
    with pytest.raises(ParameterError, match="duration_s"):
        toy_market(0, -1.0)


def test_durations_and_local_midnight():
    assert parse_duration_ns("250ms") == 250_000_000 and parse_duration_ns("1h") == 3600 * 10**9
    assert parse_duration_ns("2m") == 120 * 10**9 and parse_duration_ns(5) == 5
    with pytest.raises(ParameterError, match="250ms, 1s"):
        parse_duration_ns("soon")
    # 2012-06-21 is EDT (UTC-4); 2013-12-02 is EST (UTC-5)
    assert local_midnight_utc_ns("2012-06-21", "America/New_York") == 1340251200 * 10**9
    assert local_midnight_utc_ns("20131202", "America/New_York") == 1385960400 * 10**9
