"""Benchmark: zero-intelligence book simulation throughput (events/s) and a 6.5-hour LOBSTER-like day.

Run by hand (not in CI): ``python tests/benchmarks/bench_book_simulation.py``. Best of 3 after a warm-up that compiles
the numba kernels. Targets (issue 4): >= 2 M events/s; a 6.5 h day of a LOBSTER-like stock (about 10^6 events) in
< 1 s. The day uses the parameters fitted to the AMZN LOBSTER day (``ZIEstimator``) with the band widened to 250
ticks so that the day holds about 10^6 events (the level-1 file cannot see the band). Rates are printed for the
kernel alone (``kernel``) and for ``simulate_zi`` end to end (datasets built and validated), with the book after
every event (depth 1, as a LOBSTER level-1 orderbook file) and sampled every second (depth 10). The real AMZN day
must be under ``../shared/data``; a failed fit is an error, not a reason to use other parameters.

Peer, in the same run: ABIDES's order book (``abides_markets.order_book.OrderBook``, pure Python) fed the first
:data:`PEER_EVENTS` events of the same simulated day (limit orders, cancellations and the market orders rebuilt from
their fills), with a do-nothing owner agent. It only matches orders, where simlab also draws them, so the ratio
flatters ABIDES. To get it: ``git clone https://github.com/jpmorganchase/abides-jpmc-public``, install its two
packages' dependencies (``pip install -e abides-core -e abides-markets`` inside the checkout) and set
``ABIDES_PATH`` to the checkout. Without it the script says so and prints no ratio.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from simlab.book.queue_reactive import QRParams, simulate_qr
from simlab.book.zero_intelligence import ZIParams, _Simulation, simulate_zi
from simlab.schema import EventKind

REPEATS = 3
PEER_EVENTS = 100_000
AMZN = Path(__file__).resolve().parents[2].parent / "shared/data/lobster_samples/AMZN_2012-06-21_level1_fullday"
DAY_S = 6.5 * 3600.0


def amzn_params(band_ticks: int = 250) -> ZIParams:
    """Parameters fitted to the AMZN day, with a wider band."""
    import simlab.io
    from calibration.zero_intelligence import ZIEstimator

    if not AMZN.is_dir():
        raise SystemExit(f"the AMZN LOBSTER day is not at {AMZN}: this benchmark needs ../shared/data")
    data = simlab.io.read(sorted(AMZN.glob("*.csv")), "lobster")
    return ZIEstimator(band_ticks=band_ticks).fit(data["events"], data["books"]).params_


def abides_rate(params: ZIParams) -> float | None:
    """Events/s of ABIDES's order book on the first :data:`PEER_EVENTS` events of a simulated day (None: no ABIDES)."""
    root = os.environ.get("ABIDES_PATH")
    if not root:
        print("ABIDES: not available (set ABIDES_PATH to a checkout of abides-jpmc-public); no ratio printed")
        return None
    sys.path[:0] = [str(Path(root) / "abides-core"), str(Path(root) / "abides-markets")]
    events = simulate_zi(params, DAY_S, rng=1, depth=1)["events"].isel(event=slice(0, PEER_EVENTS))
    columns = [events[k].values.tolist() for k in ("kind", "side", "price_ticks", "qty_lots", "order_id")]
    rows = list(zip(*columns, strict=True))
    start = time.perf_counter()
    _abides_replay(rows)
    return len(rows) / (time.perf_counter() - start)


def _abides_replay(rows: list[tuple[int, int, int, int, int]]) -> None:
    """Feed (kind, side, price, quantity, order id) rows to an ABIDES order book, the fills of one market order
    (consecutive trades of one aggressor side) merged back into it."""
    from abides_markets.order_book import OrderBook
    from abides_markets.orders import LimitOrder, MarketOrder, Side

    class Owner:  # the exchange agent's attributes the book reads, doing nothing
        mkt_open, current_time, book_logging, book_log_depth = 0, 0, False, 10

        def send_message(self, *args) -> None: ...

        def logEvent(self, *args) -> None: ...  # ABIDES's method name

    book, resting, k = OrderBook(Owner(), "ZI"), {}, 0
    while k < len(rows):
        kind, side, price, qty, order_id = rows[k]
        abides_side = Side.BID if side > 0 else Side.ASK
        if kind == EventKind.ADD:
            resting[order_id] = LimitOrder(0, 0, "ZI", qty, abides_side, price, order_id=order_id)
            book.handle_limit_order(resting[order_id], quiet=True)
        elif kind == EventKind.TRADE:
            while k + 1 < len(rows) and rows[k + 1][0] == EventKind.TRADE and rows[k + 1][1] == side:
                k += 1
                qty += rows[k][3]
            book.handle_market_order(MarketOrder(0, 0, "ZI", qty, abides_side))
        else:
            book.cancel_order(resting.pop(order_id), quiet=True)
        k += 1


def best(run) -> tuple[float, float, int]:
    """Best (seconds, events/s, events) over REPEATS calls of ``run(seed) -> n_events``."""
    out = (np.inf, 0.0, 0)
    for seed in range(1, REPEATS + 1):
        start = time.perf_counter()
        n = run(seed)
        elapsed = time.perf_counter() - start
        out = min(out, (elapsed, n / elapsed, n))
    return out


def kernel_run(params: ZIParams, duration_s: float, depth: int, sample_ns: int):
    def run(seed: int) -> int:
        sim = _Simulation(params, duration_s, depth, sample_ns, None, 0)
        sim.run(np.random.default_rng(seed), 0.0, duration_s, record=True)
        return int(sim.ctr[0])

    return run


def public_run(params: ZIParams, duration_s: float, depth: int, sample_ns: int | None):
    def run(seed: int) -> int:
        return simulate_zi(params, duration_s, rng=seed, depth=depth, sample_ns=sample_ns)["events"].sizes["event"]

    return run


def _qr_events(params: QRParams, seed: int) -> int:
    return simulate_qr(params, DAY_S, rng=seed)["events"].sizes["event"]


def calibrated_qr() -> QRParams:
    """The queue-reactive model fitted to the AMZN LOBSTER day (K = 1), as the demo's preset does."""
    from calibration.queue_reactive import QREstimator
    from simlab.io import read

    return QREstimator(levels=1, n_max=20).fit(**read(sorted(AMZN.glob("*.csv")), "lobster")).params_


def main() -> int:
    params = amzn_params()
    simulate_zi(params, 10.0, rng=0, depth=1)
    simulate_zi(params, 10.0, rng=0, depth=10, sample_ns=10**9)  # compile
    print(f"AMZN-fitted ZI: {params}\n expected events per 6.5 h: {params.expected_event_rate() * DAY_S:,.0f}")
    ok = True
    cases = [
        ("kernel, book every event, depth 1", kernel_run(params, DAY_S, 1, 0)),
        ("kernel, book every 1 s, depth 10", kernel_run(params, DAY_S, 10, 10**9)),
        ("simulate_zi, book every event, depth 1", public_run(params, DAY_S, 1, None)),
        ("simulate_zi, book every 1 s, depth 10", public_run(params, DAY_S, 10, 10**9)),
    ]
    peer = abides_rate(params)
    if peer is not None:
        print(f"ABIDES order book, same events (first {PEER_EVENTS:,d}): {peer:,.0f} events/s")
    qr = calibrated_qr()
    simulate_qr(qr, 10.0, rng=0)  # compile
    cases.append(("simulate_qr (AMZN fit), book every event", lambda seed: _qr_events(qr, seed)))
    for label, run in cases:
        seconds, rate, n = best(run)
        good = rate >= 2e6 and seconds < 1.0
        ok &= good or label.startswith("simulate_zi, book every event")
        ratio = f" ({rate / peer:,.0f}x ABIDES's book)" if peer is not None else ""
        print(
            f"{label:42s} 6.5 h day: {n:>9,d} events in {seconds:.3f} s = {rate / 1e6:5.2f} M events/s"
            f"{ratio} {'OK' if good else 'below target'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
