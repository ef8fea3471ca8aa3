"""The tick rule and Lee-Ready classification against slow twins."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.features import lee_ready, tick_rule


def slow_tick_rule(prices):
    sign, signs = 0, []
    for i, price in enumerate(prices):
        if i and price != prices[i - 1]:
            sign = 1 if price > prices[i - 1] else -1
        signs.append(sign)
    return signs


def slow_lee_ready(trade_ts, prices, quote_ts, bids, asks, lag):
    by_tick = slow_tick_rule(prices)
    signs = []
    for i, (ts, price) in enumerate(zip(trade_ts, prices, strict=True)):
        prevailing = None
        for q in range(len(quote_ts)):
            if quote_ts[q] <= ts - lag:
                prevailing = q
        sign = 0
        if prevailing is not None:
            bid, ask = bids[prevailing], asks[prevailing]
            if np.isfinite(bid) and np.isfinite(ask) and 0 < bid < ask:
                mid = (bid + ask) / 2
                sign = 1 if price > mid else (-1 if price < mid else 0)
        signs.append(sign if sign else by_tick[i])
    return signs


@pytest.mark.parametrize("seed", range(10))
def test_tick_rule_matches_the_twin(seed):
    prices = np.random.default_rng(seed).integers(0, 4, 50)
    assert tick_rule(prices).tolist() == slow_tick_rule(prices.tolist())


def test_tick_rule_edges():
    assert tick_rule(np.array([])).tolist() == []
    assert tick_rule(np.array([5])).tolist() == [0]
    assert tick_rule(np.array([5, 5, 6, 6, 4, 4])).tolist() == [0, 0, 1, 1, -1, -1]
    with pytest.raises(ParameterError, match="1-D"):
        tick_rule(np.zeros((2, 2)))


@pytest.mark.parametrize("seed", range(10))
def test_lee_ready_matches_the_twin(seed):
    rng = np.random.default_rng(seed)
    trade_ts = np.sort(rng.integers(0, 100, 40))
    quote_ts = np.sort(rng.integers(0, 100, 15))
    bids = rng.integers(8, 11, 15).astype(float)
    asks = bids + rng.integers(-1, 4, 15)  # some locked or crossed quotes
    bids[rng.random(15) < 0.1] = np.nan
    prices = rng.integers(8, 13, 40)
    lag = [0, 5][seed % 2]
    got = lee_ready(trade_ts, prices, quote_ts, bids, asks, quote_lag_ns=lag)
    assert got.tolist() == slow_lee_ready(trade_ts, prices, quote_ts, bids, asks, lag)


def test_lee_ready_rejects_unsorted_quotes_and_ragged_arrays():
    with pytest.raises(ParameterError, match="sorted"):
        lee_ready([1], [10], [2, 1], [9, 9], [11, 11])
    with pytest.raises(ParameterError, match="length"):
        lee_ready([1, 2], [10], [1], [9], [11])
