"""Calibrate the crypto-perpetual agent market to a Binance USD-M capture (L2 rebuilt from the diffs + trades).

A Binance capture is a few minutes long, its book is a stream of level updates (no order ids: adds and cancels are
not told apart) and its stamps are in ms, so the moments differ from the LOBSTER ones of :mod:`calibration.abm`:

* books are sampled on a regular grid (``GRID_S``, the last book at or before each point) in both the real and the
  simulated window, so a stream updated per diff message and one updated per event weigh time alike;
* spread law: mean spread (ticks) and the share of the time at one tick; L1 depth: mean log of the two sides' mean
  L1 quantity (lots);
* inter-arrival law of trades on the ms clock (simulated stamps floored to the ms as Binance's): mean and standard
  deviation of log10 positive gaps, share of zero gaps (fills of one aggressor in the same ms);
* returns at ``RETURN_S`` (5 s, the shortest horizon with more than one tick move on average and at least 90
  returns in an 8-minute window): excess kurtosis and the lag-1 ACF of their absolute values;
* lag-1 ACF of trade signs, and the buy share of trades: the event-type mix a level-update stream allows (its adds
  and cancels cannot be told apart).

The real spread is one tick at every grid point of the BTCUSDT windows, so its bootstrap variance is 0; a floor
(:data:`CRYPTO_MOMENTS` ``variance_floor``: 0.05 ticks and 2 % for the one-tick share) keeps it in the objective.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.abm import MomentSet, _acf1, _last_valid
from simlab.errors import DataError
from simlab.schema import EventKind
from simlab.store import write_text_atomic

GRID_S = 0.1
RETURN_S = 5.0
CRYPTO_NAMES = (
    "spread_mean_ticks",
    "spread_one_tick_share",
    "log_depth_l1",
    "log10_trade_gap_mean",
    "log10_trade_gap_std",
    "zero_trade_gap_share",
    "return_kurtosis_5s",
    "acf_abs_return_5s",
    "acf_trade_sign",
    "buy_share",
)
WS = "binance_ws_l2_trades_hftbacktest/usdm"
FIT_FILES = ("btcusdt_20240718.gz", "btcusdt_20240719.gz")  # 2024-07-18 23:57 - 2024-07-19 00:05 UTC
HELD_OUT_FILES = ("btcusdt_20240808.gz",)  # 2024-08-08 23:54 - 2024-08-09 00:00 UTC


def crypto_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """Cut a window (``events`` with its trades, ``books``) into blocks of ``block_s`` seconds of raw arrays: the
    spreads and log L1 depths on the book grid, the ms trade gaps, the trade signs and the returns at ``RETURN_S``.
    """
    events, books = data["events"], data["books"]
    trade = np.isin(events["kind"].values, (EventKind.TRADE, EventKind.TRADE_HIDDEN))
    tts, sign = events["ts_ns"].values[trade] // 1_000_000, events["side"].values[trade].astype(float)
    bts = books["ts_ns"].values
    if tts.size < 2 or bts.size < 2:
        raise DataError(f"crypto_blocks: the window holds {tts.size} trades and {bts.size} book records; need >= 2")
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    bq, aq = books["bid_qty"].values[:, 0], books["ask_qty"].values[:, 0]
    quoted = (bq > 0) & (aq > 0)
    grid = np.arange(bts[0], bts[-1], int(GRID_S * 1e9))
    at = np.searchsorted(bts, grid, side="right") - 1
    ok = quoted[at]
    spread = np.where(ok, (ask - bid)[at], np.nan).astype(float)
    depth = np.where(ok, np.log(np.maximum(0.5 * (bq + aq)[at], 0.5)), np.nan)
    mid = _last_valid(bts, np.where(quoted, 0.5 * (bid + ask), np.nan), grid)
    step, per = int(block_s * 1e9), int(round(RETURN_S / GRID_S))
    blocks = []
    for start in np.arange(grid[0], grid[-1] + 1, step)[: max(1, int((grid[-1] - grid[0]) // step))]:
        g = slice(*np.searchsorted(grid, [start, start + step]))
        t = slice(*np.searchsorted(tts, [start // 1_000_000, (start + step) // 1_000_000]))
        gaps = np.diff(tts[t]) / 1e3
        m = mid[g][::per]
        blocks.append({
            "spread": spread[g][~np.isnan(spread[g])], "log_depth": depth[g][~np.isnan(depth[g])],
            "log_gap": np.log10(gaps[gaps > 0]), "zero_gaps": np.array([np.sum(gaps == 0), gaps.size]),
            "r": np.diff(np.log(m[~np.isnan(m)])), "sign": sign[t],
        })  # fmt: skip
    return blocks


def crypto_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector (:data:`CRYPTO_NAMES`) of a list of blocks (:func:`crypto_blocks`)."""
    cat = {k: np.concatenate([b[k] for b in blocks]) for k in ("spread", "log_depth", "log_gap", "r", "sign")}
    nan = float("nan")
    r = cat["r"] - cat["r"].mean() if cat["r"].size else cat["r"]
    var = np.mean(r**2) if r.size else 0.0
    zeros = np.sum([b["zero_gaps"] for b in blocks], axis=0)
    spread, gap = cat["spread"], cat["log_gap"]
    return np.array([
        spread.mean() if spread.size else nan, np.mean(spread == 1) if spread.size else nan,
        cat["log_depth"].mean() if cat["log_depth"].size else nan,
        gap.mean() if gap.size else nan, gap.std() if gap.size else nan, zeros[0] / max(zeros[1], 1),
        float(np.mean(r**4) / var**2 - 3.0) if var > 0 else nan,
        _acf1([np.abs(b["r"]) for b in blocks]), _acf1([b["sign"] for b in blocks]),
        np.mean(cat["sign"] > 0) if cat["sign"].size else nan,
    ])  # fmt: skip


_FLOORS = {"spread_mean_ticks": 0.05**2, "spread_one_tick_share": 0.02**2}
CRYPTO_MOMENTS = MomentSet(
    CRYPTO_NAMES, crypto_blocks, crypto_moments, tuple(_FLOORS.get(n, 0.0) for n in CRYPTO_NAMES)
)


def read_capture(data_dir: str | Path, files: tuple[str, ...] = FIT_FILES) -> dict[str, xr.Dataset]:
    """Read one continuous USD-M capture (REST snapshot + diffs + trades, :func:`simlab.io.read_binance_ws`) into
    its trades and rebuilt 1-level books, from the first book to the last."""
    from simlab.io.binance_ws import read_binance_ws

    data = read_binance_ws([Path(data_dir) / WS / f for f in files], depth=1, require_snapshot=True)
    events = data["events"]
    trades = events.isel(event=np.flatnonzero(events["kind"].values == EventKind.TRADE))
    books = data["books"][["bid_price", "bid_qty", "ask_price", "ask_qty"]]
    ts = books["ts_ns"].values
    keep = (trades["ts_ns"].values >= ts[0]) & (trades["ts_ns"].values <= ts[-1])
    return {"events": trades.isel(event=np.flatnonzero(keep)), "books": books}


def window_seconds(data: dict[str, xr.Dataset]) -> float:
    """The span of a capture's books (s)."""
    ts = data["books"]["ts_ns"].values
    return float(ts[-1] - ts[0]) / 1e9


def describe(data: dict[str, Any]) -> dict[str, Any]:
    """Where a capture starts and how long it is (for a preset's source table)."""
    ts = data["books"]["ts_ns"].values
    return {"start": str(np.datetime64(int(ts[0]), "ns")) + "Z", "duration_s": window_seconds(data),
            "trades": int(data["events"].sizes["event"]), "book_records": int(ts.size)}  # fmt: skip


PARAMETERS = (
    "fundamental.volatility_ticks_per_sqrt_s",
    "value.arrival_rate_per_s",
    "value.aggressive_share",
    "market_maker.pov",
    "market_maker.wake_interval_s",
)
START = {"fundamental.volatility_ticks_per_sqrt_s": 15.0, "value.arrival_rate_per_s": 0.08,
         "value.aggressive_share": 0.3, "market_maker.pov": 0.02, "market_maker.wake_interval_s": 5.0,
         "market_maker.volume_window_s": 60.0}  # fmt: skip


def background(config_path: str | Path, data: dict[str, xr.Dataset]) -> Any:
    """The crypto-perpetual config's background population (no stop-loss ladder, no leveraged traders: the fitted
    window had no liquidation) on the capture's instrument and price level, at the fit's start values."""
    from dataclasses import replace

    from calibration.abm import load_abm_preset, market_for, with_parameters
    from simlab.agents import LeveragedTraders, StopLossAgents

    config, _ = load_abm_preset(config_path)
    config = replace(config, name="abm-btcusdt-perp", stop_loss=StopLossAgents(count=0),
                     leveraged=LeveragedTraders(count=0))  # fmt: skip
    return with_parameters(market_for(config, data), START)


def fit_crypto(data_dir: str | Path, config_path: str | Path, *, seed: int = 0, **settings: Any) -> Any:
    """Fit :data:`PARAMETERS` of the background to the :data:`FIT_FILES` capture by simulated moments with common
    random numbers (:class:`calibration.abm.AgentMarketEstimator` with :data:`CRYPTO_MOMENTS`, blocks of 30 s, a
    600 s warm-up); return the fitted estimator and the capture."""
    from calibration.abm import AgentMarketEstimator

    data = read_capture(data_dir, FIT_FILES)
    options = dict(warmup_s=600.0, window_s=window_seconds(data), block_s=30.0, n_paths=4, n_lhs=24, maxfev=100)
    options.update(settings)
    est = AgentMarketEstimator(background(config_path, data), parameters=PARAMETERS, seed=seed,
                               moments=CRYPTO_MOMENTS, **options)  # fmt: skip
    return est.fit(data), data


def scoring_view(data: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Trades on the ms clock with, for each, the last book at or before it: the one view a Binance capture (trades
    + level updates) and a simulated market (orders, cancels, trades) share for the realism scorecard."""
    events, books = data["events"], data["books"]
    trade = np.flatnonzero(np.isin(events["kind"].values, (EventKind.TRADE, EventKind.TRADE_HIDDEN)))
    trades = events[["ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id", "agent_id"]].isel(event=trade)
    trades = trades.assign(ts_ns=("event", trades["ts_ns"].values // 1_000_000 * 1_000_000))
    at = np.searchsorted(books["ts_ns"].values, events["ts_ns"].values[trade], side="right") - 1
    keep = np.flatnonzero(at >= 0)
    view = books[["bid_price", "bid_qty", "ask_price", "ask_qty"]].isel(time=at[keep])
    view = view.assign_coords(ts_ns=("time", trades["ts_ns"].values[keep]))
    return {"events": trades.isel(event=keep), "books": view}


def score_crypto_preset(path: str | Path, data_dir: str | Path, *, seed: int | None = None) -> dict[str, Any]:
    """Score the fitted crypto preset on the realism scorecard, on the fitted capture (``calibration``) and on
    another day's capture (``held_out``, :data:`HELD_OUT_FILES`): for each, one simulated market on the capture's
    price level and clock (the fit's warm-up before it), trades merged per aggressor and ms in both."""
    from dataclasses import replace

    from calibration.abm import cut_window, load_abm_preset, market_for
    from calibration.score_presets import N_BOOT, SEED, _numbers
    from simlab.agents import simulate_abm
    from simlab.metrics.scorecard import score

    seed = SEED if seed is None else seed
    config, calibration = load_abm_preset(path)
    warmup = float(calibration["settings"]["warmup_s"])
    document: dict[str, Any] = {"preset": Path(path).stem, "seed": seed, "n_boot": N_BOOT}
    for label, files in (("calibration", FIT_FILES), ("held_out", HELD_OUT_FILES)):
        real = read_capture(data_dir, files)
        start, span = int(real["events"]["ts_ns"].values[0]), window_seconds(real)
        market = replace(market_for(config, real), open_ns=start - int(warmup * 1e9))
        sim = cut_window(simulate_abm(market, seed=seed, duration_s=warmup + span), start, start + int(span * 1e9))
        card = score(scoring_view(sim), scoring_view(real), seed=seed, n_boot=N_BOOT, aggregate_trades=True)
        document[label] = {"files": [f"{WS}/{f}" for f in files], **describe(real), **_numbers(card)}
    return document


VARIANT = "scenarios/library/abm_crypto_perp_btcusdt.toml"
VARIANT_HEADER = """\
# The crypto perpetual-futures market of abm_crypto_perp.toml with its background population (noise, value,
# market makers, momentum) fitted to Binance USD-M BTCUSDT (the 8-minute capture of 2024-07-18 23:57 UTC) by
# simulated moments: calibration/presets/abm-btcusdt-perp.toml (fitted values, standard errors, moments, scores;
# docs/agents.md). Its clock and price level are the capture's (about 64,000 USDT, tick 0.1 USDT, lot 0.001 BTC);
# the stress agents are abm_crypto_perp.toml's, unchanged: 400 leveraged traders (half long, half short, 50x, 0.5 %
# maintenance margin) opening over the first 20 minutes, a ladder of 50 sell stops, an insurance fund, no circuit
# breaker. The fit held no stress agent (the captured window had no liquidation). Regenerate with
# `python -m calibration.abm_crypto variant` after a refit.
"""


def calibrated_variant(preset: str | Path, base: str | Path) -> Any:
    """The ``base`` crypto config's session and stress agents (stops, leveraged traders, circuit breaker) on the
    fitted background of ``preset``."""
    from dataclasses import replace

    from calibration.abm import load_abm_preset

    fitted, _ = load_abm_preset(preset)
    perp, _ = load_abm_preset(base)
    return replace(fitted, name="abm-crypto-perp-btcusdt", session_s=perp.session_s, stop_loss=perp.stop_loss,
                   leveraged=perp.leveraged, circuit_breaker=perp.circuit_breaker)  # fmt: skip


def main(argv: list[str]) -> None:
    """``fit DATA_DIR OUT.toml``: fit and write the preset; ``score PRESET DATA_DIR``: write its ``.scores.json``;
    ``variant``: write :data:`VARIANT` from the preset and ``abm_crypto_perp.toml``."""
    import json

    from calibration.abm import preset_document, write_preset

    if argv[:1] == ["fit"]:
        est, data = fit_crypto(argv[1], "scenarios/library/abm_crypto_perp.toml")
        source = {"data": f"{WS}/{'+'.join(FIT_FILES)}", "moments": "calibration.abm_crypto.CRYPTO_MOMENTS",
                  **describe(data)}  # fmt: skip
        print(write_preset(preset_document(est, source=source), argv[2]))
    elif argv[:1] == ["score"]:
        preset = Path(argv[1])
        out = preset.with_name(preset.stem + ".scores.json")
        write_text_atomic(out, json.dumps(score_crypto_preset(preset, argv[2]), indent=1, default=float) + "\n")
        print(out)
    elif argv[:1] == ["variant"]:
        from calibration.presets import dumps_toml

        config = calibrated_variant(
            "calibration/presets/abm-btcusdt-perp.toml", "scenarios/library/abm_crypto_perp.toml"
        )
        write_text_atomic(VARIANT, VARIANT_HEADER + dumps_toml(config.to_dict()))
        print(VARIANT)
    else:
        raise SystemExit(
            "usage: python -m calibration.abm_crypto fit DATA_DIR OUT.toml | score PRESET DATA_DIR | variant"
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
