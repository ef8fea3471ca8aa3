"""Queue-reactive book: the numba kernel against a pure-Python twin, the closed-form stationary law, the price-move
rule, chunked capacity and the error sentences."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simlab.book import _qr
from simlab.book.queue_reactive import QRParams, kernel_inputs, simulate_qr
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind


def hlr_tables(n_max: int = 20, limit: float = 1.0, cancel: float = 0.2, market: float = 0.3):
    """HLR-like shapes: constant limit flow, cancellations proportional to the queue, constant market flow."""
    n = np.arange(n_max + 1)
    return np.where(n < n_max, limit, 0.0), cancel * n, np.where(n > 0, market, 0.0)


def twin(params: QRParams, duration: float, seed: int, bid_ticks: int = 10_000):
    """The slow, obvious simulation: lists and Python floats, the same uniforms in the same order as the kernel."""
    gen = np.random.default_rng(seed)
    K = params.levels
    rates = [params.limit_rates, params.cancel_rates, params.market_rates]
    law = [[list(params.stationary_law(s, i)) for i in range(K)] for s in range(2)]
    law1 = [[list(params.stationary_law(s, i, nonempty=True)) for i in range(K)] for s in range(2)]
    spread_law = list(params.spread_probabilities)

    def draw(probabilities):
        u, acc = gen.random(), 0.0
        for k, p in enumerate(probabilities):
            acc += p
            if u < acc:
                return k
        return len(probabilities) - 1

    def price(s, i):
        return bid - i if s == 0 else bid + spread + i

    def snapshot(t):
        records.append((t, int(EventKind.CLEAR), 0, NO_PRICE, 0))
        for s in range(2):
            for i in range(K):
                if queues[s][i] > 0:
                    qty = queues[s][i] * int(params.size_lots[s, i])
                    records.append((t, int(EventKind.SET_LEVEL), 1 - 2 * s, price(s, i), qty))

    records: list[tuple] = []
    queues = [[draw(law[s][i]) for i in range(K)] for s in range(2)]
    bid, spread = bid_ticks, (1 + draw(spread_law) if len(spread_law) > 1 else 1)
    snapshot(0.0)
    t = 0.0
    while True:
        options = [(rates[x][s, i, queues[s][i]], s, i, x) for s in range(2) for i in range(K) for x in range(3)]
        total = 0.0
        for s in range(2):
            for i in range(K):
                total += options[3 * (s * K + i)][0] + options[3 * (s * K + i) + 1][0] + options[3 * (s * K + i) + 2][0]
        options = [o for o in options if o[0] > 0]
        t = t - math.log(1.0 - gen.random()) / total
        if t >= duration:
            return records
        u, acc = gen.random() * total, 0.0
        chosen = options[-1]
        for option in options:
            acc += option[0]
            if u < acc:
                chosen = option
                break
        _, s, i, x = chosen
        queues[s][i] += 1 if x == 0 else -1
        resting = 1 - 2 * s
        kind = (EventKind.ADD, EventKind.CANCEL, EventKind.TRADE)[x]
        records.append((t, int(kind), -resting if x == 2 else resting, price(s, i), int(params.size_lots[s, i])))
        if x > 0 and queues[s][i] == 0 and i == 0 and params.theta > 0 and gen.random() < params.theta:
            new_spread = 1 + draw(spread_law) if len(spread_law) > 1 else 1
            bid = (2 * bid + spread - 2 * resting - new_spread) // 2
            spread = new_spread
            queues = [[draw(law1[s][i]) for i in range(K)] for s in range(2)]
            snapshot(t)


def small_params(**options) -> QRParams:
    limit, cancel, market = hlr_tables(6, limit=2.0, cancel=0.5, market=0.8)
    params = QRParams.symmetric(limit, cancel, market, levels=2, size_lots=3, **options)
    rates = [params.limit_rates.copy(), params.cancel_rates, params.market_rates]
    rates[0][1] *= 1.5  # the ask side differs, so a side mix-up shows
    return QRParams(
        *rates, size_lots=[[3, 5], [7, 2]], theta=params.theta, spread_probabilities=params.spread_probabilities
    )


def test_kernel_matches_python_twin():
    params = small_params(theta=0.7, spread_probabilities=[0.5, 0.3, 0.2])
    out = simulate_qr(params, 300.0, rng=11)
    events = out["events"]
    expected = twin(params, 300.0, seed=11)
    assert events.sizes["event"] == len(expected) > 2000
    times = np.array([r[0] for r in expected])
    np.testing.assert_array_equal(events["ts_ns"].values, np.round(times * 1e9).astype(np.int64))
    for column, name in enumerate(("kind", "side", "price_ticks", "qty_lots"), start=1):
        np.testing.assert_array_equal(events[name].values, [r[column] for r in expected], err_msg=name)
    assert np.sum(events["kind"].values == EventKind.CLEAR) > 20  # price moves happened


def test_books_follow_the_events():
    # replay the events into a price -> qty map per side; each book row must be its best-K view
    params = small_params(theta=0.5, spread_probabilities=[0.6, 0.4])
    out = simulate_qr(params, 100.0, rng=5)
    events, books = out["events"], out["books"]
    book: list[dict[int, int]] = [{}, {}]
    for row in range(events.sizes["event"]):
        kind, side = int(events["kind"][row]), int(events["side"][row])
        price, qty = int(events["price_ticks"][row]), int(events["qty_lots"][row])
        if kind == EventKind.CLEAR:
            book = [{}, {}]
        elif kind == EventKind.SET_LEVEL:
            book[0 if side == 1 else 1][price] = qty
        else:
            s = 0 if (side == 1) == (kind != EventKind.TRADE) else 1
            book[s][price] = book[s].get(price, 0) + (qty if kind == EventKind.ADD else -qty)
            assert book[s][price] >= 0
        for s, name in ((0, "bid"), (1, "ask")):
            levels = sorted(((p, q) for p, q in book[s].items() if q > 0), reverse=(s == 0))[:2]
            levels += [(NO_PRICE, 0)] * (2 - len(levels))
            assert books[f"{name}_price"].values[row].tolist() == [p for p, _ in levels]
            assert books[f"{name}_qty"].values[row].tolist() == [q for _, q in levels]


@pytest.mark.parametrize("side", [0, 1])
def test_stationary_law_matches_birth_death_product(side):
    limit, cancel, market = hlr_tables(20)
    params = QRParams.symmetric(limit, cancel, market, levels=1, size_lots=100)
    duration = 1e6 / params.mean_event_rate()
    books = simulate_qr(params, duration, rng=2024)["books"]
    name = "bid_qty" if side == 0 else "ask_qty"
    units = books[name].values[:, 0] // 100
    dt = np.diff(np.append(books["ts_ns"].values, int(duration * 1e9)))
    occupancy = np.bincount(units, dt, minlength=21) / dt.sum()
    total_variation = 0.5 * np.abs(occupancy - params.stationary_law(side, 0)).sum()
    assert books.sizes["time"] > 0.99e6
    assert total_variation < 0.01, total_variation


def test_price_moves_towards_the_depleted_side():
    limit, cancel, market = hlr_tables(8)
    params = QRParams.symmetric(limit, cancel, market, levels=1, theta=1.0, spread_probabilities=[0.7, 0.2, 0.1])
    out = simulate_qr(params, 2000.0, rng=3)
    events, books = out["events"], out["books"]
    kind = events["kind"].values
    clears = np.flatnonzero(kind == EventKind.CLEAR)[1:]
    assert clears.size > 100
    depleting = clears - 1  # the event that emptied a first queue
    quoted = (books["bid_qty"].values[depleting - 1, 0] > 0) & (books["ask_qty"].values[depleting - 1, 0] > 0)
    clears, depleting = clears[quoted], depleting[quoted]
    assert np.isin(kind[depleting], (EventKind.CANCEL, EventKind.TRADE)).all()
    before, after = depleting - 1, clears + 2  # the book before the depletion and after the two SET_LEVELs
    mid2 = books["bid_price"].values[:, 0] + books["ask_price"].values[:, 0]
    resting = np.where(kind[depleting] == EventKind.TRADE, -1, 1) * events["side"].values[depleting]
    step = (mid2[after] - mid2[before]) * -resting  # positive when the mid moved towards the emptied side
    assert ((step >= 1) & (step <= 3)).all()
    spreads = books["ask_price"].values[after, 0] - books["bid_price"].values[after, 0]
    assert set(np.unique(spreads)) <= {1, 2, 3}


def test_chunks_do_not_change_the_path():
    params = small_params(theta=0.5, spread_probabilities=[0.5, 0.5])
    k = kernel_inputs(params)
    results = []
    for capacity in (10**5, 37):
        gen = np.random.default_rng(9)
        queues, grid, clock = np.zeros(4, np.int64), np.array([500, 1], np.int64), np.zeros(1)
        records = []
        out = tuple(np.empty(capacity, d) for d in (np.float64, np.int8, np.int8, np.int64, np.int64))
        books = tuple(np.empty((capacity, 2), np.int64) for _ in range(4))
        n = _qr.begin(gen, k["start_cdf"], k["spread_cdf"], k["size_lots"], queues, grid, True, out, books)
        done = False
        while not done:
            n, done = _qr.simulate_chunk(
                gen,
                k["rates"],
                params.theta,
                k["redraw_cdf"],
                k["spread_cdf"],
                k["size_lots"],
                queues,
                grid,
                clock,
                50.0,
                n,
                True,
                out,
                books,
            )
            records.append(np.column_stack([a[:n].astype(np.float64) for a in out + books]))
            n = 0
        results.append(np.concatenate(records))
    assert results[0].shape[0] > 500
    np.testing.assert_array_equal(results[0], results[1])


def test_same_seed_same_output_and_true_params():
    params = small_params(theta=0.3)
    first = simulate_qr(params, 20.0, rng=4, start_ns=10**18)
    second = simulate_qr(params, 20.0, rng=4, start_ns=10**18)
    assert first["events"].equals(second["events"]) and first["books"].equals(second["books"])
    attrs = first["events"].attrs
    assert attrs["seed"] == 4 and json.loads(attrs["true_params"]) == params.to_dict()
    assert first["events"]["ts_ns"].values[0] == 10**18
    assert "books" not in simulate_qr(params, 1.0, rng=4, books=False)


def test_stationary_law_closed_form():
    limit, cancel, market = hlr_tables(4, limit=1.0, cancel=0.5, market=0.5)
    params = QRParams.symmetric(limit, cancel, market)
    # pi(n) ~ prod_{k<=n} 1 / (0.5 k + 0.5): 1, 1, 2/3, 1/3, 2/15
    expected = np.array([1, 1, 2 / 3, 1 / 3, 2 / 15])
    np.testing.assert_allclose(params.stationary_law(0, 0), expected / expected.sum())
    np.testing.assert_allclose(params.stationary_law(1, 0, nonempty=True)[1:], expected[1:] / expected[1:].sum())


def _rates(**changes):
    limit, cancel, market = (np.broadcast_to(t, (2, 1, 5)).copy() for t in hlr_tables(4))
    tables = dict(limit_rates=limit, cancel_rates=cancel, market_rates=market, size_lots=1)
    for name, (index, value) in changes.items():
        tables[name][index] = value
    return tables


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (_rates(limit_rates=((0, 0, 0), 0.0)), r"limit_rates\[s, i, 0\]` of QRParams must be > 0.*\(0, 0\)"),
        (_rates(limit_rates=((1, 0, 4), 1.0)), r"limit_rates\[s, i, n_max\]` of QRParams must be 0.*\(1, 0\)"),
        (_rates(cancel_rates=((0, 0, 0), 1.0)), r"must be 0 at n = 0"),
        (_rates(cancel_rates=((0, 0, 2), 0.0), market_rates=((0, 0, 2), 0.0)), r"must be > 0 for n >= 1.*\(0, 0, 2\)"),
        (
            _rates(market_rates=((0, 0, 1), -1.0)),
            r"`market_rates` of QRParams must be finite and >= 0; got -1.0 at \(0, 0, 1\)",
        ),
        (_rates(market_rates=((0, 0, 1), np.nan)), r"`market_rates` of QRParams must be finite"),
        (dict(_rates(), theta=1.5), r"`theta` of QRParams must be a probability in \[0, 1\]; got 1.5"),
        (dict(_rates(), size_lots=0), r"`size_lots` of QRParams must be >= 1"),
        (dict(_rates(), spread_probabilities=[0.5, 0.2]), r"`spread_probabilities` of QRParams must .* sum to 1"),
        (dict(_rates(), limit_rates=np.ones((2, 1))), r"`limit_rates` of QRParams must have shape"),
    ],
)
def test_bad_parameters_raise_our_sentence(arguments, message):
    with pytest.raises(ParameterError, match=message):
        QRParams(**arguments)


def test_bad_simulation_arguments():
    params = QRParams(**_rates())
    with pytest.raises(ParameterError, match=r"`duration_s` of simulate_qr must be a finite number > 0; got -1"):
        simulate_qr(params, -1, rng=0)
    with pytest.raises(ParameterError, match=r"`rng` must be a non-negative int seed"):
        simulate_qr(params, 1.0, rng=None)
    with pytest.raises(ParameterError, match=r"`params` of simulate_qr must be a QRParams; got dict"):
        simulate_qr({}, 1.0, rng=0)
