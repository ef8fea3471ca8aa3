"""LOB-Bench quantities on a hand-made book, kernels against slow twins, the response function of a random walk."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.metrics import _kernels, lobbench
from simlab.metrics._market import Market, NotApplicable
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

A, C, D, T = EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE
E = NO_PRICE


def tiny() -> Market:
    """Six events and the 2-level book after each (see the expected values in the tests)."""
    events = make_events(
        ts_ns=np.array([0, 1, 1.5, 3, 5, 5]) * 1e9,
        kind=np.array([A, A, T, D, C, A]),
        side=np.array([1, -1, 1, 1, -1, 1]),
        price_ticks=np.array([99, 100, 100, 99, 102, 97]),
        qty_lots=np.array([5, 1, 1, 5, 2, 1]),
        order_id=np.array([1, 2, -1, 1, 2, 3]),
        tick_size=0.01, lot_size=1.0, instrument="TOY", venue="test",
    )  # fmt: skip
    books = make_books(
        ts_ns=events["ts_ns"].values,
        bid_price=[[99, 98], [99, 98], [99, 98], [98, E], [98, E], [98, 97]],
        bid_qty=[[5, 2], [5, 2], [5, 2], [2, 0], [2, 0], [2, 1]],
        ask_price=[[101, 102], [100, 101], [101, 102], [101, 102], [101, 102], [101, 102]],
        ask_qty=[[3, 4], [1, 3], [3, 4], [3, 4], [3, 2], [3, 2]],
    )
    return Market(events, books, levels=None, source="tiny")


def test_book_quantities_of_a_hand_made_book():
    m = tiny()
    assert lobbench.spread_ticks(m).tolist() == [2, 1, 2, 3, 3, 3]
    np.testing.assert_allclose(lobbench.imbalance_l1(m), [0.25, 4 / 6, 0.25, -0.2, -0.2, -0.2])
    np.testing.assert_allclose(lobbench.log10_interarrival_s(m), np.log10([1, 0.5, 1.5, 2, 1e-6]))
    np.testing.assert_allclose(lobbench.log10_time_to_cancel_s(m), np.log10([3, 4]))
    assert lobbench.QUANTITIES["ask_volume"](m).tolist() == [7, 4, 7, 7, 5, 5]
    assert lobbench.QUANTITIES["bid_volume_l1"](m).tolist() == [5, 5, 5, 2, 2, 2]
    with pytest.raises(NotApplicable, match="2 whole 10 s windows"):
        lobbench.flow_events_per_10s(m)  # 5 s of data


def test_flow_events_per_10s_counts_whole_windows():
    events = make_events(
        ts_ns=np.array([0, 1, 9, 10, 25, 29, 31]) * 10**9, kind=A, side=1, price_ticks=1, qty_lots=1,
        tick_size=0.01, lot_size=1.0, instrument="TOY", venue="test",
    )  # fmt: skip
    counts = lobbench.flow_events_per_10s(Market(events, None, levels=None, source="flow"))
    assert counts.tolist() == [3, 1, 2]  # [0, 10), [10, 20), [20, 30); [30, 31] is not whole


def test_touch_events_of_a_hand_made_book():
    mid, sign, kind = lobbench.touch_events(tiny())
    assert mid.tolist() == [100, 99.5, 100]
    assert sign.tolist() == [-1, 1, -1]  # ask limit, buy market order, bid cancel
    assert [lobbench.TOUCH_TYPES[k] for k in kind] == ["limit_1", "market_1", "cancel_1"]


def test_missing_fields_make_a_quantity_not_applicable():
    m = tiny()
    events_only = Market(make_events(
        ts_ns=np.arange(5), kind=A, side=1, price_ticks=1, qty_lots=1, tick_size=0.01, lot_size=1.0,
        instrument="TOY", venue="test",
    ), None, levels=None, source="events only")  # fmt: skip
    with pytest.raises(NotApplicable, match="books"):
        lobbench.spread_ticks(events_only)
    with pytest.raises(NotApplicable, match="order ids on ADD"):
        lobbench.log10_time_to_cancel_s(events_only)
    with pytest.raises(NotApplicable, match="bid limit messages"):
        lobbench.QUANTITIES["limit_depth_bid"](m)  # one bid ADD after a quoted book


def slow_level(price, side, bid_p, bid_q, ask_p, ask_q):
    book_p, book_q = (bid_p, bid_q) if side > 0 else (ask_p, ask_q)
    prices = [p for p, q in zip(book_p, book_q, strict=True) if q > 0]
    if not prices:
        return 1
    better = (lambda p: p > price) if side > 0 else (lambda p: p < price)
    if (side > 0 and price > prices[0]) or (side < 0 and price < prices[0]):
        return 0
    return 1 + sum(1 for p in prices if better(p))


def test_level_index_matches_a_slow_twin():
    rng = np.random.default_rng(0)
    n, levels = 300, 4
    gaps = rng.integers(1, 3, (n, levels))
    bid_p, ask_p = 100 - np.cumsum(gaps, axis=1), 101 + np.cumsum(gaps, axis=1)
    depth = rng.integers(0, levels + 1, n)
    filled = np.arange(levels)[None, :] < depth[:, None]
    bid_q = np.where(filled, 1, 0)
    ask_q = np.where(np.roll(filled, 1, axis=0), 1, 0)
    bid_p, ask_p = np.where(bid_q > 0, bid_p, E), np.where(ask_q > 0, ask_p, E)
    side = rng.choice([-1, 1], n)
    price = np.where(side > 0, rng.integers(88, 102, n), rng.integers(99, 113, n))
    fast = _kernels.level_index(price, side, bid_p, bid_q, ask_p, ask_q)
    slow = [slow_level(price[i], side[i], bid_p[i], bid_q[i], ask_p[i], ask_q[i]) for i in range(n)]
    assert fast.tolist() == slow


def test_response_kernel_matches_a_slow_twin():
    rng = np.random.default_rng(1)
    n, max_lag, block = 500, 7, 64
    mid = np.cumsum(rng.integers(-1, 2, n)).astype(float)
    sign = rng.choice([-1.0, 1.0], n)
    kind = rng.integers(-1, 6, n)
    sums, counts = lobbench.response_curves(mid, sign, kind, max_lag, block)
    for k in range(6):
        for lag in range(1, max_lag + 1):
            terms = [sign[t] * (mid[t + lag] - mid[t]) for t in range(n - lag) if kind[t] == k]
            assert sums[:, k, lag - 1].sum() == pytest.approx(sum(terms))
            assert counts[:, k, lag - 1].sum() == len(terms)
    assert sums.shape == (8, 6, max_lag)


def test_response_of_a_random_walk_is_flat():
    """Signs independent of the walk: R(l) = 0; each event moving the mid by its sign: R(l) = 1 at every lag."""
    rng = np.random.default_rng(2)
    n = 200_000
    sign = rng.choice([-1.0, 1.0], n)
    kind = np.zeros(n, dtype=np.int64)
    walk = np.cumsum(rng.choice([-1.0, 1.0], n))
    sums, counts = lobbench.response_curves(walk, sign, kind, 50)
    flat = sums.sum(0)[0] / counts.sum(0)[0]
    assert np.max(np.abs(flat)) < 5 * np.sqrt(50 / n)  # R(l) has std sqrt(l / n)
    mid_before = np.concatenate([[0.0], np.cumsum(sign)[:-1]])  # each event moves the mid by its sign
    sums, counts = lobbench.response_curves(mid_before, sign, kind, 50)
    permanent = sums.sum(0)[0] / counts.sum(0)[0]
    assert np.max(np.abs(permanent - 1.0)) < 5 * np.sqrt(50 / n)


def test_condition_groups():
    real, synthetic = np.arange(1.0, 101.0), np.array([1.0, 50.0, 500.0])
    a, b = lobbench.condition_groups(real, synthetic, "discrete")
    assert a.max() == 95 and b.tolist() == [1, 50, 95]
    a, b = lobbench.condition_groups(real, synthetic, "quartiles")
    assert np.bincount(a).tolist() == [25, 25, 25, 25] and b.tolist() == [0, 1, 3]


def test_order_id_zero_of_an_ingested_export_never_enters_time_to_cancel(tmp_path):
    """Issue 12 defect b: the queue-reactive book has no order ids; its LOBSTER export writes 0 for them, and the
    ingested file's id 0 was taken as one order's id (time to cancel 0.995 from nonsense). It is no id: the score is
    not applicable, and says why."""
    from simlab.book import QRParams, simulate_qr
    from simlab.book.export import export_lobster
    from simlab.io.lobster import read_lobster
    from simlab.metrics.scorecard import score

    rates = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    params = QRParams.symmetric(rates, np.r_[0, rates[1:] * 0 + 0.6], np.r_[0, rates[1:] * 0 + 0.5], levels=1,
                                size_lots=10, theta=1.0, instrument="AMZN")  # fmt: skip
    out = simulate_qr(params, 300.0, rng=3, start_ns=1_340_285_400_000_000_000)
    back = read_lobster(*export_lobster(out["events"], out["books"], tmp_path))
    assert (back["events"]["order_id"].values == 0).all()
    with pytest.raises(NotApplicable, match="order id"):
        lobbench.log10_time_to_cancel_s(Market(back["events"], back["books"], levels=None, source="export"))
    card = score(back, back, seed=0, n_boot=10, discriminative=False)
    rows = [r for r in card.rows if r.quantity == "log10_time_to_cancel_s"]
    assert rows and all(r.distance is None and "order id" in r.reason for r in rows)
