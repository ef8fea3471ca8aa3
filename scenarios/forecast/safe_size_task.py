"""Forecast the safe order size T seconds ahead in the agent-based market, where its ground truth is known.

At an origin ``t`` of market ``k`` (its baseline run, no order), the label is the *realised* safe size of a market
order arriving at ``t + lead_s``: on the size grid, how many sizes come before the first whose paired impact
(:func:`scenarios.forecast.safe_size.order_impact`, read ``horizon_s`` after the arrival) exceeds ``bound_ticks``
(0: not even the smallest size is safe; ``len(grid)``: all are). Sizes are tried smallest first and the search stops
at the first unsafe one, which is the label's definition. The inputs read the baseline's book at the origin only
(rows at or before ``t``): the book-walk safe size (the same count, from the immediate mid move of walking each
size through that book), the spread, the ask depth at the touch and within 10 and 50 ticks (log lots), the touch
imbalance, the absolute mid move over the last minute and the time of day.

Markets are independent, so the walk-forward is a split by market: the first ``train_markets`` train, the others
test. Forecasters: ``persistence`` (the book-walk safe size at the origin: the answer a trader gets today),
``least_squares`` (on the standardised inputs) and ``prior`` (the training mean); scores in grid steps (MSE with a
Newey-West standard error, MAE) and Diebold-Mariano tests against persistence. ``walk_at_arrival`` (the book walk of
the book the order meets, not a forecast) shows how much of the error is the agents' reaction rather than the
lead. ``python -m scenarios.forecast.safe_size_task OUT.json`` measures the impact curves and the task on the
``abm-amzn`` preset (see ``docs/deep_forecasting.md``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.metrics import diebold_mariano, hac_variance
from scenarios.forecast.safe_size import GRID, ImpactSetup, order_impact, safe_index, walk_impact
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE
from simlab.store import write_text_atomic

FEATURES = ("walk_safe", "spread_ticks", "log_ask_l1", "log_ask_10", "log_ask_50", "imbalance", "abs_move_60s",
            "time_of_day")  # fmt: skip


def realised_safe(setup: ImpactSetup, baseline: dict[str, xr.Dataset], seed: int, market: int, at_s: float,
                  bound_ticks: float, horizon_s: float, grid: tuple[int, ...] = GRID) -> int:  # fmt: skip
    """Return the realised safe-size count of an order sent at ``at_s`` (module docstring), sizes tried smallest
    first up to the first unsafe one."""
    h = list(setup.horizons_s).index(horizon_s)
    for j, size in enumerate(grid):
        impact = order_impact(setup, baseline, seed, market, size, at_s)["impact_ticks"][h]
        if not impact <= bound_ticks:
            return j
    return len(grid)


def book_row(books: xr.Dataset, t_ns: int) -> int:
    """Return the last book row at or before ``t_ns``."""
    row = int(np.searchsorted(books["ts_ns"].values, t_ns, side="right")) - 1
    if row < 0:
        raise ParameterError(f"no book row at or before {t_ns} ns")
    return row


def walk_safe(books: xr.Dataset, row: int, bound_ticks: float, side: int, grid: tuple[int, ...] = GRID) -> int:
    """Return the book-walk safe-size count of the book at ``row`` (immediate mid moves, :func:`walk_impact`)."""
    name = "ask" if side > 0 else "bid"
    prices, sizes = books[f"{name}_price"].values[row], books[f"{name}_qty"].values[row]
    return safe_index(np.array([walk_impact(prices, sizes, q, side) for q in grid]), bound_ticks)


def origin_features(books: xr.Dataset, t_ns: int, open_ns: int, duration_s: float, bound_ticks: float,
                    side: int, grid: tuple[int, ...] = GRID) -> np.ndarray:  # fmt: skip
    """Return the inputs (:data:`FEATURES`) read from the book at or before ``t_ns`` (and the mid a minute
    earlier)."""
    row = book_row(books, t_ns)
    bid, ask = books["bid_price"].values[row], books["ask_price"].values[row]
    bid_q, ask_q = books["bid_qty"].values[row], books["ask_qty"].values[row]
    far, near = (ask, ask_q) if side > 0 else (bid, bid_q)
    held = np.where(far != NO_PRICE, near, 0)
    gap = np.abs(far - far[0])
    two = bid[0] != NO_PRICE and ask[0] != NO_PRICE
    mid = 0.5 * (bid[0] + ask[0]) if two else np.nan
    before = book_row(books, max(t_ns - 60 * 10**9, int(books["ts_ns"].values[0])))
    b0, a0 = books["bid_price"].values[before, 0], books["ask_price"].values[before, 0]
    move = abs(mid - 0.5 * (b0 + a0)) if two and b0 != NO_PRICE and a0 != NO_PRICE else 0.0
    total = bid_q[0] + ask_q[0]
    return np.array([
        walk_safe(books, row, bound_ticks, side, grid), float(ask[0] - bid[0]) if two else 0.0, np.log1p(held[0]),
        np.log1p(held[gap <= 10].sum()), np.log1p(held[gap <= 50].sum()),
        (bid_q[0] - ask_q[0]) / total if two and total > 0 else 0.0, move, (t_ns - open_ns) / 1e9 / duration_s,
    ])  # fmt: skip


def task_rows(setup: ImpactSetup, *, seed: int, markets: int, origins_s: np.ndarray, lead_s: float,
              bound_ticks: float, horizon_s: float, grid: tuple[int, ...] = GRID) -> xr.Dataset:  # fmt: skip
    """Return the task's inputs, labels and the book walk at arrival over ``(market, origin)``."""
    open_ns = setup.config.open_ns
    x = np.zeros((markets, len(origins_s), len(FEATURES)))
    y, at_arrival = np.zeros(x.shape[:2], np.int64), np.zeros(x.shape[:2], np.int64)
    for k in range(markets):
        base = setup.run(seed, k)
        books = base["books"]
        for i, t in enumerate(origins_s):
            x[k, i] = origin_features(books, open_ns + int(t * 1e9), open_ns, setup.duration_s, bound_ticks,
                                      setup.side, grid)  # fmt: skip
            y[k, i] = realised_safe(setup, base, seed, k, t + lead_s, bound_ticks, horizon_s, grid)
            arrive = book_row(books, open_ns + int((t + lead_s) * 1e9))
            at_arrival[k, i] = walk_safe(books, arrive, bound_ticks, setup.side, grid)
    return xr.Dataset(
        {"inputs": (("market", "origin", "feature"), x), "label": (("market", "origin"), y),
         "walk_at_arrival": (("market", "origin"), at_arrival)},
        coords={"origin_s": ("origin", np.asarray(origins_s, float)), "feature": list(FEATURES)},
        attrs={"seed": seed, "lead_s": lead_s, "bound_ticks": bound_ticks, "horizon_s": horizon_s,
               "grid": list(grid), "market_name": setup.config.name},
    )  # fmt: skip


def score_task(rows: xr.Dataset, train_markets: int) -> dict[str, Any]:
    """Fit on the first ``train_markets`` markets, score every forecaster on the others (module docstring)."""
    n = rows.sizes["market"]
    if not 0 < train_markets < n:
        raise ParameterError(f"`train_markets` must be in (0, {n}); got {train_markets}")
    x, y = rows["inputs"].values, rows["label"].values.astype(float)
    x_train, y_train = x[:train_markets].reshape(-1, x.shape[2]), y[:train_markets].ravel()
    x_test, y_test = x[train_markets:].reshape(-1, x.shape[2]), y[train_markets:].ravel()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    design = np.column_stack([np.ones(len(y_train)), (x_train - mean) / std])
    coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
    forecasts = {
        "persistence": x_test[:, 0],
        "least_squares": np.column_stack([np.ones(len(y_test)), (x_test - mean) / std]) @ coef,
        "prior": np.full(len(y_test), y_train.mean()),
        "walk_at_arrival": rows["walk_at_arrival"].values[train_markets:].ravel().astype(float),
    }
    counts = np.bincount(y_test.astype(int), minlength=len(rows.attrs["grid"]) + 1).tolist()
    out: dict[str, Any] = {"test_origins": int(y_test.size), "train_origins": int(y_train.size), "label_counts": counts,
                           "coefficients": dict(zip(("intercept", *FEATURES), coef.tolist(), strict=True))}  # fmt: skip
    base_error = y_test - forecasts["persistence"]
    for name, pred in forecasts.items():
        error = y_test - pred
        row = {"mse": float(np.mean(error**2)), "mse_se": float(np.sqrt(hac_variance(error**2) / error.size)),
               "mae": float(np.mean(np.abs(error)))}  # fmt: skip
        if name != "persistence":
            dm = diebold_mariano(error, base_error)
            row.update(dm_vs_persistence=dm["dm"], dm_p_vs_persistence=dm["p_value"])
        out[name] = row
    return out


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, default=float))


def main(argv: list[str] | None = None) -> int:
    """Measure the impact curves at two origins and the forecast task on ``abm-amzn``; write ``OUT.json``."""
    from calibration.abm import load_abm_preset
    from scenarios.forecast.safe_size import impact_curve, safe_size_summary
    from simlab.provenance import provenance

    args = sys.argv[1:] if argv is None else argv
    out, curve_markets, task_markets = Path(args[0]), *(int(a) for a in (args[1:3] or (20, 24)))
    seed, bound, horizon = 16, 5.0, 10.0
    config, _ = load_abm_preset(Path(__file__).parents[2] / "calibration" / "presets" / "abm-amzn.toml")
    setup = ImpactSetup(config, duration_s=1800.0)
    curves = {}
    for at_s in (600.0, 1200.0):
        curve = impact_curve(setup, at_s, seed=seed, markets=curve_markets)
        curves[str(at_s)] = {f"h{h:g}": safe_size_summary(curve, bound, h, rng=seed) for h in setup.horizons_s}
        slip, walked = curve["slippage_ticks"].values, curve["walk_slippage_ticks"].values
        curves[str(at_s)]["slippage_equals_walk"] = bool(np.allclose(slip, walked, equal_nan=True))
        curves[str(at_s)]["raw"] = {name: curve[name].values.tolist() for name in curve.data_vars}
    rows = task_rows(setup, seed=seed + 1, markets=task_markets, origins_s=np.arange(300.0, 1600.0, 200.0),
                     lead_s=60.0, bound_ticks=bound, horizon_s=horizon)  # fmt: skip
    payload = {"curves": curves, "task": score_task(rows, task_markets // 2), "attrs": dict(rows.attrs)}
    config_doc = {"preset": "abm-amzn", "duration_s": setup.duration_s, "horizons_s": list(setup.horizons_s),
                  "curve_markets": curve_markets, "task_markets": task_markets}  # fmt: skip
    payload["provenance"] = provenance(seed=seed, config=config_doc)
    _write_json(out, payload)
    print(json.dumps(payload["task"], indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
