"""COIN-M futures captures: recognised by their symbols, venue binance-coinm, quantities in contracts.

The fixtures are built here in Binance's documented COIN-M WebSocket layout (combined stream
``{"stream": "<symbol>@<kind>", "data": {...}}``, symbols ``btcusd_perp`` / ``ethusd_240628`` in the stream names and
``BTCUSD_PERP`` in ``s``). What they rely on, as documented: the diff-depth payload ``{"e": "depthUpdate", "E", "T",
"s", "ps", "U", "u", "pu", "b", "a"}`` (``pu`` chains the diffs, as in USD-M); the bookTicker payload ``{"e":
"bookTicker", "u", "s", "ps", "b", "B", "a", "A", "T", "E"}``; the REST depth snapshot of ``GET /dapi/v1/depth``,
``{"lastUpdateId", "symbol", "pair", "E", "T", "bids", "asks"}``; and trades laid out as in USD-M (``e``, ``E``,
``T``, ``s``, ``t``, ``p``, ``q``, ``X``, ``m``). Apart from the symbol form, COIN-M differs from USD-M only in
what ``q`` (and every level or bookTicker quantity) counts: whole contracts, of 100 USD for BTC and 10 USD for the
other bases. Prices and quantities are decimal strings, as in every Binance stream. No real COIN-M capture is in
../shared/data, so these fixtures are synthetic in content, real in layout only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from simlab.io import detect_format, read
from simlab.io.binance_ws import check_bbo, read_binance_ws
from simlab.schema import EventKind, validate_events
from simlab.store import load_store

MS = 1_700_000_000_000


def _line(local_ns: int, payload: dict) -> bytes:
    return f"{local_ns} ".encode() + json.dumps(payload, separators=(",", ":")).encode()


def _capture(symbol: str, *, seed: int, diffs: int = 300, trades: int = 0, snapshot: bool = True) -> bytes:
    """A COIN-M window: REST snapshot, then per step one chained depth diff, its bookTicker and maybe a trade."""
    rng = np.random.default_rng(seed)
    pair, stream = symbol.split("_")[0], symbol.lower()
    bids = {600000 - k: int(rng.integers(1, 500)) for k in range(1, 30)}  # prices in 0.1 ticks; mid fixed
    asks = {600000 + k: int(rng.integers(1, 500)) for k in range(30)}
    lines, u, trade_id, local = [], 5_000_000, 900_000, (MS - 500) * 1_000_000
    rest = {"lastUpdateId": u, "symbol": symbol, "pair": pair, "E": MS - 400, "T": MS - 401}
    rest.update(bids=[[f"{p / 10:.1f}", str(q)] for p, q in sorted(bids.items(), reverse=True)])
    rest["asks"] = [[f"{p / 10:.1f}", str(q)] for p, q in sorted(asks.items())]
    if snapshot:
        lines.append(_line(local, rest))
    step_trade = max(diffs // trades, 1) if trades else 0
    for step in range(diffs):
        ms, local = MS + 100 * step, (MS + 100 * step + 3) * 1_000_000
        changes = {"b": [], "a": []}
        for _ in range(int(rng.integers(1, 4))):
            side, book = ("b", bids) if rng.random() < 0.5 else ("a", asks)
            price = (600000 - int(rng.integers(1, 40))) if side == "b" else (600000 + int(rng.integers(0, 40)))
            qty = 0 if rng.random() < 0.3 else int(rng.integers(1, 500))
            book[price] = qty
            changes[side].append([f"{price / 10:.1f}", str(qty)])
        previous, u = u, u + int(rng.integers(1, 5))  # futures diffs chain by pu == the previous diff's u
        depth = {"e": "depthUpdate", "E": ms, "T": ms - 1, "s": symbol, "ps": pair, "U": previous + 1, "u": u}
        depth.update(pu=previous, b=changes["b"], a=changes["a"])
        lines.append(_line(local, {"stream": f"{stream}@depth@0ms", "data": depth}))
        best_bid = max(p for p, q in bids.items() if q > 0)
        best_ask = min(p for p, q in asks.items() if q > 0)
        ticker = {"e": "bookTicker", "u": u, "s": symbol, "ps": pair, "b": f"{best_bid / 10:.1f}"}
        ticker.update(B=str(bids[best_bid]), a=f"{best_ask / 10:.1f}", A=str(asks[best_ask]), T=ms - 1, E=ms)
        lines.append(_line(local + 1000, {"stream": f"{stream}@bookTicker", "data": ticker}))
        if step_trade and step % step_trade == 0:
            trade_id += 1
            sell = bool(rng.random() < 0.5)
            price = best_bid if sell else best_ask
            trade = {"e": "trade", "E": ms + 1, "T": ms, "s": symbol, "t": trade_id, "p": f"{price / 10:.1f}"}
            trade.update(q=str(int(rng.integers(1, 50))), X="MARKET", m=sell)
            lines.append(_line(local + 2000, {"stream": f"{stream}@trade", "data": trade}))
    return b"\n".join(lines) + b"\n"


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("symbol", "multiplier"), [("BTCUSD_PERP", 100), ("ETHUSD_PERP", 10), ("BTCUSD_240628", 100)])
def test_coinm_capture_is_coinm_with_contracts_and_their_usd_multiplier(
    tmp_path: Path, symbol: str, multiplier: int
) -> None:
    path = _write(tmp_path, "capture.txt", _capture(symbol, seed=1, trades=60))
    assert detect_format([path]) == "binance-ws"
    result = read(path)
    events, books = result["events"], result["books"]
    attrs = events.attrs
    assert (attrs["venue"], attrs["market"], attrs["instrument"]) == ("binance-coinm", "coinm", symbol)
    assert attrs["qty_unit"] == "contracts" and attrs["contract_multiplier_usd"] == multiplier
    assert (
        attrs["contract_base"] == symbol[:3] and attrs["lot_size"] == 1.0 and attrs["tick_size"] == pytest.approx(0.1)
    )
    assert books.attrs["venue"] == result["bbo"].attrs["venue"] == "binance-coinm"
    validate_events(events)
    trades = events.where(events["kind"] == EventKind.TRADE, drop=True)
    assert trades.sizes["event"] == 60 and (trades["qty_lots"].values >= 1).all()  # whole contracts, lot 1
    assert books["bid_determined"].values.all() and books["ask_determined"].values.all()  # the snapshot fixes it
    stats = check_bbo(result)
    assert stats["matched"] == stats["bbo_messages"] == 300  # every bookTicker id ends a diff: touch equal


def test_usdm_and_spot_symbols_stay_themselves(tmp_path: Path) -> None:
    """A USD-M symbol (BTCUSDT, with pu) is not COIN-M: quantities in the base asset."""
    content = _capture("BTCUSD_PERP", seed=2).replace(b"BTCUSD_PERP", b"BTCUSDT").replace(b"btcusd_perp", b"btcusdt")
    attrs = read(_write(tmp_path, "usdm.txt", content))["events"].attrs
    assert (attrs["venue"], attrs["market"], attrs["qty_unit"]) == ("binance-usdm", "usdm", "base asset")
    assert "contract_multiplier_usd" not in attrs


def test_coinm_capture_without_snapshot_under_any_name_through_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, "coinm-started-late.log", _capture("BTCUSD_PERP", seed=3, diffs=2000, trades=600,
                                                                snapshot=False))  # fmt: skip
    with pytest.warns(UserWarning, match="no REST depth snapshot"):
        books = read_binance_ws(path)["books"]
    assert not books["bid_determined"].values[0].all() and books["bid_determined"].values[-1].all()
    assert books.attrs["fully_determined_from_ns"] > 0  # 79 prices near a fixed mid: all set within the window
    store = tmp_path / "coinm.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(app, ["ingest", str(path), "-o", str(store)])
        assert result.exit_code == 0, result.output
        assert load_store(store, "events").attrs["venue"] == "binance-coinm"
        assert load_store(store, "books").attrs["contract_multiplier_usd"] == 100
        preset = tmp_path / "coinm.toml"
        result = CliRunner().invoke(app, ["calibrate", "hawkes", str(path), "-o", str(preset)])
        assert result.exit_code == 0, result.output
    text = preset.read_text()
    assert 'venue = "binance-coinm"' in text and 'instrument = "BTCUSD_PERP"' in text
