"""LOBSTER export: round trips through read_lobster (simulated ZI day, real AAPL level-10 fixture), L2 records
expanded into order messages (queue-reactive book), the text kernel against Python formatting, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simlab.book import QRParams, ZIParams, simulate_qr, simulate_zi
from simlab.book.export import _format_rows, export_lobster
from simlab.errors import DataError, ParameterError
from simlab.io.lobster import compare_books, read_lobster, replay_lobster
from simlab.schema import EventKind
from tests.conftest import shared_path

START_NS = 1_340_285_400_000_000_000  # 2012-06-21 09:30 New York
EVENT_FIELDS = ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id")
BOOK_FIELDS = ("bid_price", "bid_qty", "ask_price", "ask_qty")
AAPL10 = "lobster_samples/AAPL_2012-06-21_level10_first1000"


def _zi(duration_s: float = 120.0, depth: int = 5) -> dict:
    params = ZIParams(0.05, 0.14, 0.2, order_size=96, band_ticks=40, start_price_ticks=22318, instrument="AMZN")
    return simulate_zi(params, duration_s, rng=3, depth=depth, start_ns=START_NS)


def _assert_same(back: dict, original: dict, fields=EVENT_FIELDS) -> None:
    for name in fields:
        np.testing.assert_array_equal(back["events"][name].values, original["events"][name].values, err_msg=name)
    for name in BOOK_FIELDS:
        np.testing.assert_array_equal(back["books"][name].values, original["books"][name].values, err_msg=name)


def test_simulated_zi_day_round_trips(tmp_path):
    day = _zi()
    message, orderbook = export_lobster(day["events"], day["books"], tmp_path)
    assert message.name.startswith("AMZN_2012-06-21_34200000_") and message.name.endswith("_message_5.csv")
    assert orderbook.name == message.name.replace("message", "orderbook")
    back = read_lobster(message, orderbook)
    _assert_same(back, day)
    first = message.read_text().splitlines()[0].split(",")
    assert first[0] == "34200.000000000" and first[1] == "1" and int(first[4]) % 100 == 0  # cents x 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([message.name, orderbook.name])  # no temporaries


def test_real_aapl_level10_fixture_round_trips_exactly(tmp_path):
    files = sorted(shared_path(AAPL10).glob("*.csv"))
    data = read_lobster(*files)
    message, orderbook = export_lobster(data["events"], data["books"], tmp_path)
    assert message.name == "AAPL_2012-06-21_34200000_57600000_message_10.csv"
    back = read_lobster(message, orderbook)
    _assert_same(back, data, EVENT_FIELDS + ("direction", "lobster_type", "lobster_price"))
    original = np.loadtxt(files[1], delimiter=",", dtype=np.int64)
    np.testing.assert_array_equal(np.loadtxt(orderbook, delimiter=",", dtype=np.int64), original)
    raw = np.loadtxt(files[0], delimiter=",")
    np.testing.assert_allclose(np.loadtxt(message, delimiter=","), raw, rtol=0, atol=1e-9)


def _qr_run(levels: int, theta: float, seconds: float):
    rates = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    params = QRParams.symmetric(rates, np.r_[0, rates[1:] * 0 + 0.6], np.r_[0, rates[1:] * 0 + 0.5], levels=levels,
                                size_lots=10, theta=theta, spread_probabilities=[0.5, 0.5])  # fmt: skip
    return simulate_qr(params, seconds, rng=5, start_ns=START_NS)


@pytest.mark.parametrize("levels", [1, 2])
def test_queue_reactive_price_moves_export_as_order_messages_without_an_empty_side(tmp_path, levels):
    out = _qr_run(levels, 1.0, 300.0)  # theta 1: an emptied first queue always moves the price
    kinds = out["events"]["kind"].values
    assert (kinds == EventKind.CLEAR).sum() > 5
    message, orderbook = export_lobster(out["events"], out["books"], tmp_path, ticker="QRTEST")
    back = read_lobster(message, orderbook)
    assert set(np.unique(back["events"]["lobster_type"].values)) <= {1, 2, 3, 4}
    # real LOBSTER rows always quote both sides: a price move never shows an empty side (issue 12, defect a)
    assert (back["books"]["ask_qty"].values[:, 0] > 0).all() and (back["books"]["bid_qty"].values[:, 0] > 0).all()
    replayed = replay_lobster(back["events"], back["books"], reveal=True, levels=levels)
    assert compare_books(replayed, back["books"])["mismatched_cells"] == 0
    # every order event is written, in order, with its time, price and size (a slow greedy match)
    plain = np.flatnonzero(~np.isin(kinds, (EventKind.CLEAR, EventKind.SET_LEVEL)))[1:]  # after the opening
    ev, bk = back["events"], back["books"]
    written = list(
        zip(*(ev[name].values.tolist() for name in ("ts_ns", "price_ticks", "qty_lots", "kind")), strict=True)
    )
    position, found = 0, []
    for row in plain.tolist():
        want = tuple(int(out["events"][name].values[row]) for name in ("ts_ns", "price_ticks", "qty_lots", "kind"))
        while written[position] != want:
            position += 1
        found.append(position)
        position += 1
    assert len(found) == plain.size
    # after each record group the book is the simulated one: the last message at each time shows it
    ts = ev["ts_ns"].values
    last = np.flatnonzero(np.r_[ts[1:] != ts[:-1], True])
    source = np.searchsorted(out["events"]["ts_ns"].values, ts[last], side="right") - 1
    for name in BOOK_FIELDS:
        np.testing.assert_array_equal(bk[name].values[last], out["books"][name].values[source][:, : bk.sizes["level"]])


def test_text_kernel_matches_python_formatting():
    rng = np.random.default_rng(0)
    seconds = rng.integers(0, 86_400 * 10**9, 200)
    fields = rng.integers(-(10**12), 10**12, (200, 5)) // rng.integers(1, 10**9, (200, 1))
    text = _format_rows(seconds, fields, True).tobytes().decode()
    expected = "".join(
        f"{s // 10**9}.{s % 10**9:09d}," + ",".join(str(v) for v in row) + "\n"
        for s, row in zip(seconds.tolist(), fields.tolist(), strict=True)
    )
    assert text == expected
    assert _format_rows(seconds[:3], fields[:3], False).tobytes().decode() == "".join(
        ",".join(str(v) for v in row) + "\n" for row in fields[:3].tolist()
    )


def test_bad_input_is_refused_with_its_row(tmp_path):
    day = _zi(20.0, 2)
    events, books = day["events"], day["books"]
    with pytest.raises(DataError, match="one row per event"):
        export_lobster(events, books.isel(time=slice(1, None)), tmp_path)
    kinds = events["kind"].values.copy()
    kinds[7] = EventKind.MODIFY
    with pytest.raises(DataError, match="event 7 has kind MODIFY, which has no LOBSTER message type"):
        export_lobster(events.assign(kind=("event", kinds)), books, tmp_path)
    with pytest.raises(DataError, match=r"event 0 at ts_ns .* is not on the trading day 2012-06-22"):
        export_lobster(events, books, tmp_path, date="2012-06-22")
    with pytest.raises(ParameterError, match="tick_size"):
        export_lobster(events.assign_attrs(tick_size=0.00001), books, tmp_path)
    shifted = books.assign_coords(ts_ns=("time", books["ts_ns"].values + 1))
    with pytest.raises(DataError, match="book row 0 must follow event 0"):
        export_lobster(events, shifted, tmp_path)
    with pytest.raises(ParameterError, match="levels"):
        export_lobster(events, books, tmp_path, levels=0)
    assert list(tmp_path.iterdir()) == []


def test_levels_pad_or_cut_the_book(tmp_path):
    day = _zi(20.0, 2)
    message, orderbook = export_lobster(day["events"], day["books"], Path(tmp_path), levels=4)
    back = read_lobster(message, orderbook)
    assert back["books"].sizes["level"] == 4 and (back["books"]["bid_qty"].values[:, 2:] == 0).all()
    np.testing.assert_array_equal(back["books"]["ask_qty"].values[:, :2], day["books"]["ask_qty"].values)
