"""Book statistics against slow, obvious twins on small inputs; the side-by-side table; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from simlab.book import ZIParams, simulate_zi
from simlab.book.stats import (
    DISTRIBUTIONS,
    Sample,
    autocorrelation,
    book_statistics,
    compare_statistics,
    format_comparison,
    ks_distance,
    mid_returns,
    visible_events,
    weighted_quantiles,
)
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE, EventKind

PARAMS = ZIParams(0.2, 1.0, 0.3, order_size=2, band_ticks=8, size_law="geometric")


@pytest.fixture(scope="module")
def small():
    return simulate_zi(PARAMS, 40.0, rng=11, depth=3)


def _slow_time_weighted(books, value):
    # value(row) -> float or None (excluded); weight: time to the next row
    ts = books["ts_ns"].values
    pairs = []
    for i in range(len(ts)):
        v = value(i)
        if v is not None:
            pairs.append((v, (ts[i + 1] - ts[i]) / 1e9 if i + 1 < len(ts) else 0.0))
    return pairs


def _slow_mean(pairs):
    return sum(v * w for v, w in pairs) / sum(w for _, w in pairs)


def test_time_weighted_book_statistics_match_the_twin(small):
    events, books = small["events"], small["books"]
    result = book_statistics(events, books)
    bp, bq, ap, aq = (books[n].values[:, 0] for n in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
    spread = _slow_time_weighted(books, lambda i: float(ap[i] - bp[i]) if bq[i] > 0 and aq[i] > 0 else None)
    imbalance = _slow_time_weighted(
        books, lambda i: (bq[i] - aq[i]) / (bq[i] + aq[i]) if bq[i] > 0 and aq[i] > 0 else None
    )
    bids = _slow_time_weighted(books, lambda i: float(bq[i]) if bq[i] > 0 else None)
    asks = _slow_time_weighted(books, lambda i: float(aq[i]) if aq[i] > 0 else None)
    assert result["spread_ticks"].mean() == pytest.approx(_slow_mean(spread))
    assert result["imbalance"].mean() == pytest.approx(_slow_mean(imbalance))
    assert result["l1_queue_lots"].mean() == pytest.approx(_slow_mean(bids + asks))
    assert result["spread_ticks"].values.size == len(spread) > 100


def test_event_statistics_match_the_twin(small):
    events = small["events"]
    result = book_statistics(events, small["books"])
    skip = events.attrs["initial_orders"]
    kinds, ts = events["kind"].values[skip:].tolist(), events["ts_ns"].values[skip:].tolist()
    flow = [t for k, t in zip(kinds, ts, strict=True) if k in (EventKind.ADD, EventKind.DELETE, EventKind.TRADE)]
    gaps = [(b - a) / 1e9 for a, b in zip(flow, flow[1:], strict=False)]
    np.testing.assert_allclose(result["interarrival_s"].values, gaps)
    mix = result["event_mix"]
    total = len(flow)
    assert mix["limit_share"] == pytest.approx(kinds.count(EventKind.ADD) / total, rel=1e-5)
    assert mix["market_share"] == pytest.approx(kinds.count(EventKind.TRADE) / total, rel=1e-5)
    assert mix["other_events"] == 0 and result["events"] == len(kinds) and skip > 0


def test_mid_returns_match_the_twin():
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.integers(1, 7, 60)) * 250_000_000
    bid = 100 + np.cumsum(rng.integers(-1, 2, 60))
    ask = bid + rng.integers(1, 4, 60)
    bq, aq = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    got = mid_returns(ts, bid, bq, ask, aq, 10**9)
    quoted = [i for i in range(60) if bq[i] > 0 and aq[i] > 0]
    t, mids = quoted and ts[quoted[0]], []
    while t <= ts[-1]:
        last = [i for i in quoted if ts[i] <= t][-1]
        mids.append((bid[last] + ask[last]) / 2)
        t += 10**9
    np.testing.assert_allclose(got, np.diff(mids))


def test_autocorrelation_quantiles_and_ks_match_their_twins():
    rng = np.random.default_rng(2)
    x = rng.normal(size=50)
    m = x.mean()
    for lag, value in zip((1, 3, 7), autocorrelation(x, (1, 3, 7)), strict=True):
        slow = sum((x[t] - m) * (x[t + lag] - m) for t in range(50 - lag)) / sum((v - m) ** 2 for v in x)
        assert value == pytest.approx(slow)
    values, weights = rng.integers(0, 6, 40).astype(float), rng.random(40)
    for p, q in zip((0.1, 0.5, 0.9), weighted_quantiles(values, weights, (0.1, 0.5, 0.9)), strict=True):
        slow = min(v for v in values if weights[values <= v].sum() / weights.sum() >= p - 1e-12)
        assert q == slow
    a, b = Sample(values, weights), Sample(values[:25] + 1, weights[:25])
    points = sorted(set(a.values) | set(b.values))
    cdf = lambda s, x: s.weights[s.values <= x].sum() / s.weights.sum()  # noqa: E731
    assert ks_distance(a, b) == pytest.approx(max(abs(cdf(a, x) - cdf(b, x)) for x in points))
    u, v = rng.normal(size=30), rng.normal(0.5, size=45)
    expected = scipy_stats.ks_2samp(u, v).statistic
    assert ks_distance(Sample(u, np.ones(30)), Sample(v, np.ones(45))) == pytest.approx(expected)


def test_visible_events_match_the_twin():
    rng = np.random.default_rng(3)
    n, levels = 80, 2
    bid = np.sort(rng.integers(90, 100, (n, 3)), axis=1)[:, ::-1]
    ask = np.sort(rng.integers(101, 111, (n, 3)), axis=1)
    bq, aq = rng.integers(0, 2, (n, 3)) * 5, rng.integers(0, 2, (n, 3)) * 5
    bq[:, 1:] *= bq[:, :1] > 0  # no level after an empty one
    aq[:, 1:] *= aq[:, :1] > 0
    import xarray as xr

    cells = ("time", "level")
    books = xr.Dataset(
        {"bid_price": (cells, np.where(bq > 0, bid, NO_PRICE)), "bid_qty": (cells, bq)}
        | {"ask_price": (cells, np.where(aq > 0, ask, NO_PRICE)), "ask_qty": (cells, aq)}
    )
    kind = rng.choice([EventKind.ADD, EventKind.DELETE, EventKind.TRADE], n)
    side = rng.choice([1, -1], n)
    price = rng.integers(88, 113, n)
    got = visible_events(kind, side, price, books, levels)

    def window(row, name):  # prices within the window of one side of one row; None: unbounded
        q, p = books[f"{name}_qty"].values[row], books[f"{name}_price"].values[row]
        return None if q[levels - 1] == 0 else p[levels - 1]

    for i in range(n):
        resting = -side[i] if kind[i] == EventKind.TRADE else side[i]
        name = "bid" if resting == 1 else "ask"
        bounds = [window(i, name)] + ([window(i - 1, name)] if i > 0 else [None])
        inside = any(b is None or (price[i] >= b if resting == 1 else price[i] <= b) for b in bounds)
        assert got[i] == inside, i


def test_side_by_side_table(small):
    real = book_statistics(small["events"], small["books"])
    other = book_statistics(**simulate_zi(PARAMS, 40.0, rng=12, depth=3), window_levels=1, lags=(1, 2))
    assert len(other["return_acf"]) == 2
    table = compare_statistics(real, real)
    assert all(table[name]["ks"] == 0 for name in DISTRIBUTIONS)
    with pytest.raises(ParameterError, match="same autocorrelation lags"):
        compare_statistics(real, other)
    other = book_statistics(**simulate_zi(PARAMS, 40.0, rng=12, depth=3), window_levels=1)
    table = compare_statistics(real, other)
    assert set(table) == set(DISTRIBUTIONS) | {"event_mix", "return_acf", "abs_return_acf"}
    assert all(0 < table[name]["ks"] <= 1 for name in ("spread_ticks", "interarrival_s"))
    text = format_comparison(table)
    assert "spread_ticks" in text and "event mix" in text and len(text.splitlines()) == 9


def test_bad_input_is_named(small):
    with pytest.raises(DataError, match="one row per event"):
        book_statistics(small["events"], small["books"].isel(time=slice(1, None)))
    with pytest.raises(ParameterError, match="`return_interval_ns` of book_statistics must be an int >= 1"):
        book_statistics(small["events"], small["books"], return_interval_ns=0)
    with pytest.raises(ParameterError, match="window_levels"):
        book_statistics(small["events"], small["books"], window_levels=0)
