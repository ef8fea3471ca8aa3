"""LEAN/AlgoSeek equity ticks: every real file, the NBBO kernels against slow twins, Lee-Ready, bad input."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, ParameterError, SimlabError
from simlab.io._nbbo import carry_kernel, nbbo_kernel
from simlab.io.lean import read_lean_equity
from simlab.schema import NO_PRICE, EventKind
from tests.conftest import shared_path
from tests.corruption import corrupt, corruptions

FOLDER = "equity_ticks_lean_algoseek_2013-10"
DAYS = ("20131007", "20131008", "20131009", "20131010", "20131011")
BAC_TRADES = dict(zip(DAYS, (88172, 125872, 122832, 124567, 112177), strict=True))
BAC_QUOTES = dict(zip(DAYS, (476855, 576096, 644880, 571780, 481536), strict=True))
SPY_TRADES = dict(zip(DAYS, (250601, 451545, 439677, 460032, 285605), strict=True))


@pytest.fixture(scope="module")
def real():
    """Read every file once: BAC trades + quotes and SPY trades for the five days."""
    folder = shared_path(FOLDER)
    out = {}
    for day in DAYS:
        out["bac", day] = read_lean_equity(folder / f"bac/{day}_trade.zip", folder / f"bac/{day}_quote.zip")
        out["spy", day] = read_lean_equity(folder / f"spy/{day}_trade.zip")
    return out


@pytest.mark.parametrize("day", DAYS)
def test_bac_day_reads_with_the_readme_counts(real, day):
    result = real["bac", day]
    events, books, quotes = result["events"], result["books"], result["quotes"]
    assert events.sizes["event"] == BAC_TRADES[day] and 88_000 <= BAC_TRADES[day] <= 126_000
    assert books.sizes["time"] == quotes.sizes["quote"] == BAC_QUOTES[day]
    assert events.attrs["instrument"] == "BAC" and events.attrs["tick_size"] == 1e-4
    assert events.attrs["date"] == f"{day[:4]}-{day[4:6]}-{day[6:]}" and events.attrs["time_zone"] == "America/New_York"
    assert (events["kind"] == EventKind.TRADE).all() and (np.diff(events["ts_ns"].values) >= 0).all()
    assert events.attrs["side_method"].startswith("Lee-Ready")
    # the session is 04:00-20:00 New York = 08:00-24:00 UTC in October (EDT)
    hours = (events["ts_ns"].values // 3_600_000_000_000) % 24
    assert hours.min() >= 8 and books.attrs["quote_layout"] == "nbbo"
    # the rows are halves of the national best quote: they alternate, and that reading is almost never crossed
    assert books.attrs["bid_ask_rows_alternate"] > 0.999
    assert books.attrs["nbbo_crossed_rows"] < 200 < 0.9 * BAC_QUOTES[day] < books.attrs["if_per_exchange_crossed_rows"]
    assert events.attrs["side_undecided"] == (events["side"] == 0).sum()


@pytest.mark.parametrize("day", DAYS)
def test_bac_trades_are_signed_against_the_nbbo(real, day):
    events, books = real["bac", day]["events"], real["bac", day]["books"]
    ts, price, side = events["ts_ns"].values, events["price_ticks"].values, events["side"].values
    index = np.searchsorted(books["ts_ns"].values, ts, side="right") - 1
    ok = index >= 0
    bid = books["bid_price"].values[index[ok], 0]
    ask = books["ask_price"].values[index[ok], 0]
    valid = (bid != NO_PRICE) & (ask != NO_PRICE) & (bid < ask)
    above, below = valid & (2 * price[ok] > bid + ask), valid & (2 * price[ok] < bid + ask)
    assert above.sum() > 10_000 and below.sum() > 10_000
    assert (side[ok][above] == 1).all() and (side[ok][below] == -1).all()


@pytest.mark.parametrize("day", DAYS)
def test_spy_day_is_signed_by_the_tick_rule(real, day):
    events = real["spy", day]["events"]
    assert set(real["spy", day]) == {"events"}
    assert events.sizes["event"] == SPY_TRADES[day] and 250_000 <= SPY_TRADES[day] <= 461_000
    assert events.attrs["side_method"].startswith("tick rule") and events.attrs["instrument"] == "SPY"
    assert events.attrs["side_undecided"] < 10 and events.attrs["price_grid_usd"] == pytest.approx(0.01)
    assert int(events["suspicious"].sum()) == (10 if day == "20131010" else 0)


def test_first_bac_trade_and_quote_are_decoded(real):
    events, books = real["bac", "20131007"]["events"], real["bac", "20131007"]["books"]
    first = events.isel(event=0)
    expected = int(datetime(2013, 10, 7, 8, 0, tzinfo=UTC).timestamp()) * 10**9 + 614 * 10**6
    assert int(first["ts_ns"]) == expected  # 14400614 ms = 04:00:00.614 EDT
    assert int(first["price_ticks"]) == 139400 and int(first["qty_lots"]) == 500
    assert chr(int(first["exchange"])) == "P" and int(first["sale_condition"]) == 0x20002020
    # first quote row: 14400151,0,0,140200,500,Q (an ask only)
    assert int(books["ask_price"][0, 0]) == 140200 and int(books["ask_qty"][0, 0]) == 500
    assert int(books["bid_qty"][0, 0]) == 0 and int(books["bid_price"][0, 0]) == NO_PRICE


# ---------------------------------------------------------------- the NBBO kernels against slow twins


def slow_per_exchange(exchange, rows):
    state, out = {}, []
    for e, (bp, bs, ap, a_s), use in zip(exchange, rows, [True] * len(rows), strict=True):
        quote = state.setdefault(e, [0, 0, 0, 0])
        if use and (bp or bs):
            quote[0:2] = [bp, bs]
        if use and (ap or a_s):
            quote[2:4] = [ap, a_s]
        bids = [(q[0], q[1]) for q in state.values() if q[1] > 0]
        asks = [(q[2], q[3]) for q in state.values() if q[3] > 0]
        best_bid = max((p for p, _ in bids), default=None)
        best_ask = min((p for p, _ in asks), default=None)
        out.append(
            (
                NO_PRICE if best_bid is None else best_bid,
                sum(s for p, s in bids if p == best_bid),
                NO_PRICE if best_ask is None else best_ask,
                sum(s for p, s in asks if p == best_ask),
            )
        )
    return out


def random_stream(seed, n=400, n_exchanges=5):
    rng = np.random.default_rng(seed)
    exchange = rng.integers(0, n_exchanges, n)
    is_bid = rng.random(n) < 0.5
    price = rng.integers(100, 110, n)
    size = np.where(rng.random(n) < 0.15, 0, rng.integers(1, 5, n) * 100)  # some withdrawals
    rows = np.zeros((n, 4), dtype=np.int64)
    rows[is_bid, 0], rows[is_bid, 1] = price[is_bid], size[is_bid]
    rows[~is_bid, 2], rows[~is_bid, 3] = price[~is_bid] + 3, size[~is_bid]
    return exchange, rows


@pytest.mark.parametrize("seed", range(8))
def test_per_exchange_nbbo_kernel_matches_the_twin(seed):
    exchange, rows = random_stream(seed)
    got = nbbo_kernel(exchange.astype(np.int64), 5, *rows.T.copy(), np.ones(len(rows), dtype=np.bool_))
    assert np.column_stack(got).tolist() == [list(r) for r in slow_per_exchange(exchange.tolist(), rows.tolist())]


@pytest.mark.parametrize("seed", range(8))
def test_carry_kernel_matches_the_twin(seed):
    _, rows = random_stream(seed)
    use = np.random.default_rng(seed).random(len(rows)) < 0.9
    bid, bid_qty, ask, ask_qty, out = NO_PRICE, 0, NO_PRICE, 0, []
    for (bp, bs, ap, a_s), u in zip(rows.tolist(), use.tolist(), strict=True):
        if u and (bp or bs):
            bid, bid_qty = (bp, bs) if bs > 0 else (NO_PRICE, 0)
        if u and (ap or a_s):
            ask, ask_qty = (ap, a_s) if a_s > 0 else (NO_PRICE, 0)
        out.append([bid, bid_qty, ask, ask_qty])
    assert np.column_stack(carry_kernel(*rows.T.copy(), use)).tolist() == out


# ---------------------------------------------------------------- small synthetic files


def write_zip(path, text):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.stem + ".csv", text)
    return path


QUOTES = """34200000,100000,500,0,0,N,1,0
34200000,0,0,100200,300,Q,1,0
34260000,100100,200,0,0,P,1,0
34260000,0,0,100200,300,Q,1,0
"""
TRADES = """34230000,100200,100,D,1,0
34230001,100000,100,N,20,0
34230002,100100,100,N,1,0
34290000,100150,100,P,80000000,1
34290001,100150,100,P,A0,0
"""


@pytest.fixture
def small(tmp_path):
    folder = tmp_path / "xyz"
    folder.mkdir()
    return write_zip(folder / "20240102_trade.zip", TRADES), write_zip(folder / "20240102_quote.zip", QUOTES)


def test_lee_ready_on_a_small_day(small):
    result = read_lean_equity(*small)
    events = result["events"]
    # at the ask: buy; at the bid: sell; at the mid (10.01 of 10.00/10.02): tick rule, an uptick -> buy;
    # 10.015 at the mid of 10.01/10.02: uptick -> buy; the same price again: zero tick keeps the last sign
    assert events["side"].values.tolist() == [1, -1, 1, 1, 1]
    assert events.attrs["instrument"] == "XYZ" and events.attrs["suspicious_trades"] == 1
    assert events["suspicious"].values.tolist() == [False, False, False, True, False]
    assert events["sale_condition"].values.tolist() == [1, 0x20, 1, 0x80000000, 0xA0]
    books = result["books"]
    assert books["bid_price"].values[:, 0].tolist() == [100000, 100000, 100100, 100100]
    assert books["ask_qty"].values[:, 0].tolist() == [0, 300, 300, 300]
    # 09:30 New York on 2024-01-02 (EST) is 14:30 UTC
    assert int(events["ts_ns"][0]) == int(datetime(2024, 1, 2, 14, 30, 30, tzinfo=UTC).timestamp()) * 10**9


def test_per_exchange_layout_sums_sizes_at_the_best_price(tmp_path):
    quotes = "1000,100,200,0,0,N,1,0\n1001,100,300,0,0,P,1,0\n1002,0,0,105,100,N,1,0\n1003,99,100,0,0,N,1,0\n"
    path = write_zip(tmp_path / "20240102_quote.zip", quotes)
    books = read_lean_equity(quote_path=path, ticker="x", quote_layout="per_exchange")["books"]
    assert books["bid_price"].values[:, 0].tolist() == [100, 100, 100, 100]
    assert books["bid_qty"].values[:, 0].tolist() == [200, 500, 500, 300]
    assert books.attrs["quote_layout"] == "per_exchange"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("34300000,-100200,100,D,1,0", "price must be > 0"),
        ("34300000,100200,0,D,1,0", "size must be > 0"),
        ("34300000,100200,100,d,1,0", "exchange letter"),
        ("34300000,100200,100,D,XYZ,0", "hexadecimal"),
        ("34300000,100200,100,D,1", "expected 6 fields"),
        ("34300000,abc,100,D,1,0", "expected an integer"),
        ("90000000,100200,100,D,1,0", "86400000"),
        ("34300000,100200,100,D,1,2", "true or false"),
    ],
)
def test_bad_trade_rows_are_rejected_with_their_line(tmp_path, line, message):
    path = write_zip(tmp_path / "20240102_trade.zip", TRADES + line + "\n")
    with pytest.raises(DataError, match=message) as info:
        read_lean_equity(path, ticker="X")
    assert "line 6" in str(info.value) and "20240102_trade" in str(info.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("34300000,0,100,0,0,N,1,0", "needs a bid price"),
        ("34300000,-5,0,0,0,N,1,0", "must be >= 0"),
        ("34300000,100,100,0,0,N,ZZ,0", "hexadecimal"),
    ],
)
def test_bad_quote_rows_are_rejected(tmp_path, line, message):
    path = write_zip(tmp_path / "20240102_quote.zip", QUOTES + line + "\n")
    with pytest.raises(DataError, match=message):
        read_lean_equity(quote_path=path, ticker="X")


def test_decreasing_time_needs_sort(tmp_path):
    path = write_zip(tmp_path / "20240102_trade.zip", TRADES + "34000000,100200,100,D,1,0\n")
    with pytest.raises(DataError, match="line 6.*pass sort=True"):
        read_lean_equity(path, ticker="X")
    events = read_lean_equity(path, ticker="X", sort=True)["events"]
    assert events.attrs["sorted"] is True and int(events["price_ticks"][0]) == 100200


def test_corrupt_zip_and_bad_arguments(tmp_path, small):
    truncated = tmp_path / "20240102_trade.zip"
    truncated.write_bytes(small[0].read_bytes()[:-30])
    with pytest.raises(DataError, match="zip"):
        read_lean_equity(truncated, ticker="X")
    with pytest.raises(ParameterError, match="neither"):
        read_lean_equity()
    with pytest.raises(ParameterError, match="same day"):
        read_lean_equity(small[0], tmp_path / "20240103_quote.zip")
    with pytest.raises(ParameterError, match="quote_layout"):
        read_lean_equity(small[0], quote_layout="x")
    with pytest.raises(ParameterError, match="date"):
        read_lean_equity(small[0], date="2024-13-45")


# ---------------------------------------------------------------- corrupted real files


@pytest.fixture(scope="module")
def real_heads():
    folder = shared_path(FOLDER)
    out = {}
    for kind in ("trade", "quote"):
        with zipfile.ZipFile(folder / f"bac/20131008_{kind}.zip") as archive:
            text = archive.read(archive.namelist()[0])
        out[kind] = b"".join(text.splitlines(keepends=True)[:300])
    return out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["trade", "quote"]), corruption=corruptions)
def test_corrupted_real_files_parse_or_raise_data_error(tmp_path, real_heads, kind, corruption):
    path = tmp_path / f"20131008_{kind}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"20131008_bac_{kind}.csv", corrupt(real_heads[kind], *corruption))
    try:
        result = read_lean_equity(**{f"{kind}_path": path}, ticker="BAC")
    except SimlabError:
        return
    assert set(result) <= {"events", "books", "quotes"} and result
