"""Benchmark: order-level replay through the matching engine, messages per second on one core.

Streams: (1) a long random L3 stream (zero-intelligence-like: limit orders near the touch, cancels of random
resting orders, market orders; ``--messages``, default 2 * 10^6) and (2) the real AAPL LOBSTER level-50 messages
(09:30-10:30, 91,997 messages) replayed as an L3 stream with ``trades="resting", unknown="count"``.

Rates: ``kernel`` = the replay kernel alone with a 1-level book after every message (what a backtest loop pays);
``match_events`` = the public function with L2 books of depth 10 after every message (Dataset building included);
peers in the same run: a pure-Python dict/deque book (on a prefix, it is slow) and hftbacktest when it imports
(its L2 market-depth replay of the same stream turned into depth events). Run:
``python tests/benchmarks/bench_book_replay.py [--messages N]``.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from pathlib import Path

import numba
import numpy as np

from simlab.book import _engine as E
from simlab.book import _engine_replay as R
from simlab.book import match_events
from simlab.schema import NO_PRICE, EventKind, make_events

AAPL = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TARGET = 4e6


@numba.njit(cache=True)
def _zi_stream(n, gen, mid0, capacity):
    """Record ``n`` messages of a simple zero-intelligence flow driven through the engine itself."""
    state = E.new_engine(mid0 - 5000, 10_000, capacity)
    out = E.new_fills(1 << 16)
    cols = np.zeros((6, n), dtype=np.int64)  # kind, side, price, qty, order_id, ts
    live = np.zeros(capacity, dtype=np.int64)
    n_live, next_id, ts, e = 0, 1, 0, 0
    while e < n:
        ts += gen.integers(1, 2000)
        u = gen.random()
        side = 1 if gen.random() < 0.5 else -1
        bid, ask = E.best_bid(state), E.best_ask(state)
        ref = (ask if side == 1 else bid) if (bid != E.NO_PRICE and ask != E.NO_PRICE) else mid0
        if u >= 0.08 and gen.random() * (n_live + 2000) < 2000:  # about 2,000 resting orders, like AAPL
            price = ref - side * gen.geometric(0.25)  # at or behind the touch of its own side
            qty = gen.integers(1, 20)
            if n_live >= capacity - 1 or E.limit(state, side, price, qty, next_id, ts, out) != E.OK:
                continue
            cols[0, e], cols[2, e], cols[4, e] = EventKind.ADD, price, next_id
            if E.order_slot(state, next_id) >= 0:
                live[n_live] = next_id
                n_live += 1
            next_id += 1
        elif u >= 0.08:
            j = gen.integers(0, n_live)
            oid = live[j]
            live[j] = live[n_live - 1]
            n_live -= 1
            slot = E.order_slot(state, oid)
            if slot < 0:
                continue
            side, qty = state[1][slot, E.O_SIDE], state[1][slot, E.O_QTY]
            partial = gen.random() < 0.2 and qty > 1
            if partial:
                qty = qty // 2
                live[n_live] = oid
                n_live += 1
                E.cancel(state, oid, qty, out)
            else:
                E.delete(state, oid, out)
            cols[0, e], cols[4, e] = (EventKind.CANCEL if partial else EventKind.DELETE), oid
        else:
            qty = gen.integers(1, 30)
            E.market(state, side, qty, -1, ts, out)
            cols[0, e], cols[4, e] = EventKind.TRADE, -1
        cols[1, e], cols[3, e], cols[5, e] = side, qty, ts
        out[1][0] = 0
        e += 1
    return cols


def random_stream(n: int, seed: int = 1):
    cols = _zi_stream(n, np.random.default_rng(seed), 100_000, 1 << 16)
    kind, side, price, qty, order_id, ts = cols
    return make_events(ts_ns=ts, kind=kind, side=side, price_ticks=price, qty_lots=qty, order_id=order_id,
                       tick_size=0.01, lot_size=1.0, instrument="ZI", venue="synthetic")  # fmt: skip


def time_kernel(events, trades="market", repeat=3) -> tuple[float, dict]:
    """CPU seconds of the replay kernel alone (best of ``repeat``), with a 1-level book after every message."""
    cols = tuple(np.ascontiguousarray(events[k].values, dtype=np.int64)
                 for k in ("kind", "side", "price_ticks", "qty_lots", "order_id", "ts_ns"))  # fmt: skip
    n = cols[0].shape[0]
    priced = cols[0] == EventKind.ADD
    low, high = int(cols[2][priced].min()), int(cols[2][priced].max())
    best, counts = np.inf, None
    for _ in range(repeat):
        state, out = E.new_engine(low, high - low + 1, 1 << 14), E.new_fills(n)
        fill_event = np.zeros(n, np.int64)
        books = tuple(np.zeros((n, 1), np.int64) for _ in range(4))
        counts, first = np.zeros(R.N_COUNTS, np.int64), np.full(R.N_COUNTS, -1, np.int64)
        grid = np.zeros(0, np.int64)
        t0 = time.process_time()
        status, _, _ = R.replay(state, out, fill_event, cols, 0, trades == "resting", True, grid, books, 0, counts,
                                first)  # fmt: skip
        best = min(best, time.process_time() - t0)
        assert status == E.OK, E.STATUS_TEXT[status]
    return best, dict(zip(R.COUNT_NAMES, counts.tolist(), strict=True))


def python_book(events, limit_n: int) -> float:
    """Seconds per message of a pure-Python book (dict price -> deque of [id, qty]) on the first ``limit_n``."""
    kind, side, price, qty, oid = (events[k].values[:limit_n].tolist()
                                   for k in ("kind", "side", "price_ticks", "qty_lots", "order_id"))  # fmt: skip
    books, where = {1: {}, -1: {}}, {}
    t0 = time.perf_counter()
    for k, s, p, q, o in zip(kind, side, price, qty, oid, strict=True):
        if k == 1:
            book = books[-s]
            while q and book and (min(book) <= p if s == 1 else max(book) >= p):
                q = _py_take(book, min(book) if s == 1 else max(book), q, where)
            if q:
                books[s].setdefault(p, deque()).append([o, q])
                where[o] = (s, p)
        elif k in (2, 3) and o in where:
            s2, p2 = where[o]
            queue = books[s2][p2]
            order = next(x for x in queue if x[0] == o)
            order[1] -= q if k == 2 else order[1]
            if order[1] <= 0:
                queue.remove(order)
                del where[o]
                if not queue:
                    del books[s2][p2]
        elif k == 5:
            book = books[-s]
            while q and book:
                q = _py_take(book, min(book) if s == 1 else max(book), q, where)
    return (time.perf_counter() - t0) / limit_n


def _py_take(book, p, q, where):
    queue = book[p]
    while q and queue:
        take = min(q, queue[0][1])
        queue[0][1] -= take
        q -= take
        if queue[0][1] == 0:
            del where[queue.popleft()[0]]
    if not queue:
        del book[p]
    return q


@numba.njit(cache=True)
def _l2_stream(cols, low, n_ticks):
    """The same stream as L2 depth updates (side, price, new level qty, ts): one per level an event changed."""
    kind, side, price, qty, oid, ts = cols
    n = kind.shape[0]
    state, out = E.new_engine(low, n_ticks, 1 << 16), E.new_fills(n + 1)
    rows = np.zeros((4, 2 * n), dtype=np.int64)
    m = 0
    for e in range(n):
        before = out[1][0]
        s, p = side[e], price[e]
        if kind[e] == EventKind.ADD:
            E.limit(state, s, p, qty[e], oid[e], ts[e], out)
        elif kind[e] == EventKind.TRADE:
            E.market(state, s, qty[e], oid[e], ts[e], out)
        else:
            slot = E.order_slot(state, oid[e])
            s, p = state[1][slot, E.O_SIDE], state[1][slot, E.O_PRICE]
            E.cancel(state, oid[e], qty[e], out) if kind[e] == EventKind.CANCEL else E.delete(state, oid[e], out)
        last = NO_PRICE
        for f in range(before, out[1][0]):
            if out[0][f, E.F_PRICE] != last:
                last = out[0][f, E.F_PRICE]
                if m >= rows.shape[1]:
                    return rows[:, :m]
                rows[0, m], rows[1, m], rows[3, m] = -out[0][f, E.F_SIDE], last, ts[e]
                rows[2, m] = E.level_qty(state, -out[0][f, E.F_SIDE], last)
                m += 1
        if kind[e] != EventKind.TRADE and m < rows.shape[1]:
            rows[0, m], rows[1, m], rows[2, m], rows[3, m] = s, p, E.level_qty(state, s, p), ts[e]
            m += 1
        out[1][0] = 0
    return rows[:, :m]


@numba.njit(cache=True)
def _levels_replay(rows, low, n_ticks):
    """The matching engine as an L2 book (set_level_lots, as the Binance reader uses it), touch read after each."""
    state = E.new_engine(low, n_ticks, 2 * n_ticks + 16)
    check = 0
    for j in range(rows.shape[1]):
        R.set_level_lots(state, rows[0, j], rows[1, j], rows[2, j], rows[3, j])
        check += E.best_bid(state)
    return check


def l2_peers(events) -> None:
    cols = tuple(np.ascontiguousarray(events[k].values, dtype=np.int64)
                 for k in ("kind", "side", "price_ticks", "qty_lots", "order_id", "ts_ns"))  # fmt: skip
    low = int(cols[2][cols[0] == EventKind.ADD].min()) - 10
    n_ticks = int(cols[2][cols[0] == EventKind.ADD].max()) - low + 20
    rows = _l2_stream(cols, low, n_ticks)
    m = rows.shape[1]
    _levels_replay(rows[:, :10], low, n_ticks)
    t0 = time.process_time()
    _levels_replay(rows, low, n_ticks)
    ours = m / (time.process_time() - t0)
    print(f"[L2 stream of the same flow: {m:,} depth updates] simlab engine as L2 book: {ours / 1e6:.2f} M updates/s")
    try:
        from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
        from hftbacktest.types import BUY_EVENT, DEPTH_EVENT, EXCH_EVENT, LOCAL_EVENT, SELL_EVENT, event_dtype
    except ImportError:
        print("hftbacktest: not importable here (pip install hftbacktest); no peer timing")
        return
    data = np.zeros(m, dtype=event_dtype)
    data["ev"] = DEPTH_EVENT | EXCH_EVENT | LOCAL_EVENT | np.where(rows[0] == 1, BUY_EVENT, SELL_EVENT)
    data["exch_ts"] = data["local_ts"] = rows[3]
    data["px"], data["qty"] = rows[1] * 0.01, rows[2].astype(float)
    asset = (BacktestAsset().data([data]).linear_asset(1.0).constant_order_latency(0, 0).risk_adverse_queue_model()
             .no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0).tick_size(0.01).lot_size(1.0))  # fmt: skip
    hbt = HashMapMarketDepthBacktest([asset])
    t0 = time.process_time()
    hbt.elapse(int(rows[3, -1] - rows[3, 0] + 10**9))
    peer = m / (time.process_time() - t0)
    hbt.close()
    print(f"hftbacktest HashMapMarketDepthBacktest L2 replay: {peer / 1e6:.2f} M updates/s; "
          f"simlab L2 / hftbacktest = x{ours / peer:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2_000_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    events = random_stream(args.messages)
    print(f"random L3 stream: {args.messages:,} messages generated in {time.perf_counter() - t0:.1f} s")
    report(events, "random L3", "market")
    l2_peers(events)
    path = SHARED / AAPL
    if path.exists():
        from simlab.io.lobster import read_lobster

        aapl = read_lobster(path)["events"]
        report(aapl, "AAPL L50 (L3, resting executions)", "resting")
    else:
        print(f"AAPL L50 messages absent ({path}); skipped")


def report(events, name: str, trades: str) -> None:
    n = events.sizes["event"]
    seconds, counts = time_kernel(events, trades)
    rate = n / seconds
    print(f"[{name}] kernel: {rate / 1e6:.2f} M msg/s ({seconds * 1e3:.1f} ms for {n:,}); target 4 M: "
          f"x{rate / TARGET:.2f}; counts {counts}")  # fmt: skip
    t0 = time.perf_counter()
    match_events(events, depth=10, trades=trades, unknown="count")
    seconds_public = time.perf_counter() - t0
    print(f"[{name}] match_events(depth=10, every message): {n / seconds_public / 1e6:.2f} M msg/s")
    prefix = min(n, 200_000)
    per_message = python_book(events, prefix)
    print(f"[{name}] pure-Python dict/deque book: {1 / per_message / 1e6:.3f} M msg/s (first {prefix:,}); "
          f"engine kernel is x{rate * per_message:.0f} faster")  # fmt: skip


if __name__ == "__main__":
    main()
