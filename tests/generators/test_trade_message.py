"""trade_message = "order" (session 42): a marketable order's fills at one price as one TRADE message, merged before
encoding (generators.encoding.merge_fills), written, decoded, saved and refused as the encoding's other options are,
and split back into the data's fills by the rollout's "queue" fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from calibration.book_presets import load_book_preset
from generators import encoding as enc
from generators.base import _context_end, context_window
from generators.diffusion import DiffusionGenerator
from generators.shares import SHARE_ONE
from generators.spec import load_spec
from generators.starts import check_trained_on, start_windows
from scenarios.generate.ground_truth import TruthSpec, drop_initial, load_truth_spec, replay_fresh, simulate_flow
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind
from tests.generators.conftest import check_option_checkpoint
from tests.generators.test_diffusion import SMALL

ADD, TRADE, HIDDEN = int(EventKind.ADD), int(EventKind.TRADE), int(EventKind.TRADE_HIDDEN)


def _flow(rows: list[tuple[int, int, int, int, int]]) -> tuple[xr.Dataset, xr.Dataset]:
    """Events (ts_ns, kind, side, price, lots) and a one-level book whose bid lots are the row number."""
    ts, kind, side, price, qty = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    events = xr.Dataset(
        {
            "ts_ns": ("event", ts),
            "kind": ("event", kind.astype(np.int8)),
            "side": ("event", side.astype(np.int8)),
            "price_ticks": ("event", price),
            "qty_lots": ("event", qty),
            "order_id": ("event", np.arange(ts.size, dtype=np.int64)),
        }
    )
    n = ts.size
    books = xr.Dataset(
        {
            "bid_price": (("time", "level"), np.full((n, 1), 99, np.int64)),
            "bid_qty": (("time", "level"), np.arange(n, dtype=np.int64)[:, None]),
            "ask_price": (("time", "level"), np.full((n, 1), 101, np.int64)),
            "ask_qty": (("time", "level"), np.full((n, 1), 5, np.int64)),
        }
    )
    return events, books


def test_a_run_of_fills_at_one_price_and_time_becomes_one_event_with_the_book_after_the_run():
    events, books = _flow(
        [
            (0, ADD, 1, 99, 3),
            (10, TRADE, 1, 101, 2),  # a marketable buy meets three orders at 101 ...
            (10, TRADE, 1, 101, 4),
            (10, TRADE, 1, 101, 1),
            (10, TRADE, 1, 102, 6),  # ... and sweeps on to 102: another price, another event
            (10, TRADE, -1, 99, 1),  # another side at the same time: another order
            (20, TRADE, -1, 99, 1),  # later: another order
            (20, HIDDEN, -1, 99, 5),  # a hidden execution ends the run
            (20, TRADE, -1, 99, 2),
            (30, TRADE, -1, 99, 2),
        ]
    )
    merged, after = enc.merge_fills(events, books)
    np.testing.assert_array_equal(merged["qty_lots"].values, [3, 7, 6, 1, 1, 5, 2, 2])
    np.testing.assert_array_equal(merged["price_ticks"].values, [99, 101, 102, 99, 99, 99, 99, 99])
    np.testing.assert_array_equal(merged["order_id"].values, [0, 1, 4, 5, 6, 7, 8, 9])  # the run's first's fields
    np.testing.assert_array_equal(after["bid_qty"].values[:, 0], [0, 3, 4, 5, 6, 7, 8, 9])  # the book after the run
    assert merged.attrs[enc.TRADE_MESSAGE] == "order"
    first, last = enc.fill_runs(events)
    np.testing.assert_array_equal(first, [0, 1, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(last, [0, 3, 4, 5, 6, 7, 8, 9])
    # merging a merged span changes nothing, and a span without runs is returned as it is
    again, again_books = enc.merge_fills(merged, after)
    assert again is merged and again_books is after


@pytest.mark.parametrize("day", ["amzn_day", "aapl_hour"])
def test_merged_real_flows_keep_every_lot_and_round_trip_exactly(request, day):
    flow = request.getfixturevalue(day)
    events, books = flow["events"], flow["books"]
    merged, after = enc.merge_fills(events, books)
    kind = events["kind"].values.astype(np.int64) & 0xFF
    trades = int((kind == TRADE).sum())
    merged_trades = int(((merged["kind"].values.astype(np.int64) & 0xFF) == TRADE).sum())
    gone = events.sizes["event"] - merged.sizes["event"]
    assert gone > 100 and trades - merged_trades == gone  # only visible fills are merged
    for name in ("qty_lots",):
        assert int(merged[name].values.astype(np.int64).sum()) == int(events[name].values.astype(np.int64).sum())
    first, last = enc.fill_runs(events)
    for name in ("bid_qty", "ask_qty", "bid_price", "ask_price"):  # the book after each run is the file's
        np.testing.assert_array_equal(after[name].values, books[name].values[last])
    # the merged span is encoded and decoded exactly, every share at most the queue it met
    table = enc.message_table(merged, after)
    for name, values in enc.decode(table).items():
        np.testing.assert_array_equal(values, merged[name].values[1:], err_msg=name)
    trade = table.table[:, enc.TYPE] == enc.TYPE_TRADE
    shares = table.table[trade, enc.SIZE]
    assert (shares <= SHARE_ONE).all() and (shares >= 1).all()
    # an order takes the whole queue more often than a fill of it (here and in the fills: share 1 is the atom)
    fills = enc.message_table(events, books).table
    fill_shares = fills[fills[:, enc.TYPE] == enc.TYPE_TRADE, enc.SIZE]
    assert np.mean(shares == SHARE_ONE) > np.mean(fill_shares == SHARE_ONE)


def test_the_option_is_fitted_encoded_saved_and_versioned_like_the_others(amzn_day):
    events, books = amzn_day["events"], amzn_day["books"]
    fitted = enc.fit_encoding(events, books.assign_attrs({enc.TRADE_MESSAGE: "order"}), history=8)
    assert fitted.trade_message == "order" and fitted.layout == f"{enc.ENCODING_VERSION}+trade_message=order"
    merged, after = enc.merge_fills(events, books)
    flow = enc.encode(events, books, fitted)  # a real span is merged before it is encoded
    np.testing.assert_array_equal(flow.messages.table, enc.message_table(merged, after).table)
    np.testing.assert_array_equal(enc.encode(merged, after, fitted).messages.table, flow.messages.table)
    assert fitted.span(events, books)[0].sizes == merged.sizes
    assert enc.Encoding.from_dict(fitted.to_dict()).trade_message == "order"
    default = enc.Encoding.from_dict({**fitted.to_dict(), "trade_message": "fill"})
    assert default.layout == enc.ENCODING_VERSION and "trade_message" not in default.to_dict()
    assert default.span(events, books)[0] is events
    assert enc.layout_version("volume", "own", "order") == (
        f"{enc.ENCODING_VERSION}+cancel_position=volume+add_price=own+trade_message=order"
    )


def test_bad_values_of_trade_message_are_refused_with_our_sentence(tmp_path, amzn_day):
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\ntrade_message = "fills"\n[model]\nseed = 1\n')
    with pytest.raises(ParameterError, match=r"trade_message in table 'data' must be one of \['fill', 'order'\]"):
        load_spec(spec)
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\ntrade_message = "order"\n[model]\nseed = 1\n')
    assert load_spec(spec).trade_message == "order"
    with pytest.raises(ParameterError, match="train span: trade_message must be one of"):
        enc.fit_encoding(
            amzn_day["events"], amzn_day["books"].assign_attrs({enc.TRADE_MESSAGE: "run"}), history=8,
            source="train span",
        )  # fmt: skip
    fitted = enc.fit_encoding(amzn_day["events"], amzn_day["books"], history=8)
    with pytest.raises(DataError, match="encoding 'trade_message' must be one of"):
        enc.Encoding.from_dict({**fitted.to_dict(), "trade_message": "order "})
    with pytest.raises(ParameterError, match="`trade_message` of the ground-truth spec: trade_message must be one of"):
        TruthSpec(seed=1, trade_message="orders")
    with pytest.raises(ParameterError, match="ground-truth spec: a model of whole marketable orders .* got 'front'"):
        TruthSpec(seed=1, trade_message="order", trade_fill="front")
    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    truth = load_truth_spec(library / "generate_hawkes_truth_tiny_spread_order.toml")
    assert truth.trade_message == "order" and truth.cancel_position == "spread" and truth.trade_fill == "queue"


def test_the_rollout_splits_a_merged_order_into_the_process_fills():
    # ground truth: a Hawkes-driven book's fresh path, its fills merged into orders and replayed from its own whole
    # book through the rollout's "queue" fill, gives every one of the process's events back, fills included (the
    # engine's time priority splits each order as the process's did)
    # (at this seed a DELETE never meets two orders of one level it could be, where the rollout picks by size)
    whole = simulate_flow(load_book_preset("hawkes-aapl"), 60.0, np.random.SeedSequence(2), 10)
    true = drop_initial(whole)["events"]
    first, last = enc.fill_runs(true)
    assert ((last - first) > 0).sum() > 40  # orders of several fills
    path = replay_fresh(
        None, whole, 60.0, seed=np.random.SeedSequence(1), depth=10, book_levels=10, trade_message="order"
    )
    attrs = path["events"].attrs
    assert attrs["rejected"] == 0 and attrs["applied"] == first.shape[0]  # one message per merged event
    replayed = path["events"].isel(event=slice(int(attrs["initial_orders"]), None))
    for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots"):
        np.testing.assert_array_equal(replayed[name].values, true[name].values, err_msg=name)
    with pytest.raises(ParameterError, match="replay_fresh: trade_message must be one of"):
        replay_fresh(None, whole, 1.0, seed=np.random.SeedSequence(1), depth=10, book_levels=10, trade_message="x")


@pytest.fixture(scope="module")
def order_model(zi_spans):
    train = zi_spans["train"]
    spans = {**zi_spans, "train": {**train, "books": train["books"].assign_attrs({enc.TRADE_MESSAGE: "order"})}}
    return DiffusionGenerator(SMALL, device="cpu").fit(spans, seed=3)


def test_a_model_of_orders_trains_on_merged_spans_samples_fills_and_is_refused_by_a_simlab_without_it(
    order_model, zi_spans, tmp_path
):
    encoding = order_model.encoding_
    assert encoding.trade_message == "order"
    # the sampling context is the merged validation span's, field by field (its messages, books and time)
    validation = zi_spans["validation"]
    merged, after = enc.merge_fills(validation["events"], validation["books"])
    assert merged.sizes["event"] < validation["events"].sizes["event"]  # the span had orders of several fills
    table = enc.message_table(merged, after).table
    rows = max(encoding.history, enc.FLOW_WINDOW)
    expected = context_window(table, (merged, after), _context_end(after, rows), rows)
    for name in ("table", "books", "ts_ns"):
        np.testing.assert_array_equal(order_model.context_[name], expected[name], err_msg=name)
    windows = start_windows(validation["events"], validation["books"], encoding)  # the start windows: merged too
    np.testing.assert_array_equal(windows.table, table)
    # the model's own spans are recognised as its training data (unmerged, as a spec reads them)
    train = zi_spans["train"]
    check_trained_on(order_model, (train["events"], train["books"]), (validation["events"], validation["books"]),
                     source="spec x")  # fmt: skip
    # a model of orders is not sampled under "front" (which would cap each order at one fill)
    with pytest.raises(ParameterError, match="a model of whole marketable orders .* got 'front'"):
        order_model.sample(1, 1.0, generator=1, trade_fill="front")
    # saved, loaded, sampled alike on both rollouts; a simlab without the option refuses it with our sentence
    check_option_checkpoint(order_model, tmp_path / "m", "trade_message", "order", 20.0)


def test_the_library_spec_is_the_own_long_spec_with_orders():
    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    order, own = (load_spec(library / f"generate_amzn_tiny_long_own{s}.toml") for s in ("_order", ""))
    assert order.trade_message == "order" and own.trade_message == "fill"
    same = ("message", "books", "split", "family", "preset", "seed", "overrides", "add_price", "cancel_position")
    assert all(getattr(order, name) == getattr(own, name) for name in same)


def test_order_fills_counts_each_marketable_orders_fills_alike_on_real_and_rolled_out_flows():
    from generators.evaluation import order_fills

    events, _ = _flow(
        [
            (0, ADD, 1, 99, 3),
            (10, TRADE, 1, 101, 2),
            (10, TRADE, 1, 101, 4),
            (10, TRADE, 1, 102, 6),
            (20, HIDDEN, -1, 99, 5),
            (30, TRADE, -1, 99, 2),
        ]
    )
    assert order_fills(events) == {"fills": 4, "orders": 3, "fills_per_order": 4 / 3, "multi_fill": 1 / 3}
    assert order_fills(events, skip=2) == {"fills": 3, "orders": 3, "fills_per_order": 1.0, "multi_fill": 0.0}
    assert order_fills(events, skip=6)["fills_per_order"] is None
    with pytest.raises(ParameterError, match="`skip` of order_fills must be an int in 0-6; got 7"):
        order_fills(events, skip=7)
    # the process's own fills and those the rollout splits from its merged orders are counted the same
    whole = simulate_flow(load_book_preset("hawkes-aapl"), 60.0, np.random.SeedSequence(2), 10)
    path = replay_fresh(
        None, whole, 60.0, seed=np.random.SeedSequence(1), depth=10, book_levels=10, trade_message="order"
    )
    true = order_fills(drop_initial(whole)["events"])
    assert true["orders"] > 100 and true["fills_per_order"] > 1
    assert order_fills(path["events"], skip=int(path["events"].attrs["initial_orders"])) == true


def test_a_spec_s_options_reach_the_training_books_as_the_encoding_s_attributes(tmp_path, monkeypatch):
    from generators import spec as spec_module
    from tests.conftest import shared_path

    seen = {}
    monkeypatch.setattr(DiffusionGenerator, "fit", lambda self, data, **kw: seen.update(data=data) or self)
    monkeypatch.setattr(DiffusionGenerator, "save", lambda self, path: None)
    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    data = shared_path("lobster_samples").parent
    text = (library / "generate_amzn_tiny_long_own_order.toml").read_text()
    path = tmp_path / "spec.toml"
    for extra, expected in (
        ("", {enc.ADD_PRICE: "own", enc.TRADE_MESSAGE: "order"}),
        ('level_prices = true\ncancel_position = "volume"\n', {enc.ADD_PRICE: "own", enc.TRADE_MESSAGE: "order",
                                                               enc.LEVEL_PRICES: True, enc.CANCEL_POSITION: "volume"}),
    ):  # fmt: skip
        path.write_text(text.replace("[model]", extra + "[model]"))
        spec_module.train_from_spec(path, tmp_path / "m", data_dir=data)
        books = seen["data"]["train"]["books"]
        assert {k: books.attrs[k] for k in expected} == expected
        assert enc.KNOWN_DEPTH_ONLY not in books.attrs and not seen["data"]["validation"]["books"].attrs.get(
            enc.TRADE_MESSAGE
        )  # the validation span is read as it is; the encoding fitted on the training span merges it
    path.write_text(text.replace('trade_message = "order"\n', ""))
    spec_module.train_from_spec(path, tmp_path / "m", data_dir=data)
    assert enc.TRADE_MESSAGE not in seen["data"]["train"]["books"].attrs  # the default sets no attribute
