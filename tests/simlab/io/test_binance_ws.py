"""Binance WebSocket captures: every file ingests, the rebuilt book equals the bookTicker, gaps and corruption raise."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, SimlabError
from simlab.io.binance_ws import check_bbo, read_binance_depth_csv, read_binance_ws
from simlab.schema import NO_PRICE, EventKind, validate_events
from tests.conftest import shared_path
from tests.corruption import corrupt, corruptions

FOLDER = "binance_ws_l2_trades_hftbacktest"
# window -> (files, (depth, bookTicker, trade) messages, tick, lot, check_bbo stats)
WINDOWS = {
    "spot_btc_0808": (["spot/btcusdt_20240808.gz"], (3451, 28040, 9757), 0.01, 1e-6, (564, 27467, 0, 9)),
    "spot_eth_0808": (["spot/ethusdt_20240808.gz"], (3434, 24077, 6106), 0.01, 2e-5, (577, 23496, 3, 1)),
    "usdm_btc_0808": (["usdm/btcusdt_20240808.gz"], (6551, 66089, 21313), 0.1, 1e-3, (629, 65429, 31, 0)),
    "usdm_eth_0808": (["usdm/ethusdt_20240808.gz"], (6586, 53992, 14076), 0.01, 1e-3, (551, 53409, 32, 0)),
    "usdm_btc_0718": (
        ["usdm/btcusdt_20240718.gz", "usdm/btcusdt_20240719.gz"],
        (9022, 52260, 974 + 9727),
        0.1,
        1e-3,
        (625, 51536, 7, 92),
    ),
    "usdm_eth_0718": (
        ["usdm/ethusdt_20240718.gz", "usdm/ethusdt_20240719.gz"],
        (8929, 47328, 1640 + 12015),
        0.01,
        1e-3,
        (834, 46448, 18, 28),
    ),
    "usdm_btc_2023": (
        ["usdm/btcusdt_20230404.dat.gz", "usdm/btcusdt_20230405.dat.gz"],
        (16110, 44205, 2197 + 10738),
        0.1,
        1e-3,
        (1565, 42633, 7, 0),
    ),
}
# files read alone (no snapshot in them): (depth, bookTicker, trade) messages
ALONE = {
    "usdm/btcusdt_20240719.gz": (5696, 45147, 9727),
    "usdm/ethusdt_20240719.gz": (5656, 38239, 12015),
    "usdm/btcusdt_20230405.dat.gz": (11788, 37440, 10738),
    "spot/btcusdt_20230405.dat.gz": (3929, 8015, 3144),
}


@cache
def _window(name: str) -> dict:
    files = [shared_path(f"{FOLDER}/{f}") for f in WINDOWS[name][0]]
    return read_binance_ws(files)


@cache
def _alone(relative: str) -> dict:
    """Read a file of ALONE (no REST snapshot in it) by itself, with the warning that says so."""
    with pytest.warns(UserWarning, match=r"no REST depth snapshot .* undetermined .* pass require_snapshot=True"):
        return read_binance_ws(shared_path(f"{FOLDER}/{relative}"))


def _lines(relative: str) -> list[bytes]:
    return gzip.decompress(shared_path(f"{FOLDER}/{relative}").read_bytes()).split(b"\n")[:-1]


def _write(tmp_path: Path, lines: list[bytes], name: str = "btcusdt_20240718") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _edit(line: bytes, change) -> bytes:
    stamp, _, payload = line.partition(b" ")
    message = json.loads(payload)
    change(message)
    return stamp + b" " + json.dumps(message, separators=(",", ":")).encode()


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_every_window_ingests_with_counts_units_and_conventions(name: str) -> None:
    _, messages, tick, lot, _ = WINDOWS[name]
    result = _window(name)
    events, books, bbo = result["events"], result["books"], result["bbo"]
    attrs = events.attrs
    assert (attrs["messages_depth"], attrs["messages_book_ticker"], attrs["messages_trade"]) == messages
    assert attrs["tick_size"] == pytest.approx(tick) and attrs["lot_size"] == pytest.approx(lot)
    assert attrs["book_rebuilt"] and attrs["venue"] == ("binance-spot" if name.startswith("spot") else "binance-usdm")
    validate_events(events)
    trades = events.where(events["kind"] == EventKind.TRADE, drop=True)
    assert trades.sizes["event"] == messages[2]
    assert np.all(np.diff(np.sort(trades["trade_id"].values)) == 1)  # README: no trade-id gaps in any window
    assert set(np.unique(trades["side"].values)) == {-1, 1}
    assert np.all(np.diff(events["ts_ns"].values) >= 0)
    assert books.sizes == {"time": attrs["diffs_applied"], "level": 20}
    assert attrs["diffs_applied"] + attrs["diffs_dropped_before_snapshot"] == messages[0]
    assert np.all(np.diff(books["last_update_id"].values) > 0)
    assert (books["bid_price"].values[:, 0] < books["ask_price"].values[:, 0]).all()
    assert bbo.sizes["time"] == messages[1] and np.all(np.diff(bbo["update_id"].values) > 0)
    assert (events["kind"] == EventKind.CLEAR).sum() == 1


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_rebuilt_touch_equals_book_ticker_at_every_matching_id(name: str) -> None:
    matched, inside, before, after = WINDOWS[name][4]
    stats = check_bbo(_window(name))
    found = (stats["matched"], stats["inside_diff"], stats["before_book"], stats["after_book"])
    assert found == (matched, inside, before, after)
    assert stats["between_diffs"] == 0 and stats["matched"] > 500


def test_known_first_rows_spot_btc_0808() -> None:
    events = _window("spot_btc_0808")["events"]
    trade = events.isel(event=int(np.argmax(events["trade_id"].values == 3735683259)))
    # {"t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true}
    assert int(trade["kind"]) == EventKind.TRADE and int(trade["side"]) == -1  # buyer is maker: a sell
    assert (int(trade["price_ticks"]), int(trade["qty_lots"]), int(trade["ts_ns"])) == (
        6183763,
        20000,
        1723161255342000000,
    )
    clear = events.isel(event=int(np.argmax(events["kind"].values == EventKind.CLEAR)))
    assert int(clear["last_update_id"]) == 50093239218 == events.attrs["snapshot_last_update_id"]
    books = _window("spot_btc_0808")["books"]
    assert books["first_update_id"].values[0] <= 50093239218 + 1 <= books["last_update_id"].values[0]


@pytest.mark.parametrize("relative", sorted(ALONE))
def test_files_without_snapshot_rebuild_with_determined_levels_and_a_warning(relative: str) -> None:
    result = _alone(relative)
    attrs, books = result["events"].attrs, result["books"]
    assert set(result) == {"events", "bbo", "books"} and attrs["book_rebuilt"] and attrs["rest_snapshots"] == 0
    assert (attrs["messages_depth"], attrs["messages_book_ticker"], attrs["messages_trade"]) == ALONE[relative]
    assert attrs["local_ts_units"] == ["us" if relative.endswith(".dat.gz") else "ns"]
    assert attrs["diffs_applied"] == ALONE[relative][0] and attrs["diffs_dropped_before_snapshot"] == 0
    assert (result["events"]["kind"] != EventKind.CLEAR).all() and result["events"]["applied"].values.any()
    bid, ask = books["bid_determined"].values, books["ask_determined"].values
    assert not (bid[0].all() and ask[0].all())  # one diff does not set 20 levels a side
    for side, mask in (("bid", bid), ("ask", ask)):
        assert (np.diff(mask.astype(int), axis=1) <= 0).all()  # determined levels are the best ones
        assert (books[f"{side}_price"].values[~mask] == NO_PRICE).all() and (
            books[f"{side}_qty"].values[~mask] == 0
        ).all()
        assert (books[f"{side}_qty"].values[mask] > 0).all()
        assert attrs[f"{side}_undetermined_rows"] == [int(n) for n in (~mask).sum(axis=0)]
    full = bid.all(axis=1) & ask.all(axis=1)
    assert attrs["fully_determined_rows"] == int(full.sum())
    if attrs["fully_determined_from_ns"] >= 0:
        start = int(np.argmax(books["ts_ns"].values == attrs["fully_determined_from_ns"]))
        assert full[start:].all() and not full[start - 1]
    else:
        assert not full[-1]


def test_require_snapshot_refuses_a_capture_without_one_unless_no_book_is_rebuilt() -> None:
    path = shared_path(f"{FOLDER}/spot/btcusdt_20230405.dat.gz")
    with pytest.raises(DataError, match="no REST depth snapshot.*require_snapshot=True"):
        read_binance_ws(path, require_snapshot=True)
    plain = read_binance_ws(path, rebuild_book=False, require_snapshot=True)
    assert set(plain) == {"events", "bbo"} and plain["events"].attrs["book_rebuilt"] is False
    assert plain["events"].attrs["messages_trade"] == ALONE["spot/btcusdt_20230405.dat.gz"][2]


@pytest.mark.parametrize("window", ["usdm_btc_0718", "usdm_eth_0718", "usdm_btc_2023"])
def test_second_file_alone_equals_the_snapshot_rebuild_on_every_determined_cell(window: str) -> None:
    """The second file of a window has no snapshot: read alone, its determined cells equal the full rebuild's."""
    full = _window(window)["books"]
    alone = _alone(WINDOWS[window][0][1])["books"]
    at = np.searchsorted(full["last_update_id"].values, alone["last_update_id"].values)
    assert (full["last_update_id"].values[at] == alone["last_update_id"].values).all()
    reference = full.isel(time=at)
    for side in ("bid", "ask"):
        mask = alone[f"{side}_determined"].values
        assert mask.mean() > 0.75 and not mask.all()
        for name in (f"{side}_price", f"{side}_qty"):
            assert np.array_equal(alone[name].values[mask], reference[name].values[mask])
    assert alone.attrs["fully_determined_from_ns"] > 0  # these USD-M books become fully known within the file


def test_spot_capture_started_mid_stream_ingests_and_its_touch_equals_the_book_ticker() -> None:
    with pytest.warns(UserWarning, match="fully determined in 1442 of 3929 rows but not at the end"):
        result = read_binance_ws(shared_path(f"{FOLDER}/spot/btcusdt_20230405.dat.gz"))
    assert result["books"].attrs == _alone("spot/btcusdt_20230405.dat.gz")["books"].attrs
    stats = check_bbo(result)
    # the best bid and ask are determined at all but 1 of the 890 bookTicker ids that end a diff, and equal there
    assert (stats["matched"], stats["undetermined_top"], stats["between_diffs"]) == (889, 1, 0)
    attrs = result["books"].attrs
    assert attrs["fully_determined_from_ns"] == -1 and attrs["bid_undetermined_rows"][0] == 1


def test_spot_window_without_its_snapshot_line_matches_the_snapshot_rebuild(tmp_path: Path) -> None:
    lines = _lines("spot/ethusdt_20240808.gz")
    assert b'"stream"' not in lines[5] and b"lastUpdateId" in lines[5]
    path = _write(tmp_path, lines[:5] + lines[6:], "capture_without_snapshot.txt")
    with pytest.warns(UserWarning, match="no REST depth snapshot"):
        alone = read_binance_ws(path)["books"]
    full = _window("spot_eth_0808")["books"]
    at = np.searchsorted(full["last_update_id"].values, alone["last_update_id"].values)
    inside = at < full.sizes["time"]
    inside[inside] &= full["last_update_id"].values[at[inside]] == alone["last_update_id"].values[inside]
    assert inside.sum() == full.sizes["time"]  # every row of the full rebuild, plus the diffs before its snapshot
    for side in ("bid", "ask"):
        mask = alone[f"{side}_determined"].values[inside]
        assert mask.any()
        for name in (f"{side}_price", f"{side}_qty"):
            mine, theirs = alone[name].values[inside], full[name].values[at[inside]]
            assert np.array_equal(mine[mask], theirs[mask])


def _gap_lines(relative: str, snapshot_line: int, skip: int) -> tuple[list[bytes], dict]:
    lines = _lines(relative)
    depth = [i for i, line in enumerate(lines) if b"@depth" in line[:200] and i > snapshot_line]
    removed = json.loads(lines[depth[skip]].partition(b" ")[2])["data"]
    return lines[: depth[skip]] + lines[depth[skip] + 1 :], removed


@pytest.mark.parametrize(
    ("relative", "snapshot_line", "rule"),
    [("usdm/btcusdt_20240718.gz", 13, "pu == that u"), ("spot/ethusdt_20240808.gz", 5, "U == that u \\+ 1")],
)
def test_a_gap_injected_into_a_real_capture_raises_with_the_ids(
    tmp_path: Path, relative: str, snapshot_line: int, rule: str
) -> None:
    lines, removed = _gap_lines(relative, snapshot_line, 50)
    path = _write(tmp_path, lines)
    with pytest.raises(DataError, match=rf"line \d+: gap in the depth update ids.*{rule}") as info:
        read_binance_ws(path)
    assert f"U={removed['u'] + 1}" in str(info.value) or f"pu={removed['u']}" in str(info.value)


def test_crossed_book_after_an_update_names_the_update_id(tmp_path: Path) -> None:
    lines = _lines("usdm/btcusdt_20240718.gz")[:60]
    k = next(i for i, line in enumerate(lines) if i > 13 and b"@depth" in line[:200])
    lines[k] = _edit(lines[k], lambda m: m["data"]["b"].append(["99999.00", "1.000"]))
    u = json.loads(lines[k].partition(b" ")[2])["data"]["u"]
    with pytest.raises(DataError, match=rf"crossed .* after update id u={u}"):
        read_binance_ws(_write(tmp_path, lines))


def test_snapshot_that_the_diffs_do_not_reach_raises(tmp_path: Path) -> None:
    lines = _lines("usdm/btcusdt_20240718.gz")[:60]
    lines[13] = _edit(lines[13], lambda m: m.update(lastUpdateId=m["lastUpdateId"] - 10**9))
    with pytest.raises(DataError, match="do not chain onto the snapshot"):
        read_binance_ws(_write(tmp_path, lines))


def test_bad_lines_are_rejected_with_file_and_line(tmp_path: Path) -> None:
    base = _lines("usdm/btcusdt_20240718.gz")[:40]
    trade = next(i for i, line in enumerate(base) if b"@trade" in line)
    cases = {
        "not json": (2, lambda line: line[:50], r"line 3: expected '<local_ts> <json>'"),
        "price text": (trade, lambda ln: _edit(ln, lambda m: m["data"].update(p="abc")), "field 'p' must be"),
        "negative qty": (trade, lambda ln: _edit(ln, lambda m: m["data"].update(q="-1.0")), "field 'q' must be"),
        "id as text": (trade, lambda ln: _edit(ln, lambda m: m["data"].update(t="x")), "field 't' must be an int"),
        "no stamp": (4, lambda line: line.partition(b" ")[2], "line 5: expected a local timestamp"),
        "maker text": (trade, lambda ln: _edit(ln, lambda m: m["data"].update(m="yes")), "'m' must be true or"),
    }
    for label, (index, change, message) in cases.items():
        lines = list(base)
        lines[index] = change(lines[index])
        with pytest.raises(DataError, match=message):
            read_binance_ws(_write(tmp_path, lines, label.replace(" ", "_")))


def test_truncated_gzip_and_unsorted_local_time(tmp_path: Path) -> None:
    raw = shared_path(f"{FOLDER}/usdm/btcusdt_20240718.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_binance_ws(tmp_path / "cut.gz")
    lines = _lines("usdm/btcusdt_20240718.gz")[:40]
    lines[20], lines[21] = lines[21], lines[20]
    path = _write(tmp_path, lines)
    if lines[20].partition(b" ")[0] != lines[21].partition(b" ")[0]:
        with pytest.raises(DataError, match="line 22: the local timestamp .* pass sort=True"):
            read_binance_ws(path)
    result = read_binance_ws(path, sort=True)
    assert result["events"].attrs["sorted_lines"] in (0, 2)


def test_depth_csv_fixture_updates_do_not_chain_onto_snapshot() -> None:
    folder = "crypto_format_fixtures_nautilus"
    snap, update = shared_path(f"{folder}/btcusdt-depth-snap.csv"), shared_path(f"{folder}/btcusdt-depth-update.csv")
    # snapshot lastUpdateId 2098021528332 (23:49:39); the update is U=2098041693435, pu=2098041693400, 620.8 s later
    with pytest.raises(DataError, match=r"do not chain onto the snapshot .*\+620\.793 s.*pu=2098041693400"):
        read_binance_depth_csv(snap, update)
    events = read_binance_depth_csv(snap, update, rebuild_book=False)["events"]
    assert events.sizes["event"] == 201 and int(events["kind"][0]) == EventKind.CLEAR
    assert events.attrs["tick_size"] == pytest.approx(0.1) and events.attrs["lot_size"] == pytest.approx(1e-3)
    assert (events["side"].values[1:101] == 1).all() and not events["applied"].values.any()


def test_depth_csv_rebuild_when_the_snapshot_chains(tmp_path: Path) -> None:
    folder = "crypto_format_fixtures_nautilus"
    text = shared_path(f"{folder}/btcusdt-depth-snap.csv").read_text()
    (tmp_path / "snap.csv").write_text(text.replace("2098021528332,2098021528332", "2098041693400,2098041693400"))
    result = read_binance_depth_csv(tmp_path / "snap.csv", shared_path(f"{folder}/btcusdt-depth-update.csv"), depth=5)
    books = result["books"]
    assert books.sizes == {"time": 1, "level": 5} and int(books["last_update_id"][0]) == 2098041696700
    assert result["events"]["applied"].values.all()
    assert int(books["bid_price"][0, 0]) > 0 and int(books["bid_qty"][0, 0]) > 0


SMALL: list[bytes] = []


def _small() -> bytes:
    if not SMALL:
        SMALL.append(b"\n".join(_lines("usdm/btcusdt_20240718.gz")[:30]) + b"\n")
    return SMALL[0]


@pytest.mark.filterwarnings("ignore:.*no REST depth snapshot")
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruption=corruptions, mask=st.sampled_from([0x20, 0xFF]))
def test_corrupted_capture_parses_or_raises_data_error(
    tmp_path: Path, corruption: tuple[str, float, bytes], mask: int
) -> None:
    path = tmp_path / "btcusdt_20240718"
    path.write_bytes(corrupt(_small(), *corruption, mask=mask))  # 0x20 swaps a key's case ("b" / "B") or a digit
    try:
        result = read_binance_ws(path)
    except SimlabError:
        return
    validate_events(result["events"])
