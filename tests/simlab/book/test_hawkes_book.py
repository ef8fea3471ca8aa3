"""The Hawkes-driven book: exact use of the Hawkes path, book invariants, fitted laws, seeds, and a slow twin."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from simlab.book import _engine, _hawkes_book, _zi
from simlab.book.hawkes_book import ORDER_FLOW, EmpiricalLaw, HawkesBookParams, simulate_hawkes_book
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.schema import NO_PRICE, EventKind

HAWKES = HawkesParams(
    baseline=[3.0, 3.0, 1.2, 1.2, 0.4, 0.4],
    adjacency=0.08 * np.eye(6) + 0.02,
    decays=np.full((6, 6), 2.0),
    names=ORDER_FLOW,
)
PLACE = EmpiricalLaw(np.arange(-4, 12), np.r_[[1, 1, 2, 3], [8, 6, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1]].astype(float))
SIZES = EmpiricalLaw(np.array([1, 2, 3, 5, 10]), np.array([0.4, 0.25, 0.15, 0.15, 0.05]))
MARKET = EmpiricalLaw(np.array([1, 2, 4, 8]), np.array([0.5, 0.3, 0.15, 0.05]))
HAZARD = np.vstack([np.linspace(2.0, 0.5, 20), np.linspace(1.0, 1.0, 20)])
BOOK = np.array([[999, 998, 997], [5, 5, 5], [1001, 1002, 1003], [5, 5, 5]])
PARAMS = HawkesBookParams(HAWKES, (PLACE, PLACE), (SIZES, SIZES), (MARKET, MARKET), HAZARD, BOOK)
SEED, DURATION, WARMUP = 11, 400.0, 20.0


@pytest.fixture(scope="module")
def run():
    return simulate_hawkes_book(PARAMS, DURATION, rng=SEED, warmup_s=WARMUP, depth=400)


def test_every_hawkes_event_is_applied(run):
    (path,) = simulate_hawkes(HAWKES, WARMUP + DURATION, rng=np.random.default_rng(SEED))
    recorded = path.dims[path.times_s >= WARMUP]
    counts = np.bincount(recorded, minlength=6)
    ev = run["events"]
    assert ev.attrs["hawkes_counts"] == counts.tolist()
    skip = ev.attrs["initial_orders"]
    kind, side = ev["kind"].values[skip:], ev["side"].values[skip:]
    assert [np.sum((kind == EventKind.ADD) & (side == s)) for s in (1, -1)] == counts[:2].tolist()
    deletes = int(np.sum(kind == EventKind.DELETE))
    assert deletes + ev.attrs["skipped_cancels"] == counts[2:4].sum() and deletes > 100
    trades = np.unique(ev["ts_ns"].values[skip:][kind == EventKind.TRADE]).size
    assert 0 < trades <= counts[4:].sum()
    add_ts = ev["ts_ns"].values[skip:][kind == EventKind.ADD]
    limit_times = path.times_s[(path.times_s >= WARMUP) & (path.dims <= 1)]
    assert np.array_equal(add_ts, np.round((limit_times - WARMUP) * 1e9).astype(np.int64))


def test_book_never_crossed_and_volume_conserved(run):
    ev, books = run["events"], run["books"]
    quoted = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    assert np.all(books["bid_price"].values[quoted, 0] < books["ask_price"].values[quoted, 0])
    kind, ids, qty = ev["kind"].values, ev["order_id"].values, ev["qty_lots"].values
    added = dict(zip(ids[kind == EventKind.ADD], qty[kind == EventKind.ADD], strict=True))
    remaining = dict(added)
    for k, i, q in zip(kind, ids, qty, strict=True):
        if k == EventKind.TRADE:
            remaining[i] -= q
        elif k == EventKind.DELETE:
            assert remaining[i] == q  # a cancel removes exactly what rests
            remaining[i] = 0
    assert min(remaining.values()) >= 0
    resting = books["bid_qty"].values[-1].sum() + books["ask_qty"].values[-1].sum()
    assert resting == sum(remaining.values())  # depth=400 shows the whole book


def _placement_rows(run, side):
    """Observed distances and the spreads before ADDs of one side with both sides quoted before."""
    ev, books = run["events"], run["books"]
    skip = ev.attrs["initial_orders"]
    kind, s, price = ev["kind"].values, ev["side"].values, ev["price_ticks"].values
    rows = np.flatnonzero((kind == EventKind.ADD) & (s == side))
    rows = rows[rows > skip]
    bid, ask = books["bid_price"].values[rows - 1, 0], books["ask_price"].values[rows - 1, 0]
    ok = (books["bid_qty"].values[rows - 1, 0] > 0) & (books["ask_qty"].values[rows - 1, 0] > 0)
    same = bid if side == 1 else ask
    return (side * (same - price[rows]))[ok], (ask - bid)[ok]


@pytest.mark.parametrize("side", [1, -1])
def test_placement_matches_the_law_capped_inside_the_spread(run, side):
    distance, spread = _placement_rows(run, side)
    values, p = PLACE.values, PLACE.probabilities
    expected = np.zeros(values.size)
    for s in np.unique(spread):  # a draw d <= -spread becomes -(spread - 1)
        n, keep = np.sum(spread == s), values > -s
        pmf = np.where(keep, p, 0.0)
        pmf[np.argmax(keep)] += p[~keep].sum()
        expected += n * pmf
    observed = np.array([np.sum(distance == v) for v in values])
    assert observed.sum() == distance.size > 500
    use = expected >= 5
    observed, expected = observed[use], expected[use] * observed[use].sum() / expected[use].sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_sizes_match_their_laws(run):
    ev = run["events"]
    skip = ev.attrs["initial_orders"]
    kind, qty = ev["kind"].values[skip:], ev["qty_lots"].values[skip:]
    observed = np.array([np.sum(qty[kind == EventKind.ADD] == v) for v in SIZES.values])
    assert observed.sum() == np.sum(kind == EventKind.ADD)
    assert stats.chisquare(observed, observed.sum() * SIZES.probabilities).pvalue > 1e-3
    ts, side = ev["ts_ns"].values[skip:], ev["side"].values[skip:]
    trade = kind == EventKind.TRADE
    _, group = np.unique(np.c_[ts[trade], side[trade]], axis=0, return_inverse=True)
    filled = np.bincount(group.ravel(), qty[trade])  # lots of each market order that found resting volume
    assert filled.size > 50 and filled.max() <= MARKET.values[-1]


def test_seeded_runs_reproduce():
    a = simulate_hawkes_book(PARAMS, 30.0, rng=3, warmup_s=5.0, sample_ns=1_000_000_000)
    b = simulate_hawkes_book(PARAMS, 30.0, rng=3, warmup_s=5.0, sample_ns=1_000_000_000)
    c = simulate_hawkes_book(PARAMS, 30.0, rng=4, warmup_s=5.0, sample_ns=1_000_000_000)
    for name in ("ts_ns", "kind", "price_ticks", "qty_lots", "order_id"):
        assert np.array_equal(a["events"][name].values, b["events"][name].values)
    assert not np.array_equal(a["events"]["price_ticks"].values, c["events"]["price_ticks"].values)
    assert np.array_equal(a["books"]["ts_ns"].values, np.arange(31) * 1_000_000_000)
    assert a["events"].attrs["true_params"] == b["events"].attrs["true_params"]


# ---------------------------------------------------------------- slow twin of the kernel


class _TwinBook:
    """A list-based price-time book: side -> {price: [[order id, lots], ...]} driven like the kernel."""

    def __init__(self, book, max_spread=0, depth_ref=(0.0, 0.0), depth_window=1, from_opposite=False):
        self.levels = {1: {}, -1: {}}
        self.max_spread, self.depth_ref, self.depth_window = max_spread, depth_ref, depth_window
        self.from_opposite = from_opposite
        self.next_id = 1
        for side, prices, qtys in ((1, book[0], book[1]), (-1, book[2], book[3])):
            for p, q in zip(prices, qtys, strict=True):
                if q > 0:
                    self.rest(side, int(p), int(q))
        self.last = {1: self.best(1), -1: self.best(-1)}

    def best(self, side):
        prices = self.levels[side]
        return (max if side == 1 else min)(prices) if prices else NO_PRICE

    def rest(self, side, price, qty):
        self.levels[side].setdefault(price, []).append([self.next_id, qty])
        self.next_id += 1

    def step(self, dim, uniforms, ts, records):
        if dim <= 1:
            side = 1 if dim == 0 else -1
            u, same, opposite = next(uniforms), self.last[side], self.best(-side)
            if self.from_opposite:
                same = self.last[-side]  # distances counted from the opposite best (its last value when empty)
            if (self.max_spread > 0 or self.from_opposite) and opposite != NO_PRICE:
                if not self.from_opposite and side * (opposite - same) > self.max_spread:
                    same = opposite - side * self.max_spread  # the reference no farther than max_spread from opposite
                crossing = PLACE.values <= -side * (opposite - same)  # these distances would reach the opposite best
                below = PLACE.cdf()[crossing][-1] if crossing.any() else 0.0
                if below < 1.0:
                    u = below + u * (1.0 - below)  # the law conditioned on not crossing
            d = _draw(PLACE, u)
            qty = _draw(SIZES, next(uniforms))
            price = same - side * d
            if opposite != NO_PRICE and side * (price - opposite) >= 0:
                price = opposite - side
            records.append((ts, 1, side, price, qty, self.next_id))
            self.rest(side, price, qty)
        elif dim <= 3:
            self.cancel(1 if dim == 2 else -1, uniforms, ts, records)
        else:
            self.market(1 if dim == 4 else -1, _draw(MARKET, next(uniforms)), ts, records)

    def cancel(self, side, uniforms, ts, records):
        prices = sorted(self.levels[side], reverse=side == 1)
        ref = self.depth_ref[0 if side == 1 else 1]
        if ref > 0:  # applied with probability min(1, lots within the window / ref)
            near = [q for p in prices if abs(p - prices[0]) < self.depth_window for _, q in self.levels[side][p]]
            if next(uniforms) * ref >= sum(near):
                return
        if not prices:
            return
        u = next(uniforms)
        hazard, best = HAZARD[0 if side == 1 else 1], prices[0]
        weights = [hazard[min(abs(p - best), hazard.size - 1)] for p in prices]
        masses = [w * sum(q for _, q in self.levels[side][p]) for w, p in zip(weights, prices, strict=True)]
        total = 0.0
        for m in masses:
            total += m
        target, acc = u * total, 0.0
        for k, (p, w, m) in enumerate(zip(prices, weights, masses, strict=True)):
            if acc + m > target or k == len(prices) - 1:
                lots, below, queue = (target - acc) / w, 0, self.levels[side][p]
                j = 0
                while j < len(queue) - 1 and below + queue[j][1] <= lots:
                    below += queue[j][1]
                    j += 1
                order_id, qty = queue.pop(j)
                if not queue:
                    del self.levels[side][p]
                records.append((ts, 3, side, p, qty, order_id))
                return
            acc += m

    def market(self, side, qty, ts, records):
        book = self.levels[-side]
        while qty > 0 and book:
            price = self.best(-side)
            queue = book[price]
            take = min(qty, queue[0][1])
            records.append((ts, 5, side, price, take, queue[0][0]))
            qty -= take
            queue[0][1] -= take
            if queue[0][1] == 0:
                queue.pop(0)
                if not queue:
                    del book[price]


def _draw(law, u):
    return int(law.values[np.searchsorted(law.cdf(), u, side="right")])


@pytest.mark.parametrize("max_spread, depth_ref, from_opposite", [(0, 0.0, False), (3, 60.0, False), (0, 0.0, True)])
def test_kernel_matches_the_slow_twin(max_spread, depth_ref, from_opposite):
    (path,) = simulate_hawkes(HAWKES, 120.0, rng=np.random.default_rng(5))
    cdf, values = PARAMS._tables
    state = _engine.new_engine(900, 200, 8)
    ctr = np.zeros(_hawkes_book.CTR_SIZE, np.int64)
    ctr[_zi.C_NEXT_ID] = 1
    for side, prices, qtys in ((1, BOOK[0], BOOK[1]), (-1, BOOK[2], BOOK[3])):
        state = _hawkes_book.place_initial(state, ctr, prices, qtys, side, 50)
    ev, books, book_ts = np.zeros((16, 6), np.int64), np.zeros((4, 16, 3), np.int64), np.zeros(16, np.int64)
    gen = np.random.default_rng(9)
    dims = path.dims.astype(np.int64)
    refs = (depth_ref, depth_ref + 5.0) if depth_ref else (0.0, 0.0)  # bid, ask reference depths
    result = _hawkes_book.run(state, _engine.new_fills(2), gen, path.times_s, dims, 0, dims.size, 0.0, cdf,
                              values, HAZARD, np.array(refs), 4, max_spread, from_opposite, 50, 0, 0, True, ev,
                              books, book_ts, ctr)  # fmt: skip
    ev = result[2][: ctr[_zi.C_EVENTS]]
    twin, records = _TwinBook(BOOK, max_spread, refs, 4, from_opposite), []
    uniforms = iter(np.random.default_rng(9).random(4 * dims.size).tolist())
    for t, dim in zip(path.times_s, dims, strict=True):
        twin.last = {s: twin.best(s) if twin.best(s) != NO_PRICE else twin.last[s] for s in (1, -1)}
        twin.step(int(dim), uniforms, int(np.round(t * 1e9)), records)
    assert ev.shape[0] == len(records) > 200 and ctr[_hawkes_book.C_GROWS] > 0
    assert np.array_equal(ev, np.array(records, dtype=np.int64))
    if max_spread:  # the placement is never capped; the depth rule skips cancels when the book is thin
        assert ctr[_hawkes_book.C_CAPPED] == 0 and ctr[_hawkes_book.C_SKIPPED] > 20
    if from_opposite:  # drawn conditioned on not crossing: nothing capped, and bids placed below the ask
        adds = ev[ev[:, 1] == 1]
        assert ctr[_hawkes_book.C_CAPPED] == 0 and adds.shape[0] > 100


def test_draw_is_the_inverse_cdf():
    cdf, values = PLACE.cdf(), PLACE.values
    for u in np.r_[0.0, np.nextafter(cdf[:-1], 0), cdf[:-1], 0.999999]:
        assert _hawkes_book.draw(cdf, values, u) == _draw(PLACE, u)


@pytest.mark.parametrize(
    "change, word",
    [
        ({"hawkes": HawkesParams([1.0], [[0.1]], [[1.0]])}, "hawkes"),
        ({"placement": (PLACE,)}, "placement"),
        ({"limit_sizes": (PLACE, PLACE)}, "limit_sizes"),
        ({"cancel_hazard": np.zeros((2, 3))}, "cancel_hazard"),
        ({"initial_book": np.array([[1002], [5], [1001], [5]])}, "crossed"),
        ({"initial_book": np.array([[1000], [0], [1001], [5]])}, "initial_book"),
        ({"tick_size": 0.0}, "tick_size"),
        ({"max_spread_ticks": 0}, "max_spread_ticks"),
        ({"placement_reference": "mid"}, "placement_reference"),
        ({"placement_reference": "opposite", "max_spread_ticks": 3}, "applies to placement_reference='same' only"),
        ({"reference_depth_lots": (1.0, 0.0)}, "reference_depth_lots"),
        ({"reference_depth_lots": 5.0}, "reference_depth_lots"),
        ({"depth_window_ticks": 0}, "depth_window_ticks"),
    ],
)
def test_bad_parameters_are_named(change, word):
    fields = dict(
        hawkes=HAWKES, placement=(PLACE, PLACE), limit_sizes=(SIZES, SIZES), market_sizes=(MARKET, MARKET),
        cancel_hazard=HAZARD, initial_book=BOOK,
    )  # fmt: skip
    fields.update(change)
    with pytest.raises(ParameterError, match=word):
        HawkesBookParams(**fields)


@pytest.mark.parametrize(
    "options, word", [({"duration_s": 0.0}, "duration_s"), ({"depth": 0}, "depth"), ({"warmup_s": -1.0}, "warmup_s")]
)
def test_bad_run_options_are_named(options, word):
    kwargs = {"duration_s": 1.0, "rng": 0, **options}
    with pytest.raises(ParameterError, match=word):
        simulate_hawkes_book(PARAMS, **kwargs)
    with pytest.raises(ParameterError, match="EmpiricalLaw"):
        EmpiricalLaw(np.array([2, 1]), np.array([0.5, 0.5]))


def test_params_round_trip_through_json():
    params = replace(PARAMS, tick_size=0.5, lot_size=10.0, instrument="XYZ", venue="TEST", max_spread_ticks=7)
    params = replace(params, reference_depth_lots=(40, 50.5), depth_window_ticks=9)
    back = HawkesBookParams.from_dict(json.loads(json.dumps(params.to_dict())))
    assert back.reference_depth_lots == (40.0, 50.5) and back.max_spread_ticks == 7 and back.depth_window_ticks == 9
    opposite = replace(params, max_spread_ticks=None, placement_reference="opposite")
    assert HawkesBookParams.from_dict(opposite.to_dict()).placement_reference == "opposite"
    assert back.to_dict() == params.to_dict() and back.hawkes == HAWKES
    for name in ("placement", "limit_sizes", "market_sizes"):
        for law, original in zip(getattr(back, name), getattr(params, name), strict=True):
            np.testing.assert_array_equal(law.values, original.values)
            np.testing.assert_array_equal(law.probabilities, original.probabilities)
    np.testing.assert_array_equal(back._tables[0], params._tables[0])
    minimal = {k: v for k, v in params.to_dict().items() if k not in ("tick_size", "lot_size", "instrument", "venue")}
    assert HawkesBookParams.from_dict(minimal).tick_size == 0.01


@pytest.mark.parametrize(
    "edit, word",
    [
        (lambda d: d.update(extra=1), r"unknown keys \['extra'\]"),
        (lambda d: d.pop("cancel_hazard"), r"missing keys \['cancel_hazard'\]"),
        (lambda d: d["hawkes"].pop("baseline"), "`hawkes` is not a HawkesParams"),
        (lambda d: d.update(placement={"values": [1]}), "`placement` must be a list"),
        (lambda d: d["limit_sizes"][0].update(weights=[1.0]), "exactly the keys values, probabilities"),
        (lambda d: d["market_sizes"][1].update(values=[1.5, 2.5, 3.5, 4.5]), "values integers"),
    ],
)
def test_params_from_bad_dict_are_named(edit, word):
    data = PARAMS.to_dict()
    edit(data)
    with pytest.raises(ParameterError, match=word):
        HawkesBookParams.from_dict(data)


def test_feedback_keeps_the_hawkes_times_and_a_two_sided_book():
    params = replace(PARAMS, max_spread_ticks=3, reference_depth_lots=(40.0, 40.0), depth_window_ticks=10)
    result = simulate_hawkes_book(params, 200.0, rng=3, warmup_s=10.0, depth=400)
    ev, books = result["events"], result["books"]
    (path,) = simulate_hawkes(HAWKES, 210.0, rng=np.random.default_rng(3))
    assert ev.attrs["hawkes_counts"] == np.bincount(path.dims[path.times_s >= 10.0], minlength=6).tolist()
    skip, kind = ev.attrs["initial_orders"], ev["kind"].values
    deletes = int(np.sum(kind[skip:] == EventKind.DELETE))
    assert deletes + ev.attrs["skipped_cancels"] == sum(ev.attrs["hawkes_counts"][2:4])
    assert ev.attrs["skipped_cancels"] > 0 and ev.attrs["capped_limit_orders"] == 0
    bid_q, ask_q = books["bid_qty"].values[:, 0], books["ask_qty"].values[:, 0]
    quoted = (bid_q > 0) & (ask_q > 0)
    assert np.all(books["bid_price"].values[quoted, 0] < books["ask_price"].values[quoted, 0])
    again = simulate_hawkes_book(params, 200.0, rng=3, warmup_s=10.0, depth=400)
    assert again["events"].equals(ev)


def test_opposite_placement_rests_behind_the_opposite_best():
    """Every limit order rests ``distance`` ticks behind the opposite best of the book just before it."""
    law = EmpiricalLaw(np.arange(1, 9), np.ones(8))
    params = replace(PARAMS, placement=(law, law), placement_reference="opposite")
    result = simulate_hawkes_book(params, 60.0, rng=8, warmup_s=5.0, depth=1)
    ev, books = result["events"], result["books"]
    skip = ev.attrs["initial_orders"]
    kind, side, price = ev["kind"].values, ev["side"].values, ev["price_ticks"].values
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    adds = np.flatnonzero(kind == EventKind.ADD)
    adds = adds[adds > skip]
    before = adds - 1  # book row i follows event i
    opposite = np.where(side[adds] == 1, ask[before], bid[before])
    quoted = opposite != NO_PRICE
    distance = side[adds] * (opposite - price[adds])
    assert quoted.sum() > 100 and ev.attrs["capped_limit_orders"] == 0
    assert set(np.unique(distance[quoted])) == set(range(1, 9))


def test_a_given_path_is_applied_as_the_simulated_one():
    gen = np.random.default_rng(3)
    (path,) = simulate_hawkes(PARAMS.hawkes, 35.0, rng=gen)
    given = simulate_hawkes_book(PARAMS, 30.0, rng=gen, warmup_s=5.0, sample_ns=1_000_000_000, path=path)
    own = simulate_hawkes_book(PARAMS, 30.0, rng=np.random.default_rng(3), warmup_s=5.0, sample_ns=1_000_000_000)
    for name in ("events", "books"):
        assert given[name].drop_attrs().identical(own[name].drop_attrs())
    late = replace(path, times_s=path.times_s + 1.0)
    with pytest.raises(ParameterError, match="`path` of simulate_hawkes_book must hold events .* before"):
        simulate_hawkes_book(PARAMS, 30.0, rng=gen, warmup_s=5.0, path=late)
