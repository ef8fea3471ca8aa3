"""The depth a start book and a score can know: real queues at the start, the replay's lots, the known reference."""

from __future__ import annotations

import numpy as np
import pytest

from generators import encoding as enc
from generators.starts import queue_context
from scenarios.generate.replay import lots_accounting
from simlab.errors import DataError
from simlab.schema import NO_PRICE, EventKind, make_events

SPEC = "scenarios/library/generate_aapl_tiny.toml"


def _events(rows: list[tuple[int, int, int, int, int]]):
    ts, kind, side, price, qty, ids = (
        np.array(c, np.int64) for c in zip(*[(t, *r) for t, r in enumerate(rows)], strict=True)
    )
    return make_events(ts_ns=ts + 1, kind=kind, side=side, price_ticks=price, qty_lots=qty, order_id=ids,
                       tick_size=0.01, lot_size=1.0, instrument="X", venue="T")  # fmt: skip


def test_queue_context_rebuilds_the_resting_orders_in_time_priority():
    a, c, d, t = (int(k) for k in (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE))
    events = _events([
        (a, 1, 100, 5, 1), (a, 1, 100, 3, 2), (a, 1, 99, 4, 3), (c, 1, 100, 2, 1), (d, 1, 99, 4, 3),
        (a, -1, 102, 6, 4), (t, 1, 102, 1, 4), (c, -1, 103, 9, 77),  # 77: an order resting before the events
    ])  # fmt: skip
    book = np.zeros((4, 10), np.int64)
    book[[0, 2]] = NO_PRICE
    book[0, :2], book[1, :2] = [100, 98], [10, 7]  # 4 lots at 100 and all of 98 held by orders the events never added
    book[2, :2], book[3, :2] = [102, 103], [5, 3]
    context = {"books": book[None], "ts_ns": int(events["ts_ns"].values[-1])}
    orders = queue_context(context, events, events.sizes["event"] - 1)["orders"]
    assert orders.tolist() == [[1, 100, 4], [1, 100, 3], [1, 100, 3], [1, 98, 7], [-1, 102, 5], [-1, 103, 3]]
    with pytest.raises(DataError, match="not the context's start"):
        queue_context(context, events, 2)


def test_lots_accounting_counts_every_message_once_by_type_level_and_reason():
    # an applied bid ADD of 5, a rejected bid DELETE beyond level 10 (4 lots), an applied ask DELETE at level 2
    # that took 7 lots where the real one took 3, a trade against the ask rejected (share beyond the queue)
    table = np.array([
        [1, enc.TYPE_ADD, 1, 2, 5, 0], [1, enc.TYPE_DELETE, 1, 20, 4, 11], [1, enc.TYPE_DELETE, -1, 1, 3, 2],
        [1, enc.TYPE_TRADE, 1, 0, 99, 0],
    ])  # fmt: skip
    real_lots, applied_lots = np.array([5, 4, 3, 2]), np.array([5, 0, 7, 0])
    outcome = np.array([-1, 2, -1, 5])  # applied, no_level, applied, trade_beyond_best (REASONS order)
    volume = np.array([[10, 20], [10, 20], [10, 13], [10, 13]])
    out = lots_accounting(table, real_lots, applied_lots, outcome, volume, volume + [0, 2])
    assert out["by_type"]["add bid"]["applied_lots"] == 5
    delete_bid = out["by_type"]["delete bid"]
    assert delete_bid["rejected"] == {"no_level": 1} and delete_bid["by_level"]["11"]["real_lots_of_rejected"] == 4
    assert out["by_type"]["delete ask"]["by_level"]["2"] | {} == {
        "messages": 1, "applied": 1, "rejected": {}, "real_lots": 3, "applied_lots": 7, "real_lots_of_rejected": 0,
    }  # fmt: skip
    assert out["by_type"]["trade ask"]["rejected"] == {"trade_beyond_best": 1}  # a buy: it meets the ask
    assert out["net_lots"] == {"bid": {"real": 1, "replay": 5}, "ask": {"real": -5, "replay": -7}}
    assert out["volume"]["ask"]["replay_mean"] == 16.5 and out["volume"]["ask"]["real_mean"] == 18.5


@pytest.fixture(scope="module")
def aapl(request):
    from tests.conftest import shared_path

    data = shared_path("lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages")
    from scenarios.generate.replay import replay_flow

    return replay_flow(SPEC, data.parent.parent)


def test_the_replay_of_true_messages_accounts_for_every_message_and_lot(aapl):
    from scenarios.generate.replay import replay_path

    for start in ("context", "queues"):
        path, account = replay_path(aapl, 5.0, seed=1, start=start)
        by_type = account["by_type"].values()
        assert sum(v["messages"] for v in by_type) == account["messages"] > 50
        assert sum(v["applied"] for v in by_type) == path.counts.applied
        rejected = sum(sum(v["rejected"].values()) for v in by_type)
        assert rejected == sum(path.counts.rejected.values())
        assert path.counts.applied + rejected == account["messages"]
        for name in ("add bid", "add ask"):  # an applied ADD rests exactly its true lots
            entry = account["by_type"].get(name)
            if entry:
                assert entry["applied_lots"] == entry["real_lots"] - entry["real_lots_of_rejected"]
        start_book = np.asarray(path.books[path.initial_orders - 1])
        context_book = aapl["books"].isel(time=aapl["end"])
        assert start_book[1].sum() == context_book["bid_qty"].values.sum()  # every start order rests
        assert start_book[3].sum() == context_book["ask_qty"].values.sum()


def test_the_aapl_reference_books_do_not_know_every_level(aapl, shared_data):
    # the finding of docs/generators_depth.md: the held-out books are a replay from a 10-level start, whose
    # undetermined levels hold no lots; the known-depth reference keeps only rows whose 10 levels are known
    from scenarios.generate.depth import known_reference, reference_flow

    test = reference_flow(SPEC, shared_data)["spans"]["test"]
    books = test["books"]
    assert books["ask_determined"].values.sum() < books["ask_determined"].size * 0.6  # most of 50 levels unknown
    quoted = (books["ask_qty"].values[:, 0] > 0).mean()
    assert quoted < 0.85  # the real ask side reads empty on many rows: its orders were never shown
    known = known_reference(books, 10)
    assert 0.5 < known["ask_known"] < 0.95 and 0.5 < known["bid_known"] <= 1.0
    assert (known["ask_volume"] > 0).all() and known["ask_volume"].size > 1000
    assert books["bid_qty"].values.shape[0] == aapl["test"]["books"].sizes["time"]


def test_the_known_depth_scores_replace_the_two_volume_rows_of_the_card(aapl, shared_data):
    from scenarios.generate.depth import VOLUMES, reference_flow, score_depth
    from scenarios.generate.replay import replay_path

    test = reference_flow(SPEC, shared_data)["spans"]["test"]
    path, _ = replay_path(aapl, 20.0, seed=1)
    attrs = {name: aapl["events"].attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    row = score_depth([path.datasets({**attrs, "generator": "replay"}, "t")], test, levels=10, seed=3, n_boot=20)[0]
    assert row["card_levels"] == 50  # the scorecard's default depth on AAPL: the fewer of the two books' levels
    card, adjusted = row["mean_l1"]["value"], row["adjusted"]["mean_l1"]["value"]
    n = row["adjusted"]["scores"]
    change = sum(row[f"{v} known 10"]["value"] - row[f"{v} card"]["value"] for v in VOLUMES) / n
    assert adjusted == pytest.approx(card + change, abs=1e-5)
    assert row["adjusted"]["mean_l1"]["low"] <= adjusted <= row["adjusted"]["mean_l1"]["high"]
    for v in VOLUMES:  # at 10 levels on every quoted row, and on the known rows only: two different references
        assert row["medians"][v]["known"] != row["medians"][v]["all"]


def test_deep_flow_reads_each_messages_level_from_the_book_before_it():
    import xarray as xr

    from scenarios.generate.depth import deep_flow

    a, d = int(EventKind.ADD), int(EventKind.DELETE)
    # the anchor, then over 2 s: a bid ADD at 97 (level 4 of 3 known: beyond 3), one at 99 (level 2), a DELETE at 97
    events = _events([(a, 1, 100, 1, 1), (a, 1, 97, 10, 2), (a, 1, 99, 5, 3), (d, 1, 97, 10, 2)])
    events = events.assign(ts_ns=("event", np.array([0, 10**9, 1500000000, 2 * 10**9], np.int64)))
    book = np.zeros((4, 4, 3), np.int64)
    book[:, 0], book[:, 1] = [100, 99, 98], [1, 1, 1]  # three known bid levels before every message
    book[:, 2], book[:, 3] = [102, 103, 104], 1
    books = xr.Dataset({
        name: (("time", "level"), book[:, j]) for j, name in enumerate(("bid_price", "bid_qty", "ask_price", "ask_qty"))
    })  # fmt: skip
    flow = deep_flow(events, books, levels=3)
    assert flow["bid"]["add_per_s"] == 0.5 and flow["bid"]["add_lots_per_s"] == 5.0 and flow["bid"]["add_share"] == 0.5
    assert flow["bid"]["removal_per_s"] == 0.5 and flow["bid"]["removal_share"] == 1.0
    assert flow["ask"]["add_per_s"] == 0.0 and flow["ask"]["removal_share"] == 0.0
