"""The ground truth's start books and replays: the process's whole book at a row, and the rollout's rules replaying
a fresh path's true messages (scenarios.generate.ground_truth: resting_orders, full_book_context, replay_fresh)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.book_presets import load_book_preset
from generators import encoding as enc
from generators.rollout import start_orders
from scenarios.generate.ground_truth import (
    TruthSpec,
    drop_initial,
    full_book_context,
    kind_shares,
    replay_fresh,
    resting_orders,
    resting_volume,
    simulate_flow,
)
from simlab.errors import DataError, ParameterError
from simlab.metrics._market import Market
from simlab.schema import EventKind

FIELDS = ("bid_price", "bid_qty", "ask_price", "ask_qty")


@pytest.fixture(scope="module")
def whole():
    """30 s of the Hawkes-driven book with its initial orders (the warmed-up book's resting orders)."""
    return simulate_flow(load_book_preset("hawkes-aapl"), 30.0, np.random.SeedSequence(3), 10)


def _books(flow) -> np.ndarray:
    return np.stack([flow["books"][name].values for name in FIELDS], 1).astype(np.int64)


def test_the_resting_orders_add_up_to_the_book_at_every_level(whole):
    books = _books(whole)
    skip = int(whole["events"].attrs["initial_orders"])
    kinds = whole["events"]["kind"].values
    for end in (skip, skip + 200, whole["events"].sizes["event"] - 1):
        if kinds[end] == EventKind.TRADE:  # a sweep's fills all carry the book after the whole market order
            continue
        orders = resting_orders(whole["events"], end)
        context = full_book_context({"books": books[end : end + 1], "table": np.zeros((0, 6), np.int64)}, orders)
        full = context["books"][-1]
        # the first 10 levels are the recorded book; behind them more levels, and every order's lots counted
        np.testing.assert_array_equal(full[:, :10], books[end])
        assert full.shape[1] > 10 and (full[1] > 0).sum() > 10 and (full[3] > 0).sum() > 10
        assert int(full[1].sum() + full[3].sum()) == int(orders[:, 2].sum()) and (orders[:, 2] >= 1).all()
        np.testing.assert_array_equal(start_orders(context), orders)  # the rollout's engine accepts the whole book
    # a book that is not the orders' first levels is refused
    wrong = books[skip : skip + 1].copy()
    wrong[0, 1, 0] += 1
    with pytest.raises(DataError, match="first levels of the resting orders are not the context's start book"):
        full_book_context({"books": wrong, "table": np.zeros((0, 6), np.int64)}, resting_orders(whole["events"], skip))
    with pytest.raises(ParameterError, match="`end` of resting_orders"):
        resting_orders(whole["events"], whole["events"].sizes["event"])


def test_a_fresh_path_replayed_from_its_own_whole_book_gives_its_books_back(whole):
    # the rollout's rules are exact on this process: from the path's own whole book, every true message applies and
    # the replayed book is the path's after every message (a sweep's fills compared at its end, where the process
    # records the book after the whole market order)
    path = replay_fresh(None, whole, 30.0, seed=np.random.SeedSequence(1), depth=10, book_levels=10)
    attrs = path["events"].attrs
    assert attrs["rejected"] == 0 and attrs["applied"] > 300
    flow = drop_initial(whole)
    true, replayed = _books(flow), _books(path)[int(attrs["initial_orders"]) :]
    message = path["events"]["message"].values[int(attrs["initial_orders"]) :]
    last = np.r_[message[1:] != message[:-1], True]  # the last record of each message
    replayed, message = replayed[last], message[last]
    assert message.shape[0] == attrs["applied"] and message[-1] >= true.shape[0] - 2  # to the path's end
    kind, ts = flow["events"]["kind"].values, flow["events"]["ts_ns"].values
    row = message  # message i is the path's event i (after the initial orders), its book row i
    assert message[0] == 0  # the first event after the warmed-up book is replayed too
    after = np.minimum(row + 1, kind.shape[0] - 1)
    in_sweep = (kind[row] == EventKind.TRADE) & (kind[after] == EventKind.TRADE) & (ts[after] == ts[row])
    in_sweep &= row + 1 < kind.shape[0]
    assert (~in_sweep).sum() > 0.9 * row.shape[0]
    np.testing.assert_array_equal(replayed[~in_sweep], true[row[~in_sweep]])
    # from a one-order-per-level start book of the first 10 levels, the same messages do not all apply
    books = _books(flow)[:1]
    thin = {"books": books, "table": np.zeros((0, 6), np.int64), "ts_ns": int(ts[0])}
    again = replay_fresh(thin, whole, 30.0, seed=np.random.SeedSequence(1), depth=10, book_levels=10)
    assert again["events"].attrs["rejected"] > 0
    assert again["events"].attrs["initial_orders"] == int((books[0, [1, 3]] > 0).sum())


def test_the_resting_volume_is_read_every_second_and_averaged_in_bins(whole):
    flow = drop_initial(whole)
    out = resting_volume([flow, flow], 30.0, bins=3)
    assert out["bins_s"] == [[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]]
    books, ts = _books(flow), flow["books"]["ts_ns"].values
    row = np.searchsorted(ts, ts[0] + int(0.5e9), side="right") - 1
    first = [books[np.searchsorted(ts, ts[0] + int((s + 0.5) * 1e9), side="right") - 1, 1].sum() for s in range(10)]
    assert out["bid"][0] == pytest.approx(np.mean(first)) and books[row, 1].sum() == first[0]
    assert out["bid_mean"] == pytest.approx(np.mean(out["bid"]))
    assert len(out["ask"]) == 3 and min(out["ask"]) > 0


def test_the_start_book_and_replay_keys_are_checked():
    assert TruthSpec(seed=1).start == "context" and TruthSpec(seed=1).replay is False  # real-data behaviour
    assert TruthSpec(seed=1, start="full_book").start == "full_book"
    with pytest.raises(ParameterError, match="`start` of the ground-truth spec must be one of"):
        TruthSpec(seed=1, start="queues")
    with pytest.raises(ParameterError, match="`replay` of the ground-truth spec must be true or false; got 1"):
        TruthSpec(seed=1, replay=1)
    assert enc.DEPTH_LEVELS == 10


def test_flow_by_level_counts_lots_at_the_level_of_the_book_before_and_per_resting_lot():
    from scenarios.generate.ground_truth import flow_by_level
    from simlab.schema import NO_PRICE, make_books, make_events

    second = 10**9
    # three initial orders (bid 100 x 10, bid 99 x 20, ask 101 x 5), then: at 1 s the bid at 99 is deleted (level 2),
    # at 1.5 s 20 lots rest again at 99 (level 2), at 2 s a sell takes 4 lots of the bid at 100 (level 1), at 3 s an
    # ADD at 97 behind both bids (level 3)
    rows = [  # ts, kind, side, price, lots, order
        (0, EventKind.ADD, 1, 100, 10, 1), (0, EventKind.ADD, 1, 99, 20, 2), (0, EventKind.ADD, -1, 101, 5, 3),
        (1 * second, EventKind.DELETE, 1, 99, 20, 2), (second * 3 // 2, EventKind.ADD, 1, 99, 20, 4),
        (2 * second, EventKind.TRADE, -1, 100, 4, 1), (3 * second, EventKind.ADD, 1, 97, 7, 5),
    ]  # fmt: skip
    ts, kind, side, price, lots, order = (np.array(c) for c in zip(*rows, strict=True))
    bids = [[(100, 10)], [(100, 10), (99, 20)], [(100, 10), (99, 20)], [(100, 10)], [(100, 10), (99, 20)],
            [(100, 6), (99, 20)], [(100, 6), (99, 20), (97, 7)]]  # fmt: skip
    bid_price = np.full((7, 3), NO_PRICE)
    bid_qty = np.zeros((7, 3), np.int64)
    for r, levels in enumerate(bids):
        for j, (p, q) in enumerate(levels):
            bid_price[r, j], bid_qty[r, j] = p, q
    ask_price = np.full((7, 3), NO_PRICE)
    ask_qty = np.zeros((7, 3), np.int64)
    ask_price[2:, 0], ask_qty[2:, 0] = 101, 5
    ask_price[:2, 0] = NO_PRICE
    keys = {"tick_size": 0.01, "lot_size": 1.0, "instrument": "X", "venue": "T"}
    events = make_events(ts_ns=ts, kind=kind, side=side, price_ticks=price, qty_lots=lots, order_id=order,
                         attrs={"initial_orders": 3}, source="t", **keys)  # fmt: skip
    books = make_books(ts_ns=ts, bid_price=bid_price, bid_qty=bid_qty, ask_price=ask_price, ask_qty=ask_qty)
    out = flow_by_level([{"events": events, "books": books}], 4.0)
    bid = out["bid"]
    assert bid["delete_lots_per_s"][:3] == [0.0, 5.0, 0.0] and bid["trade_lots_per_s"] == 1.0
    assert bid["add_lots_per_s"][:3] == [0.0, 5.0, 1.75] and sum(out["ask"]["add_lots_per_s"]) == 0.0
    # read at 0.5, 1.5, 2.5 and 3.5 s: level 1 holds 10, 10, 6, 6 lots; level 2 20, 20, 20, 20 (the book after the
    # ADD at 1.5 s); level 3 0, 0, 0, 7
    np.testing.assert_allclose(bid["resting_lots"][:3], [8.0, 20.0, 1.75])
    assert bid["delete_per_lot"][1] == pytest.approx(5.0 / 20.0) and bid["trade_per_lot"] == pytest.approx(1.0 / 8.0)


def test_a_flow_cut_of_its_initial_orders_holds_none_so_its_first_real_events_are_scored(whole):
    # before session 17 the cut flow kept the attribute, so the scorecard (Market) and the flow statistics left out
    # as many of its first real events as the warmed-up book had orders (212 here, the first 0.7 s of 30 s)
    skip = int(whole["events"].attrs["initial_orders"])
    flow = drop_initial(whole)
    assert skip > 100 and flow["events"].sizes["event"] == whole["events"].sizes["event"] - skip
    assert flow["events"].attrs["initial_orders"] == 0 and flow["books"].attrs["initial_orders"] == 0
    assert whole["events"].attrs["initial_orders"] == skip == whole["books"].attrs["initial_orders"]  # kept
    market = Market(flow["events"], flow["books"], levels=10, source="t")
    np.testing.assert_array_equal(market.ts, flow["events"]["ts_ns"].values)  # every real event, the first too
    assert Market(whole["events"], whole["books"], levels=10, source="t").ts.shape == market.ts.shape
    kind = flow["events"]["kind"].values
    assert kind_shares(flow["events"])["ADD"] == pytest.approx(np.mean(kind == EventKind.ADD))
