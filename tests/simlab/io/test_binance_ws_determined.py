"""The rebuild of a capture without a REST snapshot, checked against a slow twin and a hand-worked window.

The twin below shares no code with the numba kernel (``simlab.io._binance_ws.rebuild``): it keeps the book in
dicts keyed by price in ticks, remembers which (side, price) a diff has set and the price ranges known otherwise (the
snapshot's, and each side's ticks beyond the other side's best known price at some time), and walks the tick grid
outward from the opposite best known price to count the determined levels.
"""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from simlab.io._binance_ws_capture import parse_capture
from simlab.io.binance_ws import read_binance_ws
from simlab.schema import NO_PRICE
from tests.conftest import shared_path

FOLDER = "binance_ws_l2_trades_hftbacktest"
DEPTH = 20


def _twin(path: Path, tick: int, lot: int, depth: int) -> dict[str, np.ndarray]:
    """Rebuild the book after every diff with dicts and a walk over the tick grid (prices in ticks)."""
    capture = parse_capture([path], sort=False)
    d, s = capture.depth, capture.snapshots
    book = {1: {}, -1: {}}
    known = {1: set(), -1: set()}
    bid_low, ask_high = float("inf"), float("-inf")  # every bid tick from bid_low up, every ask tick up to ask_high
    last = -1
    if s.count:
        last = int(s.ids[0])
        for side, price, qty in zip(s.level_side, s.level_price // tick, s.level_qty // lot, strict=True):
            book[int(side)][int(price)] = int(qty)
        bid_low = min(p for p in book[1])
        ask_high = max(p for p in book[-1])
    rows = {name: [] for name in ("bid_price", "bid_qty", "ask_price", "ask_qty", "bid_n", "ask_n")}
    for m in range(d.count):
        if d.last_ids[m] <= last:
            continue
        for k in range(d.offsets[m], d.offsets[m + 1]):
            side, price, qty = int(d.level_side[k]), int(d.level_price[k] // tick), int(d.level_qty[k] // lot)
            book[side][price] = qty
            known[side].add(price)
        bids = sorted((p for p, q in book[1].items() if q > 0), reverse=True)
        asks = sorted(p for p, q in book[-1].items() if q > 0)
        bid_low = min(bid_low, asks[0]) if asks else bid_low  # bids at or above a resting ask: none, then
        ask_high = max(ask_high, bids[0]) if bids else ask_high
        n_bid = n_ask = 0
        highest = max([*book[1], *book[-1]])  # above every price ever seen: nothing was ever set
        p = asks[0] - 1 if asks else (highest if bid_low <= highest else None)
        while p is not None and n_bid < depth and (p in known[1] or p >= bid_low):
            n_bid += book[1].get(p, 0) > 0
            p -= 1
        lowest = min([*book[1], *book[-1]])
        p = bids[0] + 1 if bids else (lowest if ask_high >= lowest else None)
        while p is not None and n_ask < depth and (p in known[-1] or p <= ask_high):
            n_ask += book[-1].get(p, 0) > 0
            p += 1
        for name, levels, n in (("bid", bids, n_bid), ("ask", asks, n_ask)):
            price = [levels[i] if i < n else NO_PRICE for i in range(depth)]
            rows[f"{name}_price"].append(price)
            rows[f"{name}_qty"].append([book[1 if name == "bid" else -1][p] if p != NO_PRICE else 0 for p in price])
            rows[f"{name}_n"].append(n)
    return {name: np.array(values) for name, values in rows.items()}


def _head(tmp_path: Path, relative: str, lines: int, drop: int | None = None) -> Path:
    text = gzip.decompress(shared_path(f"{FOLDER}/{relative}").read_bytes()).split(b"\n")[:lines]
    if drop is not None:
        del text[drop]
    path = tmp_path / "head.log"
    path.write_bytes(b"\n".join(text) + b"\n")
    return path


@pytest.mark.parametrize(
    ("relative", "lines", "drop"),
    [
        ("spot/btcusdt_20230405.dat.gz", 1500, None),  # spot, no snapshot
        ("usdm/btcusdt_20240719.gz", 3000, None),  # USD-M, no snapshot
        ("spot/ethusdt_20240808.gz", 1200, None),  # spot with its REST snapshot (line 6)
        ("spot/ethusdt_20240808.gz", 1200, 5),  # the same with the snapshot line removed
    ],
)
def test_kernel_equals_the_slow_twin_on_real_captures(tmp_path: Path, relative: str, lines: int, drop) -> None:
    path = _head(tmp_path, relative, lines, drop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the windows without a snapshot warn
        books = read_binance_ws(path, depth=DEPTH)["books"]
    tick, lot = (round(books.attrs[name] * 10**8) for name in ("tick_size", "lot_size"))
    twin = _twin(path, tick, lot, DEPTH)
    assert books.sizes["time"] == twin["bid_n"].shape[0] > 100
    for side in ("bid", "ask"):
        assert np.array_equal(books[f"{side}_determined"].values.sum(axis=1), twin[f"{side}_n"])
        for name in (f"{side}_price", f"{side}_qty"):
            assert np.array_equal(books[name].values, twin[name])
    determined = books["bid_determined"].values.sum() + books["ask_determined"].values.sum()
    assert 0 < determined <= books["bid_determined"].size * 2


def _line(stamp: int, stream: str, data: dict) -> bytes:
    return f"{stamp} ".encode() + json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


def _diff(n: int, bids: list, asks: list) -> bytes:
    data = {"e": "depthUpdate", "E": 1_700_000_000_000 + n, "T": 1_700_000_000_000 + n, "s": "XYZUSDT"}
    data.update(U=10 * n, u=10 * n + 9, pu=10 * n - 1, b=bids, a=asks)
    return _line(1_700_000_000_000_000_000 + n, "xyzusdt@depth@0ms", data)


def test_hand_worked_window_without_snapshot(tmp_path: Path) -> None:
    """Tick 1: the determined levels after each diff are worked out by hand."""
    lines = [
        _diff(1, [["100", "1"]], [["101", "2"]]),  # bid 100 | ask 101 adjacent: both best levels known
        _diff(2, [["99", "0"], ["98", "3"]], [["103", "1"]]),  # 99 known empty: bid 98 is level 2; ask 102 unknown
        _diff(3, [], [["102", "0"]]),  # 102 known empty: ask 103 is level 2
        _diff(4, [["100", "0"]], []),  # the best bid leaves: 98; asks at 99, 100 were below a bid: known empty
        _diff(5, [["104", "5"]], [["101", "0"], ["103", "0"]]),  # no ask left; bids from 101 up (an old ask) known
    ]
    path = tmp_path / "hand.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.warns(UserWarning, match="fully determined in 1 of 5 rows but not at the end"):
        books = read_binance_ws(path, depth=2, tick_size=1.0, lot_size=1.0)["books"]
    assert books["bid_determined"].values.sum(axis=1).tolist() == [1, 2, 2, 1, 2]
    assert books["ask_determined"].values.sum(axis=1).tolist() == [1, 1, 2, 2, 0]
    assert books["bid_price"].values[:, 0].tolist() == [100, 100, 100, 98, 104]
    assert books["bid_price"].values[1].tolist() == [100, 98] and books["bid_qty"].values[1].tolist() == [1, 3]
    assert books["bid_price"].values[4].tolist() == [104, 98] and books["bid_qty"].values[4].tolist() == [5, 3]
    assert books["ask_price"].values[2].tolist() == [101, 103] and books["ask_qty"].values[2].tolist() == [2, 1]
    assert books["ask_price"].values[3].tolist() == [101, 103] and (books["ask_price"].values[4] == NO_PRICE).all()
    assert books.attrs["bid_undetermined_rows"] == [0, 2] and books.attrs["ask_undetermined_rows"] == [1, 3]
    assert books.attrs["fully_determined_rows"] == 1 and books.attrs["fully_determined_from_ns"] == -1
