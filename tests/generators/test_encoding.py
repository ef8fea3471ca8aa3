"""The encoding: exact round trips on the real files, the float layout, regimes, and its error sentences."""

from __future__ import annotations

import numpy as np
import pytest

from generators import encoding as enc
from generators.data import split_by_time
from generators.shares import SHARE_ONE, trade_lots, trade_share
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind


@pytest.mark.parametrize("flow", ["aapl_hour", "amzn_day"])
def test_decode_of_encode_gives_the_real_events_back_exactly(flow, request):
    data = request.getfixturevalue(flow)
    events, books = data["events"], data["books"]
    messages = enc.message_table(events, books)
    back = enc.decode(messages)
    for name, values in back.items():
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    # the float vectors (float64) round-trip to the same integers through the quantile transform of the flow
    knots = enc.fit_knots(messages.table)
    np.testing.assert_array_equal(enc.features_to_table(enc.message_features(messages.table, knots), knots),
                                  messages.table)  # fmt: skip
    assert set(np.unique(messages.table[:, enc.TYPE])) <= set(range(enc.N_TYPES))
    # a trade's size is its share of the queue it met: the data's trades take at most that queue, those against a
    # side the book shows empty too (the AAPL hour's replayed books: 271 of 4,067 trades, whose queue version 3
    # counted as one lot, so that their shares lay above 1; version 4 reads it from the run and the book after it)
    trade = messages.table[:, enc.TYPE] == enc.TYPE_TRADE
    lots, queue, share = events["qty_lots"].values[1:][trade], messages.queue[trade], messages.table[trade, enc.SIZE]
    assert trade.sum() > 4000 and (lots <= queue).all() and (share <= SHARE_ONE).all()
    # the trades' lots come back through float32 vectors too (the networks' precision)
    vectors = enc.message_features(messages.table, knots).astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(trade_lots(enc.features_to_table(vectors, knots)[trade, enc.SIZE], queue), lots)


def test_cancel_level_and_price_are_read_from_the_book_before(aapl_hour):
    events, books = aapl_hour["events"], aapl_hour["books"]
    table = enc.message_table(events, books).table
    bid_price, bid_qty = books["bid_price"].values, books["bid_qty"].values
    rows = np.flatnonzero((table[:, enc.TYPE] == enc.TYPE_DELETE) & (table[:, enc.SIDE] == 1))[:200]
    for row in rows:  # message row is event row + 1, its book before is book row `row`
        price = events["price_ticks"].values[row + 1]
        levels = [p for p, q in zip(bid_price[row, :10], bid_qty[row, :10], strict=True) if q > 0]
        assert table[row, enc.LEVEL] == sum(p > price for p in levels) + 1  # 11: beyond the first 10 levels
    adds = table[table[:, enc.TYPE] == enc.TYPE_ADD]
    assert adds[:, enc.LEVEL].max() == 0 and (adds[:, enc.SIZE] > 0).all()


def test_encoding_statistics_and_regime_quintiles(amzn_day):
    spans = split_by_time(amzn_day["events"], amzn_day["books"])
    train = spans["train"]
    encoding = enc.fit_encoding(train["events"], train["books"], history=8)
    flow = enc.encode(train["events"], train["books"], encoding)
    assert flow.vectors.shape == (len(flow), enc.MESSAGE_WIDTH) and flow.book.shape == (len(flow), enc.BOOK_WIDTH)
    continuous = flow.vectors[:, list(enc.NORMALISED_MESSAGE_COLUMNS)]
    np.testing.assert_allclose(continuous.mean(axis=0), 0.0, atol=1e-4)
    # each regime splits the training messages into fifths (ties aside)
    for column in range(len(enc.REGIMES)):
        counts = np.bincount(flow.regime[:, column], minlength=5) / len(flow)
        assert np.abs(counts - 0.2).max() < 0.03, (enc.REGIMES[column], counts)
    assert enc.Encoding.from_dict(encoding.to_dict()) == encoding
    # the test span is encoded with the training statistics
    test = enc.encode(spans["test"]["events"], spans["test"]["books"], encoding)
    assert len(test) == spans["test"]["events"].sizes["event"] - 1


def test_regime_values_follow_their_definitions():
    mid = np.array([100.0, 101.0, 99.0, 99.0, 102.0])
    bid_price = (mid - 1).astype(np.int64)[:, None]
    ask_price = (mid + 1).astype(np.int64)[:, None]
    bid_qty, ask_qty = np.array([[3], [1], [1], [1], [2]]), np.array([[1], [1], [3], [1], [2]])
    values = enc.regime_values((bid_price, bid_qty, ask_price, ask_qty), window=2)
    np.testing.assert_allclose(values[0], [np.sqrt(1 + 4), -1.0, (4 + 2 + 4) / 3, (0.5 + 0 - 0.5) / 3])
    np.testing.assert_allclose(values[-1], [0.0, 0.0, 4.0, 0.0])


def test_bad_input_is_refused_with_our_sentence(amzn_day):
    events, books = amzn_day["events"].isel(event=slice(0, 50)), amzn_day["books"].isel(time=slice(0, 50))
    with pytest.raises(DataError, match="the encoding needs books"):
        enc.message_table(events, None)
    with pytest.raises(DataError, match="the encoding needs events with"):
        enc.message_table(events.drop_vars("qty_lots"), books)
    halted = events.copy(deep=True)
    halted["kind"].values[7] = int(EventKind.HALT)
    with pytest.raises(DataError, match="row 7: kind must be one of"):
        enc.message_table(halted, books)
    encoding = enc.fit_encoding(events, books, history=8)
    short = enc.fit_encoding(events, books, history=60)
    assert short.history == 60
    with pytest.raises(DataError, match="more messages than the history length 60; got 49"):
        enc.encode(events, books, short)
    assert enc.encode(events, books, encoding).vectors.shape[0] == 49
    with pytest.raises(ParameterError, match="unknown regime 'volume'"):
        enc.regime_condition({"volume": 3})
    with pytest.raises(ParameterError, match="must be an int in 1-5; got 6"):
        enc.regime_condition({"volatility": 6})
    np.testing.assert_array_equal(enc.regime_condition({"volatility": 5, "depth": 1}), [4, 5, 0, 5])
    with pytest.raises(DataError, match="encoding version must be 4"):
        enc.Encoding.from_dict({**encoding.to_dict(), "version": 99})
    with pytest.raises(DataError, match="encoding version must be 4 .* got 3"):  # a sweep fill's queue of 0 lots
        enc.Encoding.from_dict({**encoding.to_dict(), "version": 3})


def test_the_quantile_transform_gives_each_value_a_normal_probability_equal_to_its_own():
    # sizes with an atom of 60 % at 100 lots and levels whose top value (11, "beyond level 10") holds half the mass:
    # standard normal noise decodes to every value as often as the training data hold it (the log scale of
    # version 1 gave those atoms points, and cut the top value's bin in half at the clip)
    rng = np.random.default_rng(3)
    table = np.zeros((20_000, len(enc.FIELDS)), np.int64)
    table[:, enc.SIDE] = 1
    table[:, enc.SIZE] = np.where(rng.random(20_000) < 0.6, 100, rng.integers(1, 400, 20_000))
    table[:, enc.LEVEL] = np.where(rng.random(20_000) < 0.5, 11, rng.integers(0, 11, 20_000))
    table[:, enc.DT] = np.where(rng.random(20_000) < 0.1, 0, rng.lognormal(12.0, 3.0, 20_000).astype(np.int64))
    knots = enc.fit_knots(table)
    back = enc.features_to_table(enc.message_features(table, knots), knots)
    np.testing.assert_array_equal(back, table)  # values inside the knots' range round-trip exactly
    vectors = np.zeros((200_000, enc.MESSAGE_WIDTH))
    vectors[:, list(enc.NORMALISED_MESSAGE_COLUMNS)] = rng.standard_normal((200_000, 4))
    decoded = enc.features_to_table(vectors, knots)
    for field, value in ((enc.SIZE, 100), (enc.LEVEL, 11), (enc.LEVEL, 0), (enc.DT, 0)):
        share = (table[:, field] == value).mean()
        assert abs((decoded[:, field] == value).mean() - share) < 0.01, (enc.FIELDS[field], value, share)


def test_a_trade_is_stored_as_the_middle_of_its_bin_of_the_queue_and_any_share_up_to_one_fits_the_queue():
    lots, queue = (a.ravel() for a in np.meshgrid(np.arange(1, 301), np.arange(0, 301), indexing="ij"))
    share = trade_share(lots, queue)
    np.testing.assert_array_equal(trade_lots(share, queue), lots)  # exact, beyond the queue and on empty sides too
    q = np.maximum(queue, 1)
    slack = SHARE_ONE // (2 * q) - 1  # the middle of the bin: float rounding of the transform cannot leave it
    np.testing.assert_array_equal(trade_lots(share - slack, queue), lots)
    np.testing.assert_array_equal(trade_lots(share + slack, queue)[lots < q], lots[lots < q])
    assert (share[lots == q] == SHARE_ONE).all()  # the whole queue is an atom: it takes the whole of any queue
    assert ((share >= 1) & (share < SHARE_ONE))[lots < q].all() and (share > SHARE_ONE)[lots > q].all()
    # the bins of 1..q lots partition (0, 1]: every share in it takes 1 to q lots, the edges k / q exactly k
    rng = np.random.default_rng(5)
    anywhere, against = rng.integers(1, SHARE_ONE + 1, 100_000), rng.integers(1, 5_000, 100_000)
    taken = trade_lots(anywhere, against)
    assert taken.min() >= 1 and (taken <= against).all()
    assert (trade_lots(SHARE_ONE, against) == against).all() and (trade_lots(1, against) == 1).all()
    edges = np.array([[k * SHARE_ONE // 8, k] for k in range(1, 9)])  # q = 8 divides SHARE_ONE
    np.testing.assert_array_equal(trade_lots(edges[:, 0], 8), edges[:, 1])
    np.testing.assert_array_equal(trade_lots(edges[:, 0] + 1, 8)[:-1], edges[:-1, 1] + 1)


def test_trades_have_their_own_quantiles_and_generated_ones_never_exceed_the_queue():
    rng = np.random.default_rng(4)
    table = np.zeros((20_000, len(enc.FIELDS)), np.int64)
    table[:, enc.TYPE], table[:, enc.SIDE] = rng.choice([enc.TYPE_ADD, enc.TYPE_TRADE], 20_000, p=[0.7, 0.3]), 1
    trade = table[:, enc.TYPE] == enc.TYPE_TRADE
    queue = rng.integers(1, 500, 20_000)
    drawn = np.where(rng.random(20_000) < 0.5, queue, rng.integers(1, queue + 1))  # half take the whole queue
    table[:, enc.SIZE] = np.where(trade, trade_share(drawn, queue), rng.integers(1, 1000, 20_000))
    knots = enc.fit_knots(table)
    assert knots[enc.SHARE_ROW][0] >= 1 and knots[enc.SHARE_ROW][-1] == SHARE_ONE
    assert knots[enc.KNOT_ROWS.index("size_lots")][-1] < 1000  # the sizes' quantiles hold the other messages only
    np.testing.assert_array_equal(enc.features_to_table(enc.message_features(table, knots), knots), table)
    # standard normal noise as trades: every share decodes to 1..q lots against any queue, whole queues as often
    vectors = np.full((100_000, enc.MESSAGE_WIDTH), -1.0)
    vectors[:, enc.M_TYPE + enc.TYPE_TRADE] = 1.0
    vectors[:, list(enc.NORMALISED_MESSAGE_COLUMNS)] = rng.standard_normal((100_000, 4))
    against = rng.integers(1, 500, 100_000)
    lots = trade_lots(enc.features_to_table(vectors, knots)[:, enc.SIZE], against)
    assert lots.min() >= 1 and (lots <= against).all()
    assert abs((lots == against).mean() - (drawn == queue)[trade].mean()) < 0.02
    # a span without trades: every generated trade decodes to a size of 0, which the rollout rejects
    empty = enc.fit_knots(table[~trade])
    assert set(empty[enc.SHARE_ROW]) == {0.0} and (enc.features_to_table(vectors, empty)[:, enc.SIZE] == 0).all()


def test_the_queue_of_a_fill_is_the_one_it_met_whether_the_books_follow_each_fill_or_the_whole_order(zi_spans):
    # a market buy of 7 lots against asks of 5 at 102 and 4 at 103: fills of 5 at 102 and 2 at 103, both at one time
    trade, side, dt = np.array([True, True]), np.array([1, 1]), np.array([0, 0])
    price, qty = np.array([102, 103]), np.array([5, 2])
    bid = (np.full((2, 2), 90), np.ones((2, 2), np.int64))
    after_order = (*bid, np.array([[102, 103], [103, 0]]), np.array([[5, 4], [2, 0]]))  # simulators: after the order
    after_fill = (*bid, np.array([[102], [103]]), np.array([[5], [4]]))  # LOBSTER level 1: after each fill
    for books in (after_order, after_fill):
        np.testing.assert_array_equal(enc.touch_queues(trade, side, price, qty, dt, books), [5, 4])
    # a market buy of 13 lots sweeps asks of 5 at 102, 4 at 103, 3 at 104 and 6 at 105 in books of 2 levels, which
    # a simulator records after the whole order with each fill: 104 is in no book of the run (version 3 counted its
    # queue 0, its share 3 / 1 lay beyond the queue and a replay rejected it); its queue is the run's fills there
    # and what the book after the run shows there (nothing: the whole level), 105's the same (1 + 5 lots)
    trade, side, dt = np.ones(4, bool), np.ones(4, np.int64), np.zeros(4, np.int64)
    price, qty = np.array([102, 103, 104, 105]), np.array([5, 4, 3, 1])
    bid = (np.full((5, 2), 90), np.ones((5, 2), np.int64))
    asks = np.array([[102, 103]] + [[105, 106]] * 4), np.array([[5, 4]] + [[5, 2]] * 4)
    sweep = enc.touch_queues(trade, side, price, qty, dt, (*bid, *asks))
    np.testing.assert_array_equal(sweep, [5, 4, 3, 6])
    np.testing.assert_array_equal(trade_share(qty, sweep), [SHARE_ONE, SHARE_ONE, SHARE_ONE, SHARE_ONE // 12])
    np.testing.assert_array_equal(trade_lots(trade_share(qty, sweep), sweep), qty)
    # without a book after the run (books one row short), the run's own fills there: 104 met at least 3 lots
    short = (bid[0][:4], bid[1][:4], asks[0][:4], asks[1][:4])
    np.testing.assert_array_equal(enc.touch_queues(trade, side, price, qty, dt, short), [5, 4, 3, 5])
    # the book simulators record the book after the whole order with each fill: every fill's share is at most 1
    events, books = zi_spans["train"]["events"], zi_spans["train"]["books"]
    messages = enc.message_table(events, books)
    fills = messages.table[:, enc.TYPE] == enc.TYPE_TRADE
    assert fills.sum() > 100 and (np.diff(events["ts_ns"].values)[fills] == 0).mean() > 0.1  # sweeps
    assert (messages.table[fills, enc.SIZE] <= SHARE_ONE).all()
    np.testing.assert_array_equal(enc.decode(messages)["qty_lots"], events["qty_lots"].values[1:])
