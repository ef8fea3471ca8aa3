"""Zero-intelligence book: a slow list-based twin, book properties and the model's scaling laws."""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest

from simlab.book import _engine, _zi
from simlab.book.zero_intelligence import ZIParams, _Simulation, simulate_zi
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind

SMALL = ZIParams(limit_rate=0.4, market_rate=1.5, cancel_rate=0.1, order_size=3, band_ticks=12, start_price_ticks=500)


# ---------------------------------------------------------------- the slow, obvious twin


def _twin(params: ZIParams, duration_s: float, seed: int, depth: int) -> tuple[list[tuple], list[tuple]]:
    """The same Gillespie simulation on dicts of FIFO deques, drawing the same random numbers (no warm-up)."""
    gen = np.random.default_rng(seed)
    book: dict[int, dict[int, deque]] = {1: {}, -1: {}}
    live: list[int] = []
    pos: dict[int, int] = {}
    where: dict[int, tuple[int, int]] = {}
    alpha, mu, delta, band = params.limit_rate, params.market_rate, params.cancel_rate, params.band_ticks
    last = {1: params.start_price_ticks, -1: params.start_price_ticks + 1}
    events, books, next_id = [], [], 1
    arrivals = 2.0 * (band * alpha + mu)
    gen.standard_exponential()  # the empty warm-up draws one waiting time and stops

    def size() -> int:
        if params.size_law == "geometric":
            return int(gen.geometric(1.0 / params.order_size)) if params.order_size > 1 else 1
        return int(params.order_size)

    def best(side: int) -> int | None:
        prices = [p for p, q in book[side].items() if q]
        return (max(prices) if side == 1 else min(prices)) if prices else None

    def remove(order_id: int) -> None:
        at, moved = pos.pop(order_id), live[-1]
        live[at] = moved
        if moved != order_id:
            pos[moved] = at
        live.pop()

    def snapshot() -> tuple:
        rows = []
        for side in (1, -1):
            prices = sorted((p for p, q in book[side].items() if q), reverse=side == 1)[:depth]
            qty = [sum(o[1] for o in book[side][p]) for p in prices]
            rows.append(prices + [NO_PRICE] * (depth - len(prices)))
            rows.append(qty + [0] * (depth - len(qty)))
        return tuple(map(tuple, rows))

    t = 0.0
    while True:
        t += gen.standard_exponential() / (arrivals + delta * len(live))
        if t > duration_s:
            return events, books
        ts = int(np.round(t * 1e9))
        for side in (1, -1):
            last[side] = best(side) if best(side) is not None else last[side]
        u = gen.random() * (arrivals + delta * len(live))
        written = []
        if u < 2 * band * alpha:
            side = 1 if u < band * alpha else -1
            k = 1 + min(int((u - (0.0 if side == 1 else band * alpha)) / alpha), band - 1)
            price = last[-side] - side * k
            qty = size()
            book[side].setdefault(price, deque()).append([next_id, qty])
            where[next_id] = (side, price)
            pos[next_id] = len(live)
            live.append(next_id)
            written.append((ts, EventKind.ADD, side, price, qty, next_id))
            next_id += 1
        elif u - 2 * band * alpha < 2 * mu:
            side = 1 if u - 2 * band * alpha < mu else -1
            left = size()
            while left and best(-side) is not None:
                price = best(-side)
                queue = book[-side][price]
                take = min(left, queue[0][1])
                written.append((ts, EventKind.TRADE, side, price, take, queue[0][0]))
                queue[0][1] -= take
                left -= take
                if queue[0][1] == 0:
                    remove(queue.popleft()[0])
        else:
            at = min(int((u - 2 * band * alpha - 2 * mu) / delta), len(live) - 1)
            order_id = live[at]
            side, price = where.pop(order_id)
            queue = book[side][price]
            entry = next(o for o in queue if o[0] == order_id)
            queue.remove(entry)
            remove(order_id)
            written.append((ts, EventKind.DELETE, side, price, entry[1], order_id))
        events.extend(written)
        books.extend([snapshot()] * len(written))


def _rows(result) -> tuple[list[tuple], list[tuple]]:
    ev, bk = result["events"], result["books"]
    columns = [ev[name].values.tolist() for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id")]
    arrays = [bk[name].values.tolist() for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")]
    return [tuple(r) for r in zip(*columns, strict=True)], [tuple(map(tuple, r)) for r in zip(*arrays, strict=True)]


@pytest.mark.parametrize("size_law, order_size", [("fixed", 3), ("geometric", 2.5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_the_list_twin(size_law, order_size, seed):
    params = ZIParams(**{**SMALL.to_dict(), "size_law": size_law, "order_size": order_size})
    result = simulate_zi(params, 60.0, rng=seed, depth=4, warmup_s=0.0)
    events, books = _twin(params, 60.0, seed, 4)
    got_events, got_books = _rows(result)
    assert len(events) > 300
    assert got_events == events
    assert got_books == books


# ---------------------------------------------------------------- properties


@pytest.mark.parametrize("seed", range(4))
def test_book_never_crossed_and_volume_conserved(seed):
    params = ZIParams(**{**SMALL.to_dict(), "size_law": "geometric", "order_size": 4.0})
    result = simulate_zi(params, 400.0, rng=seed, depth=200, capacity=1)
    ev, bk = result["events"], result["books"]
    bid, ask = bk["bid_price"].values[:, 0], bk["ask_price"].values[:, 0]
    both = (bk["bid_qty"].values[:, 0] > 0) & (bk["ask_qty"].values[:, 0] > 0)
    assert both.mean() > 0.9 and np.all(bid[both] < ask[both])
    kind, qty, ids = ev["kind"].values, ev["qty_lots"].values, ev["order_id"].values
    resting = {}
    for k, q, i in zip(kind, qty, ids, strict=True):  # a dict twin of every order's remaining lots
        if k == EventKind.ADD:
            assert i not in resting
            resting[i] = q
        else:
            assert 0 < q <= resting[i]
            resting[i] -= q
            if k == EventKind.DELETE:
                assert resting[i] == 0
    submitted = qty[kind == EventKind.ADD].sum()
    traded, cancelled = qty[kind == EventKind.TRADE].sum(), qty[kind == EventKind.DELETE].sum()
    final = bk["bid_qty"].values[-1].sum() + bk["ask_qty"].values[-1].sum()
    assert submitted == final + traded + cancelled == sum(resting.values()) + traded + cancelled


def test_opening_book_records_the_warm_up_orders_in_arrival_order():
    result = simulate_zi(SMALL, 30.0, rng=5, depth=3)
    ev = result["events"]
    n = ev.attrs["initial_orders"]
    assert n > 10
    assert np.all(ev["kind"].values[:n] == EventKind.ADD) and np.all(ev["ts_ns"].values[:n] == 0)
    assert np.all(np.diff(ev["order_id"].values[:n]) > 0)
    assert ev.attrs["limit_orders"] + ev.attrs["cancellations"] > 0
    assert json.loads(ev.attrs["true_params"]) == SMALL.to_dict()
    assert ev.attrs["seed"] == 5 and result["books"].attrs["instrument"] == "ZI"


def test_same_seed_same_output_and_sampled_books():
    a = simulate_zi(SMALL, 50.0, rng=9, depth=2, sample_ns=10**9, start_ns=10**18)
    b = simulate_zi(SMALL, 50.0, rng=9, depth=2, sample_ns=10**9, start_ns=10**18)
    assert a["events"].identical(b["events"]) and a["books"].identical(b["books"])
    ts = a["books"]["ts_ns"].values
    assert ts.shape == (51,) and ts[0] == 10**18 and np.all(np.diff(ts) == 10**9)
    assert a["events"]["ts_ns"].values[-1] <= 10**18 + 50 * 10**9


def test_grid_and_pool_growth_are_transparent():
    reference = _Simulation(SMALL, 200.0, 3, 0, None, 0)
    small = _Simulation(SMALL, 200.0, 3, 0, 1, 0)
    small.state = _engine.new_engine(SMALL.start_price_ticks - 2, 4, 1)
    for sim in (reference, small):
        gen = np.random.default_rng(3)
        sim.run(gen, 0.0, 200.0, record=True)
    n = int(reference.ctr[_zi.C_EVENTS])
    assert n > 500 and small.ctr[_zi.C_GROWS] > 0
    assert np.array_equal(reference.ev[:n], small.ev[:n])
    assert np.array_equal(reference.books[:, :n], small.books[:, :n])


def test_characteristic_scales():
    p = ZIParams(limit_rate=0.5, market_rate=2.0, cancel_rate=0.1, order_size=10)
    assert p.characteristic_price_ticks == 4.0 and p.characteristic_time_s == 10.0
    assert p.characteristic_size_lots == 200.0 and p.granularity == 0.05 and p.relative_tick == 0.25


@pytest.mark.parametrize(
    "change, word",
    [
        ({"limit_rate": 0.0}, "limit_rate"),
        ({"cancel_rate": float("nan")}, "cancel_rate"),
        ({"band_ticks": 0}, "band_ticks"),
        ({"size_law": "poisson"}, "size_law"),
        ({"order_size": 2.5}, "order_size"),
        ({"order_size": 0.5, "size_law": "geometric"}, "order_size"),
    ],
)
def test_bad_parameters_are_named(change, word):
    with pytest.raises(ParameterError, match=word):
        ZIParams(**{**SMALL.to_dict(), **change})


@pytest.mark.parametrize(
    "options, word",
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"depth": 0}, "depth"),
        ({"sample_ns": 0}, "sample_ns"),
        ({"warmup_s": -1.0}, "warmup_s"),
        ({"capacity": 0}, "capacity"),
        ({"rng": None}, "rng"),
    ],
)
def test_bad_run_options_are_named(options, word):
    kwargs = {"duration_s": 1.0, "rng": 0, **options}
    with pytest.raises(ParameterError, match=word):
        simulate_zi(SMALL, kwargs.pop("duration_s"), **kwargs)


# ---------------------------------------------------------------- scaling laws (Smith et al. 2003, sec. II.A)


def _rescaled(params: ZIParams, n_lags: int, seed: int) -> tuple[float, float]:
    """Mean spread / p_c and the mid's variance over one t_c in units of p_c**2 (books sampled every t_c)."""
    t_c = params.characteristic_time_s
    result = simulate_zi(params, n_lags * t_c, rng=seed, depth=1, sample_ns=int(round(t_c * 1e9)))
    bk = result["books"]
    bid, ask = bk["bid_price"].values[:, 0].astype(float), bk["ask_price"].values[:, 0].astype(float)
    p_c = params.characteristic_price_ticks
    quoted = (bk["bid_qty"].values[:, 0] > 0) & (bk["ask_qty"].values[:, 0] > 0)
    assert quoted.mean() > 0.95
    steps = np.diff((bid + ask) / 2)[quoted[1:] & quoted[:-1]]
    return float(np.mean((ask - bid)[quoted])) / p_c, float(np.var(steps)) / p_c**2


def _family(granularity: float, relative_tick: float) -> list[ZIParams]:
    """Five parameter sets sharing epsilon = delta / mu and dp / p_c = alpha / mu: other time and size units."""
    out = []
    for market_rate, order_size in ((1.0, 1), (10.0, 100), (0.1, 7), (3.0, 1), (0.3, 30)):
        out.append(
            ZIParams(
                limit_rate=relative_tick * market_rate,
                market_rate=market_rate,
                cancel_rate=granularity * market_rate,
                order_size=order_size,
                band_ticks=int(round(5 / relative_tick)),
            )
        )
    return out


@pytest.mark.slow
def test_scaling_law_same_granularity_same_rescaled_book():
    family = _family(granularity=0.5, relative_tick=0.05)
    measured = np.array([_rescaled(p, 20_000, seed) for seed, p in enumerate(family)])
    cv = measured.std(axis=0, ddof=1) / measured.mean(axis=0)
    print("rescaled spread, diffusion per set:", measured.round(4).tolist(), "CV:", cv.round(4).tolist())
    assert np.all(cv <= 0.05)


@pytest.mark.slow
def test_rescaled_spread_grows_with_granularity():
    spreads = []
    for granularity in (0.05, 0.2, 0.8):
        params = _family(granularity, relative_tick=0.05)[0]
        spreads.append(_rescaled(params, 3_000, 11)[0])
    print("spread / p_c at epsilon 0.05, 0.2, 0.8:", np.round(spreads, 4).tolist())
    assert spreads[0] < spreads[1] < spreads[2]
